"""Writes on monitoring: periods, settings, and the life of a reported value.

A value is saved as a draft by the reporting department's clerk, submitted, then approved or returned by the
task force; a returned value goes back to the clerk. After approval a value changes only by a correction, which
needs a reason and sends it back for review. Every step appends a ValueRevision and an audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from huanxin.core import audit, uploads
from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role, is_task_force
from huanxin.monitoring import units
from huanxin.monitoring.models import (
    REPORTING_WINDOW_DAYS,
    IndicatorSetting,
    IndicatorValue,
    Period,
    ValueAttachment,
    ValueRevision,
)
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans.models import Indicator

MAX_VALUE = Decimal("1e12")


@transaction.atomic
def ensure_period(*, ref: PeriodRef, actor: User | None = None) -> Period:
    period = Period.objects.filter(code=ref.code).first()
    if period is not None:
        return period
    period = Period.objects.create(
        code=ref.code,
        frequency=ref.frequency.value,
        start=ref.start,
        end=ref.end,
        due_on=ref.end + dt.timedelta(days=REPORTING_WINDOW_DAYS),
    )
    audit.record(actor=actor, action="period.created", target=period, changes={"code": ref.code})
    return period


def default_setting_values(indicator: Indicator) -> dict[str, object]:
    """Sensible defaults: quarterly; physical work (km, devices, machines) by county and summed; shares and
    counts as a level at period end; growth targets reported as the period's amount; the lead department of the
    indicator's clause, measure, or first related measure reports it."""
    kind = indicator.kind
    increment = kind in {Indicator.Kind.CUMULATIVE_TOTAL, Indicator.Kind.GROWTH_VS_BASELINE}
    return {
        "frequency": Frequency.QUARTER.value,
        "by_county": kind == Indicator.Kind.CUMULATIVE_TOTAL,
        "aggregation": IndicatorSetting.Aggregation.INCREMENT if increment else IndicatorSetting.Aggregation.LEVEL,
        "value_unit": indicator.unit if kind != Indicator.Kind.GROWTH_VS_BASELINE else "",
        "reporting_department": lead_department(indicator),
    }


def lead_department(indicator: Indicator) -> Department | None:
    clause = indicator.clause
    if clause is None:
        measure = indicator.measure or indicator.related_measures.order_by("position").first()
        clause = measure.clauses.order_by("position").first() if measure else None
    lead = clause.responsibilities.filter(role="lead").select_related("department").first() if clause else None
    return lead.department if lead else None


@transaction.atomic
def configure_indicator(*, actor: User | None, indicator: Indicator, **fields: object) -> IndicatorSetting:
    """Create or change an indicator's monitoring setting (missing fields take the defaults). The task force sets
    up monitoring; `actor=None` is the setup command."""
    if actor is not None and not is_task_force(actor):
        raise PermissionDenied("指标监测由工作专班设置")
    setting = IndicatorSetting.objects.select_for_update().filter(indicator=indicator).first()
    if indicator.kind == Indicator.Kind.QUALITATIVE:
        raise ValidationError("定性目标通过任务进展和里程碑调度，不填报数值", code="qualitative")
    if setting is None:
        values = {**default_setting_values(indicator), **fields}
        setting = IndicatorSetting(indicator=indicator, **values)
        before: dict[str, object] = {}
    else:
        before = {key: _plain(getattr(setting, key)) for key in fields}
        for key, value in fields.items():
            setattr(setting, key, value)
    if not setting.value_unit:
        raise ValidationError({"value_unit": "请填写填报单位（如 辆、台、公里）"}, code="value_unit")
    if setting.source == IndicatorSetting.Source.DERIVED:
        from huanxin.core import metrics

        if not metrics.exists(setting.metric):
            raise ValidationError({"metric": f"未注册的度量“{setting.metric}”"}, code="metric_unknown")
    setting.full_clean()
    setting.save()
    after = {key: _plain(getattr(setting, key)) for key in (fields or {"frequency": None})}
    audit.record(actor=actor, action="indicator_setting.saved", target=setting, changes=audit.diff(before, after))
    return setting


def _plain(value: object) -> object:
    return value.pk if hasattr(value, "pk") else value


