"""Monitoring for a plan set up on a page: what `huanxin monitoring setup` does from a settings file, for a plan
that has none — an imported one. The task force sees each quantitative indicator with the default setting
(`services.default_setting_values`: quarterly, by county for work done, the lead department reports), adjusts what
the defaults cannot know (the unit entered for a growth target, who reports an overall goal) and sets them all up
with one button. Indicators already set up are left as they are, as the command leaves them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from huanxin.core import audit, inputs
from huanxin.core.models import Department, User
from huanxin.core.roles import is_task_force
from huanxin.core.views import actor as request_actor
from huanxin.core.views import form_errors, get_visible_or_404
from huanxin.monitoring import services
from huanxin.monitoring.models import IndicatorSetting
from huanxin.monitoring.periods import Frequency
from huanxin.plans.models import Indicator, Plan


@dataclass
class Choice:
    """What the page says for one indicator not yet set up."""

    frequency: str
    by_county: bool
    value_unit: str
    reporting_department: Department | None


def pending(plan: Plan) -> list[Indicator]:
    """The plan's quantitative indicators without a monitoring setting, in document order."""
    return list(
        plan.indicators.exclude(kind=Indicator.Kind.QUALITATIVE)
        .filter(setting__isnull=True)
        .select_related("measure", "clause")
        .order_by("position")
    )


@transaction.atomic
def set_up_plan(*, actor: User, plan: Plan, choices: dict[int, Choice]) -> list[IndicatorSetting]:
    """Create the settings of the chosen indicators (`choices` by indicator id) through `configure_indicator`, one
    audited `indicator_setting.saved` each, and one `monitoring.setup` for the whole. All or nothing: a refused
    indicator (no unit entered …) leaves every one unset, with its message under its id."""
    if not is_task_force(actor):
        raise PermissionDenied("指标监测由工作专班设置")
    waiting = {indicator.pk: indicator for indicator in pending(plan)}
    errors: dict[str, str] = {}
    made = []
    for pk, choice in choices.items():
        indicator = waiting.get(pk)
        if indicator is None:  # set up meanwhile (another click, the command) or not this plan's: nothing to do
            continue
        try:
            with transaction.atomic():
                made.append(
                    services.configure_indicator(
                        actor=actor,
                        indicator=indicator,
                        frequency=choice.frequency,
                        by_county=choice.by_county,
                        value_unit=choice.value_unit,
                        reporting_department=choice.reporting_department,
                    )
                )
        except ValidationError as exc:
            errors[str(pk)] = "；".join(exc.messages)
    if errors:
        raise ValidationError(errors, code="setup_refused")
    if made:
        audit.record(
            actor=actor,
            action="monitoring.setup",
            target=plan,
            changes={"indicators": [s.indicator.code for s in made]},
        )
    return made


# --- the page ----------------------------------------------------------------------------------------------------


def _rows(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for indicator in pending(plan):
        default = services.default_setting_values(indicator)
        department = default["reporting_department"]
        rows.append(
            {
                "indicator": indicator,
                "frequency": default["frequency"],
                "by_county": default["by_county"],
                "value_unit": default["value_unit"],
                "department": department.code if isinstance(department, Department) else "",
                "include": True,
            }
        )
    return rows


def _parse(request: HttpRequest, rows: list[dict[str, Any]], departments: dict[str, Department]) -> dict[int, Choice]:
    post = request.POST
    choices: dict[int, Choice] = {}
    errors: dict[str, str] = {}
    for row in rows:
        pk = row["indicator"].pk
        p = f"i{pk}-"
        row.update(
            include=bool(post.get(p + "include")),
            frequency=post.get(p + "frequency", ""),
            by_county=bool(post.get(p + "by_county")),
            value_unit=post.get(p + "value_unit", ""),
            department=post.get(p + "department", ""),
        )
        if not row["include"]:
            continue
        problems = []
        if row["frequency"] not in {f.value for f in Frequency}:
            problems.append("请选择报送频次")
        try:
            unit = inputs.clean_text(row["value_unit"], label="填报单位", max_length=20, required=True)
        except ValidationError as exc:
            problems.extend(exc.messages)
        if row["department"] not in departments:  # nobody could report it: the entry sheet is per department
            problems.append("请选择填报的责任单位")
        if problems:
            errors[str(pk)] = "；".join(problems)
            continue
        choices[pk] = Choice(row["frequency"], row["by_county"], unit, departments[row["department"]])
    if errors:
        raise ValidationError(errors)
    return choices


@require_http_methods(["GET", "POST"])
def setup_page(request: HttpRequest, plan: str) -> HttpResponse:
    user = request_actor(request)
    if not is_task_force(user):
        raise PermissionDenied("只有工作专班可以设置指标监测")
    found = get_visible_or_404(Plan.objects.visible_to(user).select_related("region"), code=plan)
    rows = _rows(found)
    departments = {
        d.code: d
        for d in Department.objects.filter(responsibilities__clause__measure__plan=found).distinct().order_by("code")
    }
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            made = set_up_plan(actor=user, plan=found, choices=_parse(request, rows, departments))
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
        else:
            from django.contrib import messages

            messages.success(request, f"已为 {len(made)} 项指标建立监测设置" if made else "没有选中需要设置的指标")
            return redirect("monitoring:setup", plan=found.code)
    configured = list(
        IndicatorSetting.objects.filter(indicator__plan=found)
        .select_related("indicator", "reporting_department")
        .order_by("indicator__position")
    )
    return render(
        request,
        "monitoring/setup.html",
        {
            "plan": found,
            "rows": rows,
            "errors": errors,
            "configured": configured,
            "departments": list(departments.values()),
            "frequencies": [(f.value, f.label) for f in Frequency],
            "qualitative": found.indicators.filter(kind=Indicator.Kind.QUALITATIVE).count(),
        },
        status=400 if errors else 200,
    )
