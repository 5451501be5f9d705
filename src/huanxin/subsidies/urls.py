from django.urls import path

from huanxin.subsidies import evidence, settlement_views, views

app_name = "subsidies"

urlpatterns = [
    path("subsidies/", views.home, name="home"),
    path("subsidies/status/", views.status, name="status"),
    path("subsidies/batch/", views.batch, name="batch"),
    path("subsidies/batch/template.xlsx", views.batch_template, name="batch_template"),
    path("subsidies/apply/<slug:code>/", views.apply, name="apply"),
    path("subsidies/review/", views.review_queue, name="review"),
    path("subsidies/payments/", views.payments, name="payments"),
    path("subsidies/payments/<str:number>/", views.payment_batch, name="batch_detail"),
    path("subsidies/merchant-account/", settlement_views.merchant_account, name="merchant_account"),
    path("subsidies/settlement/", settlement_views.settlement_home, name="settlement"),
    path(
        "subsidies/settlement/<int:organisation_id>/", settlement_views.settlement_merchant, name="settlement_merchant"
    ),
    path("subsidies/applications/<str:number>/", views.application_detail, name="application"),
    path("subsidies/applications/<str:number>/evidence/", evidence.evidence_upload, name="evidence_upload"),
    path("subsidies/evidence/<int:pk>/", evidence.evidence_file, name="evidence"),
    path("subsidies/applications/<str:number>/<str:action>/", views.application_action, name="application_action"),
    path("subsidies/programmes/<slug:code>/", views.programme_detail, name="programme"),
    path("subsidies/programmes/<slug:code>/<str:action>/", views.programme_action, name="programme_action"),
]
