"""Writes of the recycling network. Each function is one transaction with its audit event; refusals are
`ValidationError`s with a stable code and a Chinese message, raised before anything is written.

Retries act once: bookings, collection records and certificates carry the caller's token (form token, API
idempotency key, or the recycler's own 业务单号), and a second call with it returns the first result.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from huanxin.core import audit, inputs, pii
from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role, is_task_force
from huanxin.core.validators import clean_resident_id, clean_uscc, clean_vin
from huanxin.notices import notify
from huanxin.recycling.categories import BOOKABLE, DATA_BEARING, MATERIALS, TAKE_BACK, Category
from huanxin.recycling.models import (
    Booking,
    BookingEvent,
    BookingItem,
    Certificate,
    CollectionRecord,
    NumberSequence,
    PickupSlot,
    Site,
    TaxRule,
    Township,
)

ACCEPT_WITHIN = dt.timedelta(hours=24)  # a booking not accepted within a day (or by its slot) is overdue
COMPLETE_WITHIN = dt.timedelta(hours=24)  # … and not completed a day after its slot ends
MAX_ITEMS_PER_BOOKING = 20
PHONE = re.compile(r"^1[3-9]\d{9}$")
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
_LOOKS_LIKE_RESIDENT_ID = re.compile(r"[0-9]{15}|[0-9]{17}[0-9Xx]")


def _invalid(message: str, code: str, field: str | None = None) -> ValidationError:
    return ValidationError(
        {field: ValidationError(message, code=code)} if field else ValidationError(message, code=code)
    )


def draw_number(key: str) -> int:
    """The next value of the counter `key`, under a row lock (gap-free within committed transactions)."""
    if not NumberSequence.objects.filter(key=key).update(last=F("last") + 1):  # the row lock is taken here
        NumberSequence.objects.bulk_create([NumberSequence(key=key)], ignore_conflicts=True)
        NumberSequence.objects.filter(key=key).update(last=F("last") + 1)
    return NumberSequence.objects.values_list("last", flat=True).get(key=key)


def _recycler_of(actor: User, organisation: Organisation) -> None:
    """Only the recycler's own staff act for it: run its slots and bookings, record intake, issue certificates."""
    if actor.role != Role.RECYCLER or actor.organisation_id is None or actor.organisation_id != organisation.pk:
        raise PermissionDenied("只能操作本企业的站点和业务")


def _network_of(actor: User, organisation: Organisation) -> None:
    """Sites are set up by the recycler or by the task force, which builds the network; nothing else of the
    recycler's business is the task force's."""
    if not is_task_force(actor):
        _recycler_of(actor, organisation)


PROXY_REASON_MAX = 200


def _acting_for(actor: User, organisation: Organisation, on_behalf_reason: str) -> str:
    """Who may write a collection record or a certificate of `organisation`: its own staff, or the task force
    entering it on the recycler's behalf (代录) with a reason, which the record then carries and shows. Returns
    the cleaned reason ("" when the recycler acts itself)."""
    reason = " ".join((on_behalf_reason or "").split())
    if not is_task_force(actor):
        _recycler_of(actor, organisation)
        if reason:  # 代录 is the task force's lane; a recycler enters its own records
            raise PermissionDenied("代录由工作专班办理；本企业登记无需填写代录原因")
        return ""
    if not reason:
        raise PermissionDenied("工作专班不以回收企业身份登记；确需代录，请写明代录原因")
    if len(reason) > PROXY_REASON_MAX:
        raise _invalid(f"代录原因不超过{PROXY_REASON_MAX}字", "proxy_reason_too_long", "on_behalf_reason")
    if organisation.kind != Organisation.Kind.RECYCLER:
        raise _invalid("只能为回收企业代录", "organisation_not_recycler", "site")
    return reason


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or timezone.now()


# --- sites ------------------------------------------------------------------------------------------------

SITE_FIELDS = (
    "name",
    "kind",
    "region",
    "township",
    "address",
    "latitude",
    "longitude",
    "categories",
    "opening_hours",
    "phone",
    "status",
    "is_sorting_point",
    "offers_pickup",
    "qualification_no",
    "opened_on",
)


# Cars on the road today were first registered after this; a site opened after this. Earlier is a typing slip.
EARLIEST_REGISTERED = dt.date(1950, 1, 1)
EARLIEST_OPENED = dt.date(1950, 1, 1)
MAX_UNITS = 1_000_000  # one collection record: far above any real intake, far below the column's limit


