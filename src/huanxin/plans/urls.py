from django.urls import path

from huanxin.plans import import_forms, views

app_name = "plans"

urlpatterns = [
    path("plans/", views.plan_list, name="list"),
    path("plans/imports/", views.import_list, name="imports"),
    path("plans/imports/new/", views.import_upload, name="import_upload"),
    path("plans/imports/<int:pk>/", views.import_detail, name="import_detail"),
    path("plans/imports/<int:pk>/draft/", views.import_save, name="import_save"),
    path("plans/imports/<int:pk>/publish/", views.import_publish, name="import_publish"),
    path("plans/imports/<int:pk>/header/", import_forms.import_header, name="import_header"),
    path("plans/imports/<int:pk>/items/<str:path>/", import_forms.import_item, name="import_item"),
    path("plans/<slug:code>/", views.plan_detail, name="detail"),
    path("plans/<slug:code>/indicators/", views.indicator_list, name="indicators"),
    path("plans/<slug:code>/measures/<str:slug>/", views.measure_detail, name="measure"),
    path("plans/<slug:code>/measures/<str:slug>/actions/", views.measure_action_create, name="action_create"),
    path("actions/<int:pk>/submit/", views.measure_action_submit, name="action_submit"),
    path("departments/", views.department_list, name="departments"),
    path("departments/<slug:code>/", views.department_detail, name="department"),
    path("me/tasks/", views.my_tasks, name="my_tasks"),
    path("search/", views.search, name="search"),
]
