from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from huanxin import views
from huanxin.api import _open_to_anonymous, api
from huanxin.core import audit_views, health, prom
from huanxin.core.identity_views import verify_page
from huanxin.core.token_views import token_list

admin.site.site_header = "焕新 · 后台管理"
admin.site.site_title = "焕新后台"
admin.site.index_title = "基础数据与方案"

api_urls, app_name, namespace = api.urls
handler500 = "huanxin.core.middleware.server_error"  # a lost database connection outside a view: 503, not 500
handler400 = "huanxin.errors.bad_request"  # the 400 page in the frame: Django's own renders it without the request

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("huanxin.plans.urls")),
    path("", include("huanxin.monitoring.urls")),
    path("", include("huanxin.supervision.urls")),
    path("", include("huanxin.recycling.urls")),
    path("", include("huanxin.projects.urls")),
    path("", include("huanxin.subsidies.urls")),
    path("", include("huanxin.jobs.urls")),
    path("", include("huanxin.notices.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/tokens/", token_list, name="tokens"),
    path("accounts/identity/", verify_page, name="identity"),
    path("audit/", audit_views.audit_log, name="audit"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", prom.metrics, name="metrics"),
    path("api/v1/", (_open_to_anonymous(api_urls), app_name, namespace)),
]
