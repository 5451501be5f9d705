from django.urls import path

from huanxin.monitoring import dashboard, ledger_views, reports, setup, views

app_name = "monitoring"

urlpatterns = [
    path("monitoring/", dashboard.dashboard, name="dashboard"),
    path("monitoring/report.xlsx", reports.report_xlsx, name="report_xlsx"),
    path("monitoring/report.docx", reports.report_docx, name="report_docx"),
    path("monitoring/indicators/<slug:plan>/<slug:code>/", dashboard.indicator_detail, name="indicator"),
    path("monitoring/report/", views.report_sheet, name="report"),
    path("monitoring/report/template.xlsx", views.report_template, name="report_template"),
    path("monitoring/report/upload/", views.report_upload, name="report_upload"),
    path("monitoring/review/", views.review, name="review"),
    path("monitoring/review/approve/", views.review_bulk, name="review_bulk"),
    path("monitoring/review/<int:pk>/", views.review_action, name="review_action"),
    path("monitoring/values/<int:pk>/", views.value_detail, name="value"),
    path("monitoring/evidence/<int:pk>/", views.evidence_download, name="evidence"),
    path("monitoring/setup/<slug:plan>/", setup.setup_page, name="setup"),
]

urlpatterns += [
    path("monitoring/ledgers/", ledger_views.kind_list, name="ledgers"),
    path("monitoring/ledgers/<slug:plan>/<slug:code>/", ledger_views.kind_detail, name="ledger"),
    path("monitoring/ledgers/<slug:plan>/<slug:code>/record/", ledger_views.record, name="ledger_record"),
    path("monitoring/ledger-entries/<int:pk>/void/", ledger_views.void, name="ledger_void"),
]
