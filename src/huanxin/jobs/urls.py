from django.urls import path

from huanxin.jobs import views

app_name = "jobs"

urlpatterns = [
    path("jobs/", views.job_list, name="list"),
    path("jobs/checks/", views.checks, name="checks"),
    path("jobs/<int:pk>/", views.detail, name="detail"),
    path("jobs/<int:pk>/result/", views.result, name="result"),
]