def _clean_site(fields: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, ValidationError] = {}
    # Text within its column, and a name of zero-width spaces counts as no name.
    for name, label in (("name", "站点名称"), ("address", "地址"), ("qualification_no", "资质认定证书编号")):
        try:
            fields[name] = inputs.clean_text(
                fields.get(name),
                label=label,
                max_length=inputs.max_length(Site, name),
                required=name != "qualification_no",
            )
        except ValidationError as exc:
            errors[name] = exc
            fields[name] = ""
    if fields.get("opened_on") is not None:
        try:
            fields["opened_on"] = inputs.business_date(fields["opened_on"], label="开业日期", earliest=EARLIEST_OPENED)
        except ValidationError as exc:
            errors["opened_on"] = exc
    if fields.get("kind") not in Site.Kind.values:
        errors["kind"] = ValidationError("请选择站点类型", code="invalid_kind")
    if fields.get("status", Site.Status.OPERATING) not in Site.Status.values:
        errors["status"] = ValidationError("状态无效", code="invalid_status")
    region: Region | None = fields.get("region")
    if region is None or region.parent_id is None:
        errors["region"] = ValidationError("请选择所在县区", code="invalid_region")
    township: Township | None = fields.get("township")
    if township is not None and region is not None and township.region_id != region.pk:
        errors["township"] = ValidationError("乡镇（街道）不属于所选县区", code="township_outside_region")
    categories = list(dict.fromkeys(fields.get("categories") or []))
    if not categories:
        errors["categories"] = ValidationError("请至少选择一个回收品类", code="required")
    elif unknown := [c for c in categories if c not in Category.values]:
        errors["categories"] = ValidationError(f"未知品类：{'、'.join(unknown)}", code="invalid_category")
    fields["categories"] = categories
    if fields.get("kind") == Site.Kind.DISMANTLER:
        if not fields["qualification_no"]:
            errors["qualification_no"] = ValidationError(
                "报废机动车回收拆解企业须填写资质认定证书编号", code="qualification_required"
            )
        if Category.CAR not in categories:
            errors["categories"] = ValidationError("拆解企业的回收品类应包含机动车", code="dismantler_takes_cars")
    elif Category.CAR in categories:
        errors["categories"] = ValidationError("只有报废机动车回收拆解企业可以回收机动车", code="car_needs_dismantler")
    for name, low, high, label in (("latitude", -90, 90, "纬度"), ("longitude", -180, 180, "经度")):
        value = fields.get(name)
        if value is not None and not (low <= value <= high):
            errors[name] = ValidationError(f"{label}超出范围", code="invalid_coordinate")
    if errors:
        raise ValidationError(errors)
    return fields


@transaction.atomic
def save_site(*, actor: User, organisation: Organisation, site: Site | None = None, **fields: Any) -> Site:
    """Create a site for `organisation` or change one of its sites."""
    _network_of(actor, organisation)
    if organisation.kind != Organisation.Kind.RECYCLER:
        raise _invalid("站点的运营单位应为回收企业", "organisation_not_recycler", "organisation")
    unknown = set(fields) - set(SITE_FIELDS)
    if unknown:
        raise TypeError(f"unknown site fields {unknown}")
    if site is not None:
        if site.organisation_id != organisation.pk:
            raise PermissionDenied("只能修改本企业的站点")
        before = {name: getattr(site, name) for name in SITE_FIELDS}
        merged = {**before, **fields}
    else:
        before = {}
        merged = {"status": Site.Status.OPERATING, "is_sorting_point": False, "offers_pickup": False, **fields}
    merged = _clean_site(merged)
    twins = Site.objects.filter(name=merged["name"])
    if (twins.exclude(pk=site.pk) if site is not None else twins).exists():
        raise _invalid("已有同名站点", "duplicate_name", "name")
    site = site or Site(organisation=organisation)
    for name, value in merged.items():
        setattr(site, name, value)
    site.save()
    after = {name: getattr(site, name) for name in SITE_FIELDS}
    audit.record(
        actor=actor,
        action="recycling.site_saved" if before else "recycling.site_created",
        target=site,
        changes=audit.diff(_plain(before), _plain(after)) if before else _plain(after),
    )
    return site


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Region | Township | Decimal | dt.date) else v) for k, v in values.items()}


