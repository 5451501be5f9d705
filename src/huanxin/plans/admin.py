from __future__ import annotations

from django.contrib import admin

from huanxin.core.admin import ReadOnlyAdmin
from huanxin.plans.models import Indicator, Measure, MeasureAction, Plan, ResponsibilityClause, Rule, Section

# The plan is data loaded from its file (`huanxin plan load`): the back office reads it, never edits it, so the
# file in the repository stays the one source of truth.


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "document_number", "region", "status", "issued_on"]
    search_fields = ["code", "title", "document_number"]
    exclude = ["source_text"]


@admin.register(Section)
class SectionAdmin(ReadOnlyAdmin):
    list_display = ["path", "title", "plan", "level"]
    list_filter = ["plan", "level"]


class ClauseInline(admin.TabularInline):
    model = ResponsibilityClause
    extra = 0
    can_delete = False


@admin.register(Measure)
class MeasureAdmin(ReadOnlyAdmin):
    list_display = ["code", "title", "plan"]
    list_filter = ["plan"]
    search_fields = ["code", "title", "text"]
    inlines = [ClauseInline]


@admin.register(Indicator)
class IndicatorAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "kind", "comparator", "target_value", "unit", "target_year", "plan"]
    list_filter = ["plan", "kind"]
    search_fields = ["code", "name", "statement"]


@admin.register(Rule)
class RuleAdmin(ReadOnlyAdmin):
    list_display = ["code", "kind", "plan", "measure"]


@admin.register(MeasureAction)
class MeasureActionAdmin(ReadOnlyAdmin):
    list_display = ["title", "measure", "department", "status", "updated_at"]
    list_filter = ["status", "department"]
