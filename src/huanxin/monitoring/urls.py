from django.urls import path

from huanxin.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/report/", views.report_sheet, name="report"),
    path("monitoring/review/", views.review, name="review"),
    path("monitoring/review/approve/", views.review_bulk, name="review_bulk"),
    path("monitoring/review/<int:pk>/", views.review_action, name="review_action"),
    path("monitoring/values/<int:pk>/", views.value_detail, name="value"),
]