@transaction.atomic
def open_slots(
    *,
    actor: User,
    site: Site,
    first_day: dt.date,
    last_day: dt.date,
    windows: Sequence[tuple[dt.time, dt.time]],
    capacity: int,
    now: dt.datetime | None = None,
) -> int:
    """Open pickup slots at `site` on every day of [first_day, last_day] for each (start, end) window. Slots that
    exist already are left as they are; returns how many were opened."""
    _recycler_of(actor, site.organisation)
    if not site.offers_pickup:
        raise _invalid("该站点未开通上门回收", "no_pickup")
    if not 1 <= capacity <= 200:
        raise _invalid("每个时段可预约数应在1到200之间", "invalid_capacity", "capacity")
    if last_day < first_day or (last_day - first_day).days > 62:
        raise _invalid("日期范围应在两个月以内，且结束不早于开始", "invalid_range", "last_day")
    if not windows or any(end <= start for start, end in windows):
        raise _invalid("时段的结束时间应晚于开始时间", "invalid_window", "windows")
    now = _now(now)
    tz = timezone.get_current_timezone()
    slots = []
    day = first_day
    while day <= last_day:
        for start, end in windows:
            starts_at = dt.datetime.combine(day, start, tz)
            if starts_at > now:
                slots.append(
                    PickupSlot(
                        site=site, starts_at=starts_at, ends_at=dt.datetime.combine(day, end, tz), capacity=capacity
                    )
                )
        day += dt.timedelta(days=1)
    existing = set(
        PickupSlot.objects.filter(site=site, starts_at__in=[s.starts_at for s in slots]).values_list(
            "starts_at", flat=True
        )
    )
    new = [s for s in slots if s.starts_at not in existing]
    PickupSlot.objects.bulk_create(new)
    audit.record(
        actor=actor,
        action="recycling.slots_opened",
        target=site,
        changes={"first_day": str(first_day), "last_day": str(last_day), "opened": len(new), "capacity": capacity},
    )
    return len(new)


# --- bookings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemIn:
    category: str
    count: int


def _clean_items(items: Iterable[ItemIn], site: Site | None) -> list[ItemIn]:
    merged: dict[str, int] = {}
    for item in items:
        if item.category not in Category.values:
            raise _invalid(f"未知品类：{item.category}", "invalid_category", "items")
        if item.category not in BOOKABLE:
            raise _invalid("报废机动车请直接联系报废机动车回收拆解企业", "car_not_bookable", "items")
        if item.count < 1:
            raise _invalid("数量应至少为1", "invalid_count", "items")
        merged[item.category] = merged.get(item.category, 0) + item.count
    if not merged:
        raise _invalid("请至少选择一件要回收的物品", "no_items", "items")
    if sum(merged.values()) > MAX_ITEMS_PER_BOOKING:
        raise _invalid(f"一次预约最多{MAX_ITEMS_PER_BOOKING}件，更多请分次预约或联系企业", "too_many_items", "items")
    if site is not None:
        refused = [Category(c).label for c in merged if c not in site.categories]
        if refused:
            raise _invalid(f"{site.name}不回收：{'、'.join(refused)}", "category_not_served", "items")
    return [ItemIn(c, n) for c, n in merged.items()]


def _event(booking: Booking, actor: User, note: str = "", at: dt.datetime | None = None) -> None:
    BookingEvent.objects.create(booking=booking, status=booking.status, actor=actor, note=note, at=at or timezone.now())


