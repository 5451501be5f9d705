from django.urls import path

from huanxin.projects import views

app_name = "projects"

urlpatterns = [
    path("projects/", views.project_list, name="list"),
    path("projects/new/", views.project_form, name="new"),
    path("projects/financing/", views.financing, name="financing"),
    path("projects/enterprises/", views.enterprise_list, name="enterprises"),
    path("projects/enterprises/import/", views.enterprise_import, name="enterprise_import"),
    path("projects/enterprises/template.xlsx", views.enterprise_template, name="enterprise_template"),
    path("projects/enterprises/<int:pk>/", views.enterprise_detail, name="enterprise"),
    path("projects/<str:code>/", views.project_detail, name="detail"),
    path("projects/<str:code>/edit/", views.project_form, name="edit"),
    path("projects/<str:code>/<str:action>/", views.project_action, name="action"),
]
