"""Monitoring API: where every target stands, reported values (scoped), and entering values as a clerk would."""

# Annotations are evaluated here, not postponed: ninja resolves a paginated view's string annotations in its own
# module, where this module's types (Key, Search) are unknown.

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.pagination import paginate

from huanxin.core.models import Region
from huanxin.core.roles import is_official
from huanxin.core.schemas import Key, Pages, RequiredLine, Text, answers
from huanxin.monitoring import services, status
from huanxin.monitoring.models import IndicatorValue
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator, Plan

router = Router(tags=["监测调度"])


class IndicatorStatusOut(Schema):
    indicator: str
    name: str
    kind: str
    target: Decimal | None
    unit: str
    actual: Decimal | None
    expected: Decimal | None
    progress_pct: Decimal | None
    status: str
    status_label: str
    forecast: Decimal | None
    reach_date: dt.date | None
    reasons: list[str]


class ValueOut(Schema):
    id: int
    indicator: str
    period: str
    region: str
    value: str  # plain decimal text, e.g. "3.5"
    status: str
    derived: bool
    revision: int
    note: str
    return_reason: str

    @staticmethod
    def resolve_indicator(obj: IndicatorValue) -> str:
        return obj.indicator.code

    @staticmethod
    def resolve_period(obj: IndicatorValue) -> str:
        return obj.period.code

    @staticmethod
    def resolve_region(obj: IndicatorValue) -> str:
        return obj.region.code

    @staticmethod
    def resolve_value(obj: IndicatorValue) -> str:
        return format(Decimal(obj.value).normalize(), "f")


class ValueIn(Schema):
    plan: RequiredLine = Field(max_length=60)
    indicator: RequiredLine = Field(max_length=60)
    period: RequiredLine = Field(max_length=10, description="期间，如 2025-Q2")
    region: RequiredLine = Field(max_length=12, description="区划代码（GB/T 2260）")
    value: RequiredLine = Field(max_length=40, description='数值，按填写原样，如 "3.5"')
    note: Text = Field("", max_length=2000)


class SubmitIn(Schema):
    plan: RequiredLine = Field(max_length=60)
    period: RequiredLine = Field(max_length=10)


class SubmitOut(Schema):
    submitted: int


def _official(request: HttpRequest) -> None:
    if not is_official(request.user):
        raise PermissionDenied("监测数据仅供政府工作人员查看")


def _bad_request(exc: ValidationError) -> HttpError:
    code = exc.code or (exc.error_list[0].code if hasattr(exc, "error_list") and exc.error_list else None)
    error = HttpError(422, "；".join(exc.messages))
    error.code = code or "invalid_value"  # type: ignore[attr-defined]
    return error


@router.get(
    "/monitoring/status",
    response=answers(list[IndicatorStatusOut], 401, 403, 404, 422),
    summary="各目标推进状态（进度、预测、风险）",
)
def plan_status(request: HttpRequest, plan: Key) -> list[IndicatorStatusOut]:
    _official(request)
    found = get_object_or_404(Plan.objects.visible_to(request.user), code=plan)
    return [
        IndicatorStatusOut(
            indicator=s.indicator.code,
            name=s.indicator.name,
            kind=s.indicator.kind,
            target=s.indicator.target_value,
            unit=s.indicator.unit,
            actual=s.assessment.actual,
            expected=s.assessment.expected,
            progress_pct=s.assessment.progress_pct,
            status=s.assessment.status.value,
            status_label=s.assessment.status.label,
            forecast=s.assessment.forecast,
            reach_date=s.assessment.reach_date,
            reasons=list(s.assessment.reasons),
        )
        for s in status.plan_status(user=request.user, plan=found, today=timezone.localdate())
    ]


@router.get("/monitoring/values", response=answers(list[ValueOut], 401, 422), summary="填报数值（按权限范围）")
@paginate(Pages, page_size=100)
def list_values(  # type: ignore[no-untyped-def]
    request: HttpRequest, plan: Key, period: Key = "", indicator: Key = "", region: Key = "", status: Key = ""
):
    qs = IndicatorValue.objects.visible_to(request.user).filter(indicator__plan__code=plan)
    for value, lookup in (
        (period, "period__code"),
        (indicator, "indicator__code"),
        (region, "region__code"),
        (status, "status"),
    ):
        if value:
            qs = qs.filter(**{lookup: value})
    return qs.select_related("indicator", "period", "region").order_by("period__end", "indicator__position", "region")


@router.post(
    "/monitoring/values",
    response=answers(ValueOut, 400, 401, 403, 404, 422),
    summary="填写数值（草稿；同值重复提交不产生新版本）",
)
def save_value(request: HttpRequest, payload: ValueIn) -> IndicatorValue:
    plan = get_object_or_404(Plan.objects.visible_to(request.user), code=payload.plan)
    indicator = get_object_or_404(Indicator.objects.visible_to(request.user), plan=plan, code=payload.indicator)
    region = get_object_or_404(Region.objects.visible_to(request.user), code=payload.region)
    try:
        period = services.ensure_period(ref=PeriodRef.parse(payload.period), actor=request.user)  # type: ignore[arg-type]
        return services.save_value(
            actor=request.user,  # type: ignore[arg-type]
            indicator=indicator,
            period=period,
            region=region,
            value=payload.value,
            note=payload.note,
        )
    except ValueError as exc:
        error = HttpError(422, str(exc))
        error.code = "period_invalid"  # type: ignore[attr-defined]
        raise error from exc
    except ValidationError as exc:
        raise _bad_request(exc) from exc


@router.post(
    "/monitoring/values/submit",
    response=answers(SubmitOut, 400, 401, 403, 422),
    summary="报送本单位本期全部草稿（重复调用无副作用）",
)
def submit(request: HttpRequest, payload: SubmitIn) -> SubmitOut:
    department = getattr(request.user, "department", None)
    if department is None:
        raise PermissionDenied("只有责任单位经办人可以报送数值")
    values = IndicatorValue.objects.visible_to(request.user).filter(
        indicator__plan__code=payload.plan,
        period__code=payload.period,
        indicator__setting__reporting_department=department,
    )
    return SubmitOut(submitted=services.submit_values(actor=request.user, values=values))  # type: ignore[arg-type]
