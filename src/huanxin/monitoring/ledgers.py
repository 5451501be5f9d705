"""Works ledgers: loading their definitions, recording and voiding entries, and the metrics they feed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from huanxin.core import audit, metrics
from huanxin.core.models import Department, Region, User
from huanxin.core.roles import Role
from huanxin.monitoring import units
from huanxin.monitoring.models import LedgerEntry, LedgerKind
from huanxin.plans.models import Plan

# --- definitions ---------------------------------------------------------------------------------------


@transaction.atomic
def load_kinds(*, path: Path, actor: User | None = None) -> int:
    """Create or update the ledger kinds of a file; returns how many changed. Idempotent."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan = Plan.objects.filter(code=data.get("plan")).first()
    if plan is None:
        raise ValidationError(f"方案 {data.get('plan')} 尚未载入", code="plan_missing")
    changed = 0
    for entry in data["kinds"]:
        department = Department.objects.filter(code=entry["department"]).first()
        if department is None:
            raise ValidationError(f"{entry['code']}: 未定义的单位代码 {entry['department']}", code="department")
        _check_definition(entry)
        values = {
            "name": entry["name"],
            "unit": entry["unit"],
            "department": department,
            "attributes": entry.get("attributes", []),
            "shares": entry.get("shares", []),
            "description": entry.get("description", ""),
        }
        kind = LedgerKind.objects.filter(plan=plan, code=entry["code"]).first()
        if kind is not None and all(getattr(kind, k) == v for k, v in values.items()):
            continue
        kind, _created = LedgerKind.objects.update_or_create(plan=plan, code=entry["code"], defaults=values)
        audit.record(actor=actor, action="ledger_kind.saved", target=kind, changes={"code": kind.code})
        changed += 1
    return changed


def _check_definition(entry: dict[str, Any]) -> None:
    keys = {a["key"] for a in entry.get("attributes", [])}
    for attribute in entry.get("attributes", []):
        if attribute.get("type", "text") not in {"text", "choice", "number"}:
            raise ValidationError(f"{entry['code']}.{attribute['key']}: 类型应为 text、choice 或 number")
        if attribute.get("type") == "choice" and not attribute.get("choices"):
            raise ValidationError(f"{entry['code']}.{attribute['key']}: choice 类型须列出 choices")
    for share in entry.get("shares", []):
        if share["attribute"] not in keys:
            raise ValidationError(f"{entry['code']}.{share['code']}: 属性 {share['attribute']} 未定义")


# --- entries -------------------------------------------------------------------------------------------