@transaction.atomic
def book_pickup(
    *,
    actor: User,
    slot: PickupSlot,
    region: Region,
    items: Iterable[ItemIn],
    contact_name: str,
    phone: str,
    address: str,
    township: Township | None = None,
    note: str = "",
    token: str = "",
    now: dt.datetime | None = None,
) -> Booking:
    """A citizen books a pickup (or a merchant books one for a customer at the till: 收旧+换新)."""
    now = _now(now)
    if actor.role not in (Role.CITIZEN, Role.MERCHANT):
        raise PermissionDenied("上门回收由居民预约，或由商户为顾客代约")
    if token and (existing := Booking.objects.filter(created_by=actor, token=token).first()):
        return existing
    errors: dict[str, ValidationError] = {}
    contact_name, address, phone = contact_name.strip(), address.strip(), "".join(phone.split())
    if not contact_name:
        errors["contact_name"] = ValidationError("请填写联系人", code="required")
    if not PHONE.match(phone):
        errors["phone"] = ValidationError("请填写11位手机号码", code="invalid_phone")
    if len(address) < 6:
        errors["address"] = ValidationError("请填写详细上门地址（到门牌号）", code="invalid_address")
    if township is not None and township.region_id != region.pk:
        errors["township"] = ValidationError("乡镇（街道）不属于所选县区", code="township_outside_region")
    if errors:
        raise ValidationError(errors)
    slot = PickupSlot.objects.select_for_update().select_related("site__organisation").get(pk=slot.pk)
    site = slot.site
    if slot.starts_at <= now:
        raise _invalid("所选时段已过，请重新选择", "slot_in_past", "slot")
    if site.region_id != region.pk:
        raise _invalid(
            f"{site.organisation.name}不在{region.name}提供上门服务，请选择本县区的时段", "outside_area", "slot"
        )
    if site.status != Site.Status.OPERATING or not site.offers_pickup:
        raise _invalid("该站点暂不提供上门回收", "site_not_available", "slot")
    clean = _clean_items(items, site)
    if slot.booked >= slot.capacity:
        raise _invalid("该时段已约满，请选择其他时段", "slot_full", "slot")
    PickupSlot.objects.filter(pk=slot.pk).update(booked=F("booked") + 1)
    merchant = actor.organisation if actor.role == Role.MERCHANT else None
    day = timezone.localdate(now)
    booking = Booking.objects.create(
        number=f"HS{day:%y%m%d}{draw_number(f'booking-{day:%Y%m%d}'):04d}",
        slot=slot,
        site=site,
        organisation=site.organisation,
        region=region,
        township=township,
        channel=Booking.Channel.MERCHANT if merchant else Booking.Channel.CITIZEN,
        citizen=None if merchant else actor,
        merchant=merchant,
        created_by=actor,
        contact_name=contact_name,
        phone=phone,
        phone_hash=pii.lookup_hash(phone, purpose="phone"),
        address=address,
        note=note.strip()[:200],
        accept_by=min(now + ACCEPT_WITHIN, slot.starts_at),
        complete_by=slot.ends_at + COMPLETE_WITHIN,
        created_at=now,
        token=token,
    )
    BookingItem.objects.bulk_create([BookingItem(booking=booking, category=i.category, count=i.count) for i in clean])
    _event(booking, actor, "商户代约（收旧+换新）" if merchant else "", at=now)
    notify.booking_changed(booking, "booking.submitted", now=now)
    audit.record(
        actor=actor,
        action="recycling.booking_submitted",
        target=booking,
        changes={
            "number": booking.number,
            "site": site.pk,
            "slot": slot.pk,
            "items": {i.category: i.count for i in clean},
        },
    )
    return booking


def _lock(booking: Booking) -> Booking:
    return Booking.objects.select_for_update().select_related("site", "slot").get(pk=booking.pk)


def _move(
    booking: Booking, actor: User, status: str, *, allowed: Sequence[str], note: str = "", now: dt.datetime
) -> None:
    if booking.status not in allowed:
        raise _invalid(
            f"预约{booking.number}当前为“{booking.get_status_display()}”，不能{Booking.Status(status).label}",
            "invalid_transition",
        )
    before = booking.status
    booking.status = status
    if status not in Booking.OPEN:
        booking.closed_at = now
    booking.save()
    _event(booking, actor, note, at=now)
    notify.booking_changed(booking, f"booking.{status}", now=now)  # 已接单, 已完成, 上门未遇, 已取消
    audit.record(
        actor=actor,
        action=f"recycling.booking_{status}",
        target=booking,
        changes={"status": [before, status], **({"note": note} if note else {})},
    )


@transaction.atomic
def accept_booking(
    *, actor: User, booking: Booking, visit_at: dt.datetime | None = None, now: dt.datetime | None = None
) -> Booking:
    """The recycler takes the booking and names the visit time (by default the slot's start)."""
    now = _now(now)
    booking = _lock(booking)
    _recycler_of(actor, booking.organisation)
    visit_at = visit_at or booking.slot.starts_at
    if visit_at < now:
        raise _invalid("上门时间不能早于现在", "visit_in_past", "visit_at")
    booking.visit_at = visit_at
    _move(
        booking,
        actor,
        Booking.Status.ACCEPTED,
        allowed=[Booking.Status.SUBMITTED],
        now=now,
        note=f"约定{timezone.localtime(visit_at):%m月%d日 %H:%M}上门",
    )
    return booking


@dataclass(frozen=True)
class LineIn:
    """What the crew took at the door: one line per category."""

    category: str
    units: int
    weight_kg: Decimal
    price_fen: int