def parse_value(raw: str | Decimal | int, setting: IndicatorSetting) -> Decimal:
    """A reported number, or a ValidationError with a stable code and a Chinese message."""
    text = str(raw).strip().replace(",", "").replace("，", "")
    if text == "":
        raise ValidationError("请填写数值", code="value_missing")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValidationError(f"“{raw}”不是数字", code="value_not_a_number") from exc
    if not value.is_finite():
        raise ValidationError(f"“{raw}”不是数字", code="value_not_a_number")
    if value < 0:
        raise ValidationError("数值不能为负数", code="value_negative")
    if value >= MAX_VALUE:
        raise ValidationError("数值过大，请检查单位", code="value_too_large")
    if -value.as_tuple().exponent > 4:  # type: ignore[operator]
        raise ValidationError("最多保留4位小数", code="value_precision")
    if units.is_count(setting.value_unit) and value != value.to_integral_value():  # no 18.17 cameras
        raise ValidationError(f"该指标以“{setting.value_unit}”计数，请填写整数", code="value_not_integer")
    if setting.indicator.kind == Indicator.Kind.SHARE and value > 100:
        raise ValidationError("比例不能超过100%", code="share_above_100")
    return value


def county_of(actor: Any) -> Region | None:
    """The county-level division a county officer works for (None for everyone else)."""
    org: Organisation | None = getattr(actor, "organisation", None)
    if getattr(actor, "role", None) == Role.COUNTY_OFFICER and org is not None and org.region.parent_id is not None:
        return org.region
    return None


def _check_reporter(
    actor: User, setting: IndicatorSetting, region: Region | None = None, *, department_only: bool = False
) -> None:
    """Department clerks report their indicators; a county officer may fill in their own county's figures of
    by-county indicators, which the department then checks and submits."""
    if setting.source != IndicatorSetting.Source.REPORTED:
        raise PermissionDenied("该指标由业务数据自动生成，无需填报")
    county = county_of(actor)
    if county is not None and not department_only:
        if not setting.by_county:
            raise PermissionDenied("该指标不分县区，由责任单位填报")
        if region is not None and region.pk != county.pk:
            raise PermissionDenied(f"只能填写{county.name}的数值")
        return
    if actor.role != Role.DEPARTMENT_OFFICER or actor.department is None:
        raise PermissionDenied(
            "只有责任单位经办人可以报送数值" if county is not None else "只有责任单位经办人可以填报数值"
        )
    if setting.reporting_department_id != actor.department.pk:
        raise PermissionDenied("本单位不是该指标的填报单位")


def may_fill(actor: Any, value: IndicatorValue) -> bool:
    """Whether `actor` may enter figures or evidence for this value's indicator and region."""
    try:
        _check_reporter(actor, value.indicator.setting, value.region)
    except PermissionDenied:
        return False
    return True


def _check_region(setting: IndicatorSetting, region: Region) -> None:
    city = setting.indicator.plan.region
    if setting.by_county:
        if region.parent_id != city.pk:
            raise ValidationError("该指标按县区填报，请选择县区", code="region_not_county")
    elif region.pk != city.pk:
        raise ValidationError("该指标按全市填报", code="region_not_city")


def _revise(
    value: IndicatorValue,
    *,
    actor: User | None,
    action: str,
    old: Decimal | None,
    new: Decimal,
    reason: str = "",
    at: dt.datetime | None = None,
) -> ValueRevision:
    number = value.revisions.count() + 1  # the value row is locked by the caller
    return ValueRevision.objects.create(
        value=value,
        number=number,
        action=action,
        old_value=old,
        new_value=new,
        reason=reason,
        actor=actor,
        at=at or timezone.now(),
    )


@transaction.atomic
def save_value(
    *,
    actor: User,
    indicator: Indicator,
    period: Period,
    region: Region,
    value: str | Decimal | int,
    note: str = "",
    today: dt.date | None = None,
) -> IndicatorValue:
    """Enter or change a draft (or returned) value. Saving the same number again changes nothing."""
    setting = IndicatorSetting.objects.select_related("indicator__plan__region").filter(indicator=indicator).first()
    if setting is None:
        raise ValidationError("该指标不填报数值（定性目标或尚未设置监测）", code="not_monitored")
    _check_reporter(actor, setting, region)
    _check_region(setting, region)
    if period.frequency != setting.frequency:
        raise ValidationError(f"该指标按{Frequency(setting.frequency).label}填报", code="period_frequency")
    if not period.is_open(today or timezone.localdate()):
        raise ValidationError(f"{period.label}尚未结束，{period.end:%Y-%m-%d}起方可填报", code="period_not_open")
    number = parse_value(value, setting)
    note = note.strip()
    rows = IndicatorValue.objects.select_for_update().filter(indicator=indicator, period=period, region=region)
    current = rows.first()
    if current is None:
        try:
            with transaction.atomic():  # two clerks saving the same cell at once: one creates, the other updates
                current = IndicatorValue.objects.create(
                    indicator=indicator, period=period, region=region, value=number, note=note, updated_by=actor
                )
        except IntegrityError:
            current = rows.get()
        else:
            _revise(current, actor=actor, action=ValueRevision.Action.SAVED, old=None, new=number)
            audit.record(actor=actor, action="indicator_value.saved", target=current, changes={"value": str(number)})
            return current
    if current.status in {IndicatorValue.Status.SUBMITTED, IndicatorValue.Status.APPROVED}:
        raise ValidationError(
            f"该数值{current.get_status_display()}，不能直接修改"
            + ("，请提交更正" if current.status == "approved" else ""),
            code="value_locked",
        )
    if current.value == number and current.note == note:
        return current
    old = current.value
    current.value, current.note, current.updated_by = number, note, actor
    current.save(update_fields=["value", "note", "updated_by", "updated_at"])
    _revise(current, actor=actor, action=ValueRevision.Action.SAVED, old=old, new=number)
    audit.record(
        actor=actor, action="indicator_value.saved", target=current, changes={"value": [str(old), str(number)]}
    )
    return current


