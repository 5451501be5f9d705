from django.urls import path

from huanxin.recycling import invoice_views, print_views, views

app_name = "recycling"

urlpatterns = [
    path("recycling/", views.home, name="home"),
    # the public side: a citizen finds a site, anyone checks a certificate
    path("recycling/sites/", views.site_list, name="sites"),
    path("recycling/sites/<int:pk>/", views.site_detail, name="site"),
    path("recycling/verify/", views.verify, name="verify"),
    # sites and coverage
    path("recycling/sites/new/", views.site_form, name="site_new"),
    path("recycling/sites/<int:pk>/edit/", views.site_form, name="site_edit"),
    path("recycling/sites/<int:pk>/slots/", views.site_slots, name="site_slots"),
    path("recycling/coverage/", views.coverage, name="coverage"),
    # pickup bookings
    path("recycling/book/", views.book, name="book"),
    path("recycling/book/slots/", views.book_slots, name="book_slots"),
    path("recycling/bookings/", views.booking_list, name="bookings"),
    path("recycling/bookings/<str:number>/", views.booking_detail, name="booking"),
    path("recycling/bookings/<str:number>/<str:action>/", views.booking_action, name="booking_action"),
    # collection records
    path("recycling/records/", views.record_list, name="records"),
    path("recycling/records/new/", views.record_form, name="record_new"),
    path("recycling/records/upload/", views.record_upload, name="record_upload"),
    path("recycling/records/template.xlsx", views.record_template, name="record_template"),
    # certificates
    path("recycling/certificates/", views.certificate_list, name="certificates"),
    path("recycling/certificates/new/<str:kind>/", views.certificate_form, name="certificate_new"),
    path("recycling/certificates/<str:number>/", views.certificate_detail, name="certificate"),
    path("recycling/certificates/<str:number>/print/", print_views.certificate_print, name="certificate_print"),
    path("recycling/certificates/<str:number>/revoke/", views.certificate_revoke, name="certificate_revoke"),
    # reverse invoices (反向开票)
    path("recycling/invoices/", invoice_views.invoice_list, name="invoices"),
    path("recycling/invoices/new/", invoice_views.invoice_form, name="invoice_new"),
    path("recycling/invoices/export.xlsx", invoice_views.invoice_export, name="invoice_export"),
]