@transaction.atomic
def complete_booking(
    *, actor: User, booking: Booking, lines: Sequence[LineIn], now: dt.datetime | None = None
) -> Booking:
    """The pickup is done: what was taken (units, kg, price paid) becomes collection records of the site."""
    now = _now(now)
    booking = _lock(booking)
    _recycler_of(actor, booking.organisation)
    if not lines:
        raise _invalid("请填写实际回收的物品", "no_items", "lines")
    for line in lines:
        _check_quantities(line.category, line.units, line.weight_kg, line.price_fen, booking.site)
    if booking.status not in (Booking.Status.ACCEPTED,):
        raise _invalid(f"预约{booking.number}当前为“{booking.get_status_display()}”，不能完成", "invalid_transition")
    received_on = timezone.localdate(now)
    CollectionRecord.objects.bulk_create(
        [
            CollectionRecord(
                site=booking.site,
                organisation_id=booking.organisation_id,
                region_id=booking.region_id,
                received_on=received_on,
                source=CollectionRecord.Source.BOOKING,
                booking=booking,
                category=line.category,
                units=line.units,
                weight_kg=line.weight_kg,
                price_fen=line.price_fen,
                seller_name=booking.contact_name,
                created_by=actor,
            )
            for line in lines
        ]
    )
    booking.paid_fen = sum(line.price_fen for line in lines)
    units = sum(line.units for line in lines)
    _move(
        booking,
        actor,
        Booking.Status.COMPLETED,
        allowed=[Booking.Status.ACCEPTED],
        now=now,
        note=f"回收{units}件，支付{Decimal(booking.paid_fen) / 100:.2f}元",
    )
    return booking


@transaction.atomic
def mark_no_show(*, actor: User, booking: Booking, note: str = "", now: dt.datetime | None = None) -> Booking:
    """The crew came and nobody was there (or the items were not there)."""
    now = _now(now)
    booking = _lock(booking)
    _recycler_of(actor, booking.organisation)
    if booking.visit_at and booking.visit_at > now:
        raise _invalid("约定的上门时间还没到", "too_early")
    _move(
        booking,
        actor,
        Booking.Status.NO_SHOW,
        allowed=[Booking.Status.ACCEPTED],
        note=note.strip() or "上门未遇",
        now=now,
    )
    return booking


@transaction.atomic
def cancel_booking(*, actor: User, booking: Booking, reason: str = "", now: dt.datetime | None = None) -> Booking:
    """The citizen (or the merchant that booked) cancels; the recycler may decline with a reason. The slot's
    place is freed."""
    now = _now(now)
    booking = _lock(booking)
    by_booker = actor.pk == booking.created_by_id or (
        actor.role == Role.MERCHANT and booking.merchant_id is not None and actor.organisation_id == booking.merchant_id
    )
    if not by_booker:
        _recycler_of(actor, booking.organisation)
        if not reason.strip():
            raise _invalid("回收企业取消预约须说明原因", "reason_required", "reason")
    _move(booking, actor, Booking.Status.CANCELLED, allowed=Booking.OPEN, note=reason.strip() or "预约人取消", now=now)
    PickupSlot.objects.filter(pk=booking.slot_id, booked__gt=0).update(booked=F("booked") - 1)
    return booking


# --- collection records -----------------------------------------------------------------------------------


def _check_quantities(category: str, units: int, weight_kg: Decimal, price_fen: int, site: Site) -> None:
    if category not in Category.values:
        raise _invalid(f"未知品类：{category}", "invalid_category", "category")
    if category not in site.categories:
        raise _invalid(f"{site.name}不回收{Category(category).label}", "category_not_served", "category")
    if units < 0:
        raise _invalid("数量不能为负数", "negative_units", "units")
    if units > MAX_UNITS:
        raise _invalid(f"数量超过{MAX_UNITS:,}台（件），请核对", "units_too_large", "units")
    if weight_kg < 0:
        raise _invalid("重量不能为负数", "negative_weight", "weight_kg")
    if price_fen < 0:
        raise _invalid("金额不能为负数", "negative_price", "price_fen")
    if category in MATERIALS and weight_kg <= 0:
        raise _invalid(f"{Category(category).label}按重量回收，请填写重量", "weight_required", "weight_kg")
    if category not in MATERIALS and units < 1:
        raise _invalid(f"{Category(category).label}按台（件）计，数量应至少为1", "units_required", "units")
    if weight_kg > Decimal("1000000"):
        raise _invalid("重量超过1000吨，请核对单位（千克）", "weight_too_large", "weight_kg")


def parse_kg(text: str | Decimal | int | float | None) -> Decimal:
    """Kilograms as typed ("12.5"): at most two decimals (0.001 is refused, not stored as 0.00) and within the
    column (12 digits)."""
    if text is None or str(text).strip() == "":
        return Decimal(0)
    return inputs.decimal(
        text,
        label="重量（千克）",
        max_digits=12,
        decimal_places=2,
        minimum=None,  # a negative weight gets _check_quantities' own message
        field="weight_kg",
        code="invalid_weight",
    )


def parse_yuan(text: str | Decimal | int | float | None, field: str = "price_fen") -> int:
    """Yuan as typed ("35.50") to integer fen, exactly; more than two decimals is refused, never rounded."""
    if text is None or str(text).strip() == "":
        return 0
    return inputs.yuan_to_fen(text, field=field, minimum_fen=-inputs.MAX_FEN)  # negatives: _check_quantities