def clean_attributes(kind: LedgerKind, raw: dict[str, Any]) -> dict[str, Any]:
    """The attributes of one record checked against its kind's definition; errors keyed by attribute."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in kind.attributes:
        key, label = spec["key"], spec["label"]
        value = str(raw.get(key, "") or "").strip()
        if not value:
            if spec.get("required"):
                errors[key] = f"请填写{label}"
            continue
        if spec.get("type") == "choice" and value not in spec["choices"]:
            errors[key] = f"{label}应为：{'、'.join(spec['choices'])}"
        elif spec.get("type") == "number":
            try:
                cleaned[key] = str(Decimal(value))
                continue
            except ArithmeticError:
                errors[key] = f"{label}应为数字"
        cleaned[key] = value
    unknown = set(raw) - {spec["key"] for spec in kind.attributes}
    if unknown:
        errors["__all__"] = f"未知属性：{'、'.join(sorted(unknown))}"
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_clerk(actor: User, kind: LedgerKind) -> None:
    if actor.role != Role.DEPARTMENT_OFFICER or actor.department is None or actor.department.pk != kind.department_id:
        raise PermissionDenied(f"只有{kind.department.name}可以记录“{kind.name}”台账")


@transaction.atomic
def record_entry(
    *,
    actor: User,
    kind: LedgerKind,
    region: Region,
    recorded_on: dt.date,
    quantity: Decimal | str,
    attributes: dict[str, Any] | None = None,
    evidence: str = "",
    idempotency_key: str | None = None,
    today: dt.date | None = None,
) -> LedgerEntry:
    """Record one piece of work. With an idempotency key, a retry returns the first record instead of a second."""
    _check_clerk(actor, kind)
    if idempotency_key:
        existing = LedgerEntry.objects.filter(kind=kind, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    errors: dict[str, str] = {}
    try:
        amount = Decimal(str(quantity).strip())
        if not amount.is_finite() or amount <= 0:
            errors["quantity"] = "数量必须大于0"
        elif -amount.as_tuple().exponent > 4:  # type: ignore[operator]
            errors["quantity"] = "数量最多保留4位小数"
        elif units.is_count(kind.unit) and amount != amount.to_integral_value():  # 3.5 辆 is a typing slip
            errors["quantity"] = f"数量以“{kind.unit}”计，请填写整数"
    except ArithmeticError:
        errors["quantity"] = f"“{quantity}”不是数字"
        amount = Decimal(0)
    today = today or timezone.localdate()
    if recorded_on > today:
        errors["recorded_on"] = "完成日期不能晚于今天"
    elif recorded_on < kind.plan.issued_on.replace(month=1, day=1):
        errors["recorded_on"] = f"完成日期不能早于{kind.plan.issued_on.year}年"
    city = kind.plan.region
    if region.pk != city.pk and region.parent_id != city.pk:
        errors["region"] = "地区不在本市范围内"
    try:
        cleaned = clean_attributes(kind, attributes or {})
    except ValidationError as exc:
        errors.update({k: "；".join(v) for k, v in exc.message_dict.items()})
        cleaned = {}
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            entry = LedgerEntry.objects.create(
                kind=kind,
                region=region,
                recorded_on=recorded_on,
                quantity=amount,
                attributes=cleaned,
                evidence=evidence.strip()[:300],
                idempotency_key=idempotency_key or None,
                created_by=actor,
            )
    except IntegrityError:  # the same key raced us: the other request's entry stands
        return LedgerEntry.objects.get(kind=kind, idempotency_key=idempotency_key)
    audit.record(
        actor=actor,
        action="ledger_entry.recorded",
        target=entry,
        changes={"kind": kind.code, "region": region.code, "quantity": str(amount), "on": recorded_on},
    )
    return entry


@transaction.atomic
def void_entry(*, actor: User, entry: LedgerEntry, reason: str) -> LedgerEntry:
    entry = LedgerEntry.objects.select_for_update(of=("self",)).select_related("kind__department").get(pk=entry.pk)
    _check_clerk(actor, entry.kind)
    if not reason.strip():
        raise ValidationError("作废时请写明原因", code="reason_missing")
    if entry.status == LedgerEntry.Status.VOIDED:
        return entry
    entry.status = LedgerEntry.Status.VOIDED
    entry.void_reason = reason.strip()[:300]
    entry.save(update_fields=["status", "void_reason"])
    audit.record(actor=actor, action="ledger_entry.voided", target=entry, changes={"reason": entry.void_reason})
    return entry


# --- metrics -------------------------------------------------------------------------------------------


def _by_region(queryset: Any, city: Region) -> dict[int, Decimal]:
    rows = queryset.values("region_id").annotate(total=Sum("quantity"))
    out: dict[int, Decimal] = {row["region_id"]: row["total"] for row in rows}
    out[city.pk] = sum(out.values(), Decimal(0))  # the city: its counties plus any city-level records
    return out


def resolve_metric(name: str) -> metrics.Metric | None:
    """ledger.<kind>.quantity (sum) or ledger.<kind>.<share> (percentage), for the kind of the newest plan."""
    _, code, measure = name.split(".", 2) if name.count(".") >= 2 else ("", "", "")
    kind = LedgerKind.objects.filter(code=code).select_related("plan__region").order_by("-plan__issued_on").first()
    if kind is None:
        return None
    entries = LedgerEntry.objects.filter(kind=kind, status=LedgerEntry.Status.ACTIVE)
    city = kind.plan.region

    if measure == "quantity":

        def quantity(start: dt.date, end: dt.date) -> dict[int, Decimal]:
            return _by_region(entries.filter(recorded_on__range=(start, end)), city)

        return metrics.Metric(name, kind.name, kind.unit, "sum", quantity)

    share = next((s for s in kind.shares if s["code"] == measure), None)
    if share is None:
        return None

    def percentage(start: dt.date, end: dt.date) -> dict[int, Decimal]:
        window = entries.filter(recorded_on__range=(start, end))
        total = _by_region(window, city)
        part = _by_region(window.filter(Q(**{f"attributes__{share['attribute']}__in": share["values"]})), city)
        return {
            region: (part.get(region, Decimal(0)) * 100 / amount).quantize(Decimal("0.01"))
            for region, amount in total.items()
            if amount
        }

    return metrics.Metric(name, f"{kind.name}{share['label']}", "%", "ratio", percentage)