@transaction.atomic
def submit_values(*, actor: User, values: Iterable[IndicatorValue], at: dt.datetime | None = None) -> int:
    """报送 drafts and returned values. Already submitted or approved ones are left alone (a retry is a no-op).
    `at` backdates the submission (imports of past periods, demo history); it defaults to now."""
    at = at or timezone.now()
    submitted = 0
    for value in IndicatorValue.objects.select_for_update().filter(pk__in=[v.pk for v in values]).order_by("pk"):
        _check_reporter(actor, value.indicator.setting, department_only=True)
        if value.status not in {IndicatorValue.Status.DRAFT, IndicatorValue.Status.RETURNED}:
            continue
        value.status = IndicatorValue.Status.SUBMITTED
        value.submitted_at = at
        value.return_reason = ""
        value.save(update_fields=["status", "submitted_at", "return_reason", "updated_at"])
        _revise(value, actor=actor, action=ValueRevision.Action.SUBMITTED, old=value.value, new=value.value, at=at)
        audit.record(actor=actor, action="indicator_value.submitted", target=value, changes={"value": str(value.value)})
        submitted += 1
    return submitted


def _locked_for_review(actor: User, value: IndicatorValue) -> IndicatorValue:
    if not is_task_force(actor):
        raise PermissionDenied("只有工作专班可以审核")
    locked = IndicatorValue.objects.select_for_update().get(pk=value.pk)
    if locked.status != IndicatorValue.Status.SUBMITTED:
        raise ValidationError(f"该数值{locked.get_status_display()}，不在待审核状态", code="not_submitted")
    return locked


@transaction.atomic
def approve_value(*, actor: User, value: IndicatorValue, at: dt.datetime | None = None) -> IndicatorValue:
    value = _locked_for_review(actor, value)
    value.status = IndicatorValue.Status.APPROVED
    value.approved_at = at or timezone.now()
    value.save(update_fields=["status", "approved_at", "updated_at"])
    _revise(value, actor=actor, action=ValueRevision.Action.APPROVED, old=value.value, new=value.value, at=at)
    audit.record(actor=actor, action="indicator_value.approved", target=value, changes={"value": str(value.value)})
    return value


@transaction.atomic
def return_value(*, actor: User, value: IndicatorValue, reason: str) -> IndicatorValue:
    reason = reason.strip()
    if not reason:
        raise ValidationError("退回时请写明原因", code="reason_missing")
    value = _locked_for_review(actor, value)
    value.status = IndicatorValue.Status.RETURNED
    value.return_reason = reason
    value.save(update_fields=["status", "return_reason", "updated_at"])
    _revise(value, actor=actor, action=ValueRevision.Action.RETURNED, old=value.value, new=value.value, reason=reason)
    audit.record(actor=actor, action="indicator_value.returned", target=value, changes={"reason": reason})
    return value


@transaction.atomic
def correct_value(*, actor: User, value: IndicatorValue, new_value: str | Decimal, reason: str) -> IndicatorValue:
    """更正 an approved value: a new revision with the reason; it goes back to the task force for review."""
    reason = reason.strip()
    value = IndicatorValue.objects.select_for_update(of=("self",)).select_related("indicator__setting").get(pk=value.pk)
    _check_reporter(actor, value.indicator.setting, department_only=True)
    if value.status != IndicatorValue.Status.APPROVED:
        raise ValidationError("只有已审核的数值需要更正；草稿和退回的数值可直接修改", code="not_approved")
    if not reason:
        raise ValidationError("更正时请写明原因", code="reason_missing")
    number = parse_value(new_value, value.indicator.setting)
    old = value.value
    value.value = number
    value.status = IndicatorValue.Status.SUBMITTED
    value.revision += 1
    value.submitted_at = timezone.now()
    value.updated_by = actor
    value.save(update_fields=["value", "status", "revision", "submitted_at", "updated_by", "updated_at"])
    _revise(value, actor=actor, action=ValueRevision.Action.CORRECTED, old=old, new=number, reason=reason)
    audit.record(
        actor=actor,
        action="indicator_value.corrected",
        target=value,
        changes={"value": [str(old), str(number)], "reason": reason},
    )
    return value


