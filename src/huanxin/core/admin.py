from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from huanxin.core import audit, identity
from huanxin.core.models import AuditEvent, Department, DepartmentAlias, Organisation, Region, User
from huanxin.core.roles import is_auditor


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that are loaded from files or written by services only: the back office reads them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Region)
class RegionAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "code_source", "parent"]
    list_filter = ["kind", "code_source"]
    search_fields = ["code", "name"]


class AliasInline(admin.TabularInline):
    model = DepartmentAlias
    extra = 0


@admin.register(Department)
class DepartmentAdmin(ReadOnlyAdmin):
    list_display = ["name", "short_name", "code", "kind"]
    list_filter = ["kind"]
    search_fields = ["name", "short_name", "aliases__name"]
    inlines = [AliasInline]


class AuditedAdminMixin:
    """Back-office edits are audited like service writes, inside the admin's own transaction
    (`changeform_view` runs in `transaction.atomic`). `audited_fields` are compared before and after."""

    audited_fields: tuple[str, ...] = ()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        rows = type(obj).objects.filter(pk=obj.pk)
        before = dict(rows.values(*self.audited_fields).get()) if change else {}
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        after = dict(type(obj).objects.filter(pk=obj.pk).values(*self.audited_fields).get())
        audit.record(
            actor=request.user,  # type: ignore[arg-type]
            action=f"{obj._meta.model_name}.{'updated' if change else 'created'}",
            target=obj,
            changes=audit.diff(before, after),
        )


@admin.register(Organisation)
class OrganisationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "kind", "region", "department"]
    list_filter = ["kind", "region"]
    search_fields = ["name"]
    audited_fields = ("name", "kind", "region_id", "department_id", "uscc")


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "organisation", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff", "organisation__kind"]
    search_fields = ["username", "display_name", "organisation__name"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("身份", {"fields": ("display_name", "email", "role", "organisation")}),
        ("权限", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (
            "实名认证",
            {"fields": ("identity_verified_at", "verified_name_masked", "verified_id_masked", "identity_reference")},
        ),
        ("时间", {"fields": ("last_login", "date_joined")}),
    )
    # the verified identity is written by identity.verify_identity only, and shown masked
    readonly_fields = [
        "last_login",
        "date_joined",
        "identity_verified_at",
        "verified_name_masked",
        "verified_id_masked",
        "identity_reference",
    ]
    actions = ["reset_identity"]
    # never the password hash, never personal data in clear
    audited_fields = ("username", "role", "organisation_id", "display_name", "is_active", "is_staff", "is_superuser")

    @admin.display(description="实名姓名")
    def verified_name_masked(self, obj: User) -> str:
        return obj.masked_verified_name

    @admin.display(description="实名身份证号码")
    def verified_id_masked(self, obj: User) -> str:
        return obj.masked_verified_id

    @admin.action(description="重置所选账户的实名认证（本人须重新认证）")
    def reset_identity(self, request: HttpRequest, queryset: Any) -> None:
        done = 0
        for user in queryset.filter(identity_verified_at__isnull=False):
            try:
                identity.reset_identity(actor=request.user, user=user, reason="工作人员在后台重置")  # type: ignore[arg-type]
            except PermissionDenied as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            done += 1
        self.message_user(request, f"已重置{done}个账户的实名认证", messages.SUCCESS)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "chain", "seq", "at", "actor_label", "action", "object_type", "object_id", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "actor_label", "action"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_auditor(request.user)
