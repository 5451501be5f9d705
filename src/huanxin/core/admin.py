from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest

from huanxin.core import audit
from huanxin.core.models import AuditEvent, Department, DepartmentAlias, Organisation, Region, User


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


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "region", "department"]
    list_filter = ["kind", "region"]
    search_fields = ["name"]

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        # Same transaction as the admin's own save (the admin wraps changeform_view in atomic).
        before = {} if not change else dict(Organisation.objects.filter(pk=obj.pk).values().get())
        super().save_model(request, obj, form, change)
        after = dict(Organisation.objects.filter(pk=obj.pk).values().get())
        audit.record(
            actor=request.user,  # type: ignore[arg-type]
            action="organisation.updated" if change else "organisation.created",
            target=obj,
            changes=audit.diff(before, after),
        )


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "display_name", "role", "organisation", "is_active", "is_staff"]
    list_filter = ["role", "is_active", "is_staff", "organisation__kind"]
    search_fields = ["username", "display_name", "organisation__name"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("身份", {"fields": ("display_name", "email", "role", "organisation")}),
        ("权限", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("时间", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        fields = ["role", "organisation_id", "display_name", "email", "is_active", "is_staff", "is_superuser"]
        before = {} if not change else dict(User.objects.filter(pk=obj.pk).values(*fields).get())
        super().save_model(request, obj, form, change)
        after = dict(User.objects.filter(pk=obj.pk).values(*fields).get())
        audit.record(
            actor=request.user,  # type: ignore[arg-type]
            action="user.updated" if change else "user.created",
            target=obj,
            changes=audit.diff(before, after),
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "actor_label", "action", "object_type", "object_id", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "actor_label", "action"]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return AuditEvent.objects.visible_to(request.user).exists() or bool(request.user.is_superuser)