@transaction.atomic
def derive_values(*, period: Period, actor: User | None = None) -> int:
    """Compute every derived indicator for `period` from its metric and store the figures as approved values
    marked `derived`, with a revision when a figure changes. Returns how many values changed. Running it again
    changes nothing. Ratio metrics are computed over the plan so far (start of plan to the period's end)."""
    from huanxin.core import metrics

    changed: list[dict[str, str]] = []
    settings = IndicatorSetting.objects.filter(
        source=IndicatorSetting.Source.DERIVED, frequency=period.frequency
    ).select_related("indicator__plan__region")
    for setting in settings:
        metric = metrics.get(setting.metric)
        plan = setting.indicator.plan
        start = plan.issued_on if metric.aggregation == "ratio" else period.start
        figures = metric.compute(start, period.end)
        city = plan.region
        wanted = {pk: v for pk, v in figures.items() if (pk != city.pk) == setting.by_county}
        regions = Region.objects.in_bulk(list(wanted))
        for region_pk, figure in wanted.items():
            figure = figure.quantize(Decimal("0.0001"))
            current = (
                IndicatorValue.objects.select_for_update()
                .filter(indicator=setting.indicator, period=period, region_id=region_pk)
                .first()
            )
            if current is not None and current.value == figure:
                continue
            old = current.value if current is not None else None
            if current is None:
                current = IndicatorValue.objects.create(
                    indicator=setting.indicator,
                    period=period,
                    region=regions[region_pk],
                    value=figure,
                    status=IndicatorValue.Status.APPROVED,
                    derived=True,
                    note=f"由{metric.label}台账生成",
                    approved_at=timezone.now(),
                )
            else:
                current.value, current.derived = figure, True
                current.save(update_fields=["value", "derived", "updated_at"])
            _revise(current, actor=actor, action=ValueRevision.Action.DERIVED, old=old, new=figure)
            changed.append({"indicator": setting.indicator.code, "region": str(region_pk), "value": str(figure)})
    if changed:
        audit.record(
            actor=actor,
            action="indicator_values.derived",
            object_type="monitoring.period",
            object_id=period.code,
            changes={"count": len(changed), "values": changed[:200]},
        )
    return len(changed)


def derive_periods(
    *,
    refs: Iterable[PeriodRef] = (),
    today: dt.date | None = None,
    actor: User | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[tuple[PeriodRef, int]]:
    """Derive the given periods, or by default each frequency's latest period that has ended by `today`: what
    `huanxin monitoring derive` and the monthly `derive_indicators` job do. Each period is its own transaction;
    a period not yet over is refused before any is derived. Returns how many values changed in each period."""
    from huanxin.monitoring.selectors import latest_open_period  # selectors import this module

    today = today or timezone.localdate()
    chosen = list(refs) or [latest_open_period(frequency, today) for frequency in Frequency]
    for ref in chosen:
        if ref.end > today:
            raise ValidationError(f"{ref.label}尚未结束", code="period_not_ended")
    out = []
    for done, ref in enumerate(chosen, start=1):
        out.append((ref, derive_values(period=ensure_period(ref=ref, actor=actor), actor=actor)))
        if progress is not None:
            progress(done, len(chosen))
    return out


ATTACHMENT_TYPES = {"pdf", "jpg", "jpeg", "png", "xlsx", "xls", "docx", "doc", "zip"}
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024


@transaction.atomic
def attach_evidence(*, actor: User, value: IndicatorValue, upload: Any) -> ValueAttachment:
    """Attach a file of evidence to a value the actor may fill in (its department, or its county's officer)."""
    setting = value.indicator.setting
    _check_reporter(actor, setting, value.region)
    name = str(getattr(upload, "name", "") or "")
    uploads.check_evidence(upload, allowed=ATTACHMENT_TYPES, max_bytes=ATTACHMENT_MAX_BYTES)  # by content, not name
    attachment = ValueAttachment(value=value, name=name[:200], size=upload.size, uploaded_by=actor)
    attachment.file.save(name, upload, save=False)
    attachment.save()
    audit.record(
        actor=actor,
        action="indicator_value.evidence_attached",
        target=value,
        changes={"attachment": attachment.pk, "name": attachment.name, "size": attachment.size},
    )
    return attachment
