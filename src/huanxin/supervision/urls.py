from django.urls import path

from huanxin.supervision import views

app_name = "supervision"

urlpatterns = [
    path("supervision/", views.home, name="mine"),
    path("supervision/departments/<slug:code>/", views.department_page, name="department"),
    path("supervision/notices/", views.notice_list, name="notices"),
    path("supervision/notices/new/", views.notice_new, name="notice_new"),
    path("supervision/notices/<int:pk>/", views.notice_detail, name="notice"),
    path("supervision/measure/<slug:plan>/<str:slug>/", views.measure_page, name="measure"),
    path("supervision/measure/<slug:plan>/<str:slug>/report/", views.report_save, name="report"),
    path("supervision/measure/<slug:plan>/<str:slug>/milestones/", views.milestone_add, name="milestone_add"),
    path("supervision/milestones/<int:pk>/done/", views.milestone_done, name="milestone_done"),
    path("supervision/milestones/<int:pk>/cancel/", views.milestone_cancel, name="milestone_cancel"),
]
