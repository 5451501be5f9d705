from django.urls import path

from huanxin.supervision import views

app_name = "supervision"

urlpatterns = [
    path("supervision/", views.my_duties, name="mine"),
    path("supervision/notices/", views.notice_list, name="notices"),
    path("supervision/notices/new/", views.notice_new, name="notice_new"),
    path("supervision/notices/<int:pk>/", views.notice_detail, name="notice"),
    path("supervision/measures/<slug:plan>/<str:slug>/", views.measure_page, name="measure"),
    path("supervision/measures/<slug:plan>/<str:slug>/report/", views.report_save, name="report"),
    path("supervision/measures/<slug:plan>/<str:slug>/milestones/", views.milestone_action, name="milestone"),
]