@transaction.atomic
def record_collection(
    *,
    actor: User,
    site: Site,
    received_on: dt.date,
    source: str,
    category: str,
    units: int = 0,
    weight_kg: Decimal = Decimal(0),
    price_fen: int = 0,
    seller_name: str = "",
    seller_org: str = "",
    external_ref: str = "",
    on_behalf_reason: str = "",
    today: dt.date | None = None,
) -> tuple[CollectionRecord, bool]:
    """One intake at the counter. Returns (record, created): a record with the same 业务单号 is returned, not
    repeated, so re-uploading a file counts nothing twice. The task force may enter one for the recycler only as a
    代录 with `on_behalf_reason`."""
    proxy_reason = _acting_for(actor, site.organisation, on_behalf_reason)
    today = today or timezone.localdate()
    external_ref = external_ref.strip()
    if external_ref and (
        existing := CollectionRecord.objects.filter(organisation=site.organisation, external_ref=external_ref).first()
    ):
        return existing, False
    if source not in CollectionRecord.Source.values or source == CollectionRecord.Source.BOOKING:
        raise _invalid("来源应为个人、企业或行政事业单位", "invalid_source", "source")
    if received_on > today:
        raise _invalid("回收日期不能晚于今天", "date_in_future", "received_on")
    if received_on < today - dt.timedelta(days=366):
        raise _invalid("回收日期早于一年前，请核对", "date_too_old", "received_on")
    _check_quantities(category, units, weight_kg, price_fen, site)
    if source == CollectionRecord.Source.PERSON:
        seller_org = ""
    elif not seller_org.strip():
        raise _invalid("企业或单位交售须填写交售单位名称", "seller_org_required", "seller_org")
    record = CollectionRecord.objects.create(
        site=site,
        organisation=site.organisation,
        region=site.region,
        received_on=received_on,
        source=source,
        category=category,
        units=units,
        weight_kg=weight_kg,
        price_fen=price_fen,
        seller_name=seller_name.strip() if source == CollectionRecord.Source.PERSON else "",
        seller_org=seller_org.strip(),
        external_ref=external_ref,
        created_by=actor,
        proxy_entered_by=actor if proxy_reason else None,
        proxy_reason=proxy_reason,
    )
    audit.record(
        actor=actor,
        action="recycling.collection_recorded",
        target=record,
        changes={
            "site": site.pk,
            "category": category,
            "units": units,
            "weight_kg": str(weight_kg),
            "price_fen": price_fen,
            "ref": external_ref,
            **({"proxy_reason": proxy_reason} if proxy_reason else {}),
        },
    )
    return record, True


# --- certificates -----------------------------------------------------------------------------------------


def _verify_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def _clean_owner_id(value: str) -> str:
    """An owner is a person (resident ID) or an organisation (unified social credit code). When neither fits, a
    value that looks like a resident ID (15 or 18 digits, or 17 and an X) gets the resident-ID validator's
    message, which says what is wrong with it; anything else the general one."""
    try:
        return clean_resident_id(value)
    except ValidationError as exc:
        person = exc
    try:
        return clean_uscc(value)
    except ValidationError:
        pass
    if _LOOKS_LIKE_RESIDENT_ID.fullmatch("".join(value.split())):
        raise _invalid(person.messages[0], "invalid_owner_id", "owner_id")
    raise _invalid("证件号码无效：应为居民身份证号码或统一社会信用代码", "invalid_owner_id", "owner_id")


