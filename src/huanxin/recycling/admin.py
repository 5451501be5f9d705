from django.contrib import admin

from huanxin.core.admin import AuditedAdminMixin, ReadOnlyAdmin
from huanxin.recycling.models import Certificate, Site, TaxRule, Township

# Recycling rows are written by the services (each step audited); the back office reads them. The tax rule is the
# one thing an administrator changes here — a new rule is a new row with its own date — and that edit is audited.


@admin.register(TaxRule)
class TaxRuleAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "effective_from", "rolling_cap_fen", "vat_free_monthly_fen", "vat_rate_bp", "iit_rate_bp"]
    audited_fields = (
        "name",
        "effective_from",
        "rolling_cap_fen",
        "vat_free_monthly_fen",
        "vat_rate_bp",
        "iit_rate_bp",
        "source",
    )

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # invoices point at the rule they were taxed under


@admin.register(Site)
class SiteAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "region", "organisation", "status", "offers_pickup", "is_sorting_point"]
    list_filter = ["kind", "status", "region"]
    search_fields = ["name", "address"]


@admin.register(Township)
class TownshipAdmin(ReadOnlyAdmin):
    list_display = ["name", "region"]
    list_filter = ["region"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "category", "vin", "serial", "site", "issued_on", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["number", "vin", "serial"]
    exclude = ["owner_name", "owner_id", "owner_id_hash", "plate", "verify_code"]
