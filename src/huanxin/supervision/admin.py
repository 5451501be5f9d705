from django.contrib import admin

from huanxin.core.admin import ReadOnlyAdmin
from huanxin.supervision.models import Milestone, Notice, NoticeAnswer, ProgressReport


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["number", "subject", "department", "due_on", "status"]
    list_filter = ["status", "department"]


@admin.register(NoticeAnswer)
class NoticeAnswerAdmin(ReadOnlyAdmin):
    list_display = ["notice", "author", "at"]


@admin.register(ProgressReport)
class ProgressReportAdmin(ReadOnlyAdmin):
    list_display = ["measure", "department", "period", "status"]
    list_filter = ["status", "period"]


@admin.register(Milestone)
class MilestoneAdmin(ReadOnlyAdmin):
    list_display = ["title", "measure", "department", "due_on", "status"]
    list_filter = ["status"]