@transaction.atomic
def issue_certificate(
    *,
    actor: User,
    kind: str,
    site: Site,
    category: str,
    owner_name: str,
    owner_id: str = "",
    issued_on: dt.date | None = None,
    vin: str = "",
    plate: str = "",
    vehicle_type: str = "",
    fuel: str = "",
    emission_standard: str = "",
    registered_on: dt.date | None = None,
    brand_model: str = "",
    serial: str = "",
    wipe_method: str = "",
    record: CollectionRecord | None = None,
    booking: Booking | None = None,
    token: str = "",
    on_behalf_reason: str = "",
    today: dt.date | None = None,
) -> Certificate:
    """Issue a certificate. A car gets one 报废机动车回收证明 ever: a second for its VIN is refused, by this check
    and, under concurrent requests, by the database's unique index. The task force may issue one for the recycler
    only as a 代录 with `on_behalf_reason`, which the certificate and its verification page show."""
    proxy_reason = _acting_for(actor, site.organisation, on_behalf_reason)
    if token and (existing := Certificate.objects.filter(issued_by=actor, token=token).first()):
        return existing
    today = today or timezone.localdate()
    issued_on = issued_on or today
    errors: dict[str, ValidationError] = {}
    owner_name, serial, plate = owner_name.strip(), serial.strip().upper(), "".join(plate.split()).upper()
    if kind not in Certificate.Kind.values:
        raise _invalid("证明类型无效", "invalid_kind", "kind")
    if site.status != Site.Status.OPERATING:
        raise _invalid(f"{site.name}不在运营中，不能出具证明", "site_not_operating", "site")
    if issued_on > today:
        errors["issued_on"] = ValidationError("出具日期不能晚于今天", code="date_in_future")
    elif issued_on < inputs.EARLIEST:
        errors["issued_on"] = ValidationError(f"出具日期不能早于{inputs.EARLIEST:%Y-%m-%d}", code="invalid_date")
    try:
        owner_name = inputs.clean_text(
            owner_name, label="所有人（交售人）", max_length=inputs.PERSON_NAME_MAX, required=True
        )
    except ValidationError as exc:
        errors["owner_name"] = exc
    for name, text in (("serial", serial), ("brand_model", brand_model), ("wipe_method", wipe_method)):
        if len(text) > inputs.max_length(Certificate, name):
            errors[name] = ValidationError(f"最多{inputs.max_length(Certificate, name)}个字", code="too_long")
    if owner_id.strip():
        try:
            owner_id = _clean_owner_id(owner_id)
        except ValidationError as exc:
            errors["owner_id"] = exc.error_dict["owner_id"][0]
    if kind == Certificate.Kind.VEHICLE:
        category = Category.CAR
        if site.kind != Site.Kind.DISMANTLER:
            raise _invalid("报废机动车回收证明只能由报废机动车回收拆解企业出具", "not_a_dismantler", "site")
        try:
            vin = clean_vin(vin)
        except ValidationError as exc:
            errors["vin"] = exc
        if not plate:
            errors["plate"] = ValidationError("请填写号牌号码", code="required")
        if not owner_id.strip() and "owner_id" not in errors:
            errors["owner_id"] = ValidationError("请填写机动车所有人的证件号码", code="required")
        if fuel not in Certificate.Fuel.values:
            errors["fuel"] = ValidationError("请选择燃料类型", code="invalid_fuel")
        if registered_on is None:
            errors["registered_on"] = ValidationError("请填写初次登记日期", code="required")
        elif registered_on > issued_on:
            errors["registered_on"] = ValidationError("初次登记日期不能晚于出具日期", code="invalid_date")
        elif registered_on < EARLIEST_REGISTERED:
            errors["registered_on"] = ValidationError(
                f"初次登记日期不能早于{EARLIEST_REGISTERED:%Y-%m-%d}，请核对", code="invalid_date"
            )
    else:
        vin, plate, fuel, registered_on = "", "", "", None
        allowed = TAKE_BACK if kind == Certificate.Kind.TAKE_BACK else DATA_BEARING
        if category not in allowed:
            errors["category"] = ValidationError(
                f"{Certificate.Kind(kind).label}适用于：{'、'.join(c.label for c in Category if c in allowed)}",
                code="invalid_category",
            )
        if kind == Certificate.Kind.DATA_WIPE:
            if not serial:
                errors["serial"] = ValidationError("请填写设备序列号（IMEI 或 SN）", code="required")
            if not wipe_method.strip():
                errors["wipe_method"] = ValidationError("请填写数据清除方式", code="required")
    if errors:
        raise ValidationError(errors)
    if vin and Certificate.objects.filter(kind=Certificate.Kind.VEHICLE, vin=vin).exists():
        raise _invalid(f"车辆识别代号{vin}已出具过报废机动车回收证明，不能重复出具", "vin_already_certified", "vin")
    if (
        serial
        and kind != Certificate.Kind.VEHICLE
        and (Certificate.objects.filter(kind=kind, category=category, serial=serial).exists())
    ):
        raise _invalid(
            f"序列号{serial}的{Category(category).label}已出具过{Certificate.Kind(kind).label}",
            "serial_already_certified",
            "serial",
        )
    sequence = draw_number(f"certificate-{kind}-{issued_on.year}")
    number = f"{Certificate.PREFIX[Certificate.Kind(kind)]}{issued_on.year}{sequence:06d}"
    certificate = Certificate(
        kind=kind,
        number=number,
        verify_code=_verify_code(),
        site=site,
        organisation=site.organisation,
        region=site.region,
        issued_on=issued_on,
        issued_by=actor,
        category=category,
        owner_name=owner_name,
        owner_id=owner_id,
        owner_id_hash=pii.lookup_hash(owner_id, purpose="resident_id") if owner_id else "",
        vin=vin,
        plate=plate,
        vehicle_type=vehicle_type.strip(),
        fuel=fuel,
        emission_standard=emission_standard.strip(),
        registered_on=registered_on,
        brand_model=brand_model.strip(),
        serial=serial,
        wipe_method=wipe_method.strip(),
        record=record,
        booking=booking,
        token=token,
        proxy_entered_by=actor if proxy_reason else None,
        proxy_reason=proxy_reason,
    )
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin makes this insert fail, not the connection
            certificate.save()
    except IntegrityError:
        if vin:
            raise _invalid(
                f"车辆识别代号{vin}已出具过报废机动车回收证明，不能重复出具", "vin_already_certified", "vin"
            ) from None
        if token and (existing := Certificate.objects.filter(issued_by=actor, token=token).first()):
            return existing
        raise _invalid(f"序列号{serial}已出具过证明", "serial_already_certified", "serial") from None
    audit.record(
        actor=actor,
        action="recycling.certificate_issued",
        target=certificate,
        changes={
            "number": number,
            "kind": kind,
            "category": category,
            "vin": vin,
            "serial": serial,
            **({"proxy_reason": proxy_reason} if proxy_reason else {}),
        },
    )
    return certificate


