from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from huanxin.core.admin import ReadOnlyAdmin
from huanxin.supervision.models import Milestone, Notice, NoticeCounter, NoticeMessage, ProgressReport

# Supervision rows are written by the services only (each step audited): the back office reads them.


@admin.register(ProgressReport)
class ProgressReportAdmin(ReadOnlyAdmin):
    list_display = ["period", "measure", "department", "percent_done", "status", "submitted_at"]
    list_filter = ["status", "department"]
    search_fields = ["period", "text", "measure__code"]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["title", "measure", "department", "due_on", "status", "done_on"]
    list_filter = ["status", "department"]
    search_fields = ["title"]


class MessageInline(admin.TabularInline):
    model = NoticeMessage
    extra = 0
    can_delete = False
    fields = ("kind", "text", "due_on", "author", "at")
    readonly_fields = ("kind", "text", "due_on", "author", "at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["number", "subject", "department", "due_on", "status", "issued_at"]
    list_filter = ["status", "year", "department"]
    search_fields = ["subject", "body"]
    inlines = [MessageInline]


@admin.register(NoticeMessage)
class NoticeMessageAdmin(ReadOnlyAdmin):
    list_display = ["notice", "kind", "author", "at"]
    list_filter = ["kind"]


@admin.register(NoticeCounter)
class NoticeCounterAdmin(ReadOnlyAdmin):
    list_display = ["year", "last"]