@transaction.atomic
def revoke_certificate(*, actor: User, certificate: Certificate, reason: str) -> Certificate:
    """作废: a certificate issued in error. It keeps its VIN (a car is scrapped once); reissue by correction. The
    recycler revokes its certificates; the task force only those it entered on the recycler's behalf (代录)."""
    certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if not (is_task_force(actor) and certificate.proxy_entered_by_id is not None):
        _recycler_of(actor, certificate.organisation)
    if not reason.strip():
        raise _invalid("请填写作废原因", "reason_required", "reason")
    if certificate.status == Certificate.Status.REVOKED:
        raise _invalid("该证明已作废", "already_revoked")
    certificate.status = Certificate.Status.REVOKED
    certificate.revoked_reason = reason.strip()[:200]
    certificate.save(update_fields=["status", "revoked_reason"])
    audit.record(
        actor=actor, action="recycling.certificate_revoked", target=certificate, changes={"reason": reason.strip()}
    )
    return certificate


# --- townships --------------------------------------------------------------------------------------------


@transaction.atomic
def load_townships(*, actor: User | None, data: dict[str, list[str]]) -> int:
    """Add the townships of each county (keyed by region code) that are not there yet; returns how many were
    added. Unknown county codes are refused before anything is written. The task force (or, with `actor=None`,
    the command) loads them."""
    if actor is not None and not is_task_force(actor):
        raise PermissionDenied("乡镇（街道）名录由工作专班导入")
    regions = {r.code: r for r in Region.objects.filter(code__in=[str(c) for c in data])}
    unknown = [str(code) for code in data if str(code) not in regions]
    if unknown:
        raise _invalid(f"未知的县区代码：{'、'.join(unknown)}", "unknown_region")
    added = 0
    for code, names in data.items():
        region = regions[str(code)]
        for name in names:
            _, created = Township.objects.get_or_create(region=region, name=str(name).strip())
            added += created
    if added:
        audit.record(
            actor=actor,
            action="recycling.townships_loaded",
            object_type="recycling.township",
            changes={"added": added, "counties": sorted(str(c) for c in data)},
        )
    return added


# --- the reverse-invoicing rule ----------------------------------------------------------------------------

DEFAULT_TAX_RULE: dict[str, Any] = {
    "effective_from": dt.date(2024, 4, 29),
    "name": "资源回收企业向自然人报废产品出售者“反向开票”",
    "rolling_cap_fen": 5_000_000 * 100,
    "vat_free_monthly_fen": 100_000 * 100,
    "vat_rate_bp": 100,
    "iit_rate_bp": 50,
    "source": "国家税务总局公告2024年第5号",
}


@transaction.atomic
def ensure_default_tax_rule(*, actor: User | None = None) -> TaxRule:
    """The rule of 国家税务总局公告2024年第5号 (the first migration adds it; this restores it on an emptied
    database, e.g. after a test that flushes the tables)."""
    fields = dict(DEFAULT_TAX_RULE)
    rule, created = TaxRule.objects.get_or_create(effective_from=fields.pop("effective_from"), defaults=fields)
    if created:
        audit.record(actor=actor, action="recycling.tax_rule_added", target=rule, changes={"source": rule.source})
    return rule
