"""Recycling API (/api/v1/recycling/…): the public site list and certificate check; bookings for citizens and
merchants' tills; collection records and certificates for recyclers' own systems (API token).

Writes take an `Idempotency-Key` header (or the record's own `external_ref`): a retried request returns the first
result and acts once. Refusals are 422 with the service's stable code: {"code": "vin_already_certified", …}.
"""

# Annotations are evaluated here, not postponed: ninja resolves a paginated view's string annotations in its own
# module, where this module's types (Key, Search) are unknown.

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate

from huanxin.core import throttle
from huanxin.core.models import Region
from huanxin.core.schemas import (
    Amount2,
    Count,
    Day,
    Fen,
    Id,
    Key,
    Line,
    Moment,
    Pages,
    RegistrationDay,
    RequiredLine,
    Search,
    SmallCount,
    Text,
    answers,
)
from huanxin.core.views import actor, api_refusal
from huanxin.recycling import selectors, services
from huanxin.recycling.models import Booking, Certificate, PickupSlot, Site

router = Router(tags=["回收网络"])


def _idempotency_key(request: HttpRequest) -> str:
    return request.headers.get("Idempotency-Key", "").strip()[:64]


# --- public -----------------------------------------------------------------------------------------------


class SiteOut(Schema):
    id: int
    name: str
    kind: str
    kind_label: str = Field(..., alias="get_kind_display")
    organisation: str = Field(..., alias="organisation.name")
    region: str = Field(..., alias="region.code")
    region_name: str = Field(..., alias="region.name")
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    categories: list[str]
    opening_hours: str
    phone: str
    offers_pickup: bool
    is_sorting_point: bool


@router.get("/recycling/sites", response=answers(list[SiteOut], 422), auth=None, summary="回收网点（公开）")
@paginate(Pages, page_size=50)
def list_sites(request: HttpRequest, region: Key = "", category: Key = "", kind: Key = "", q: Search = ""):  # type: ignore[no-untyped-def]
    return selectors.search_sites(Site.objects.public(), q=q, region=region, category=category, kind=kind)


class VerifyOut(Schema):
    valid: bool
    status: str
    kind: str
    kind_label: str
    number: str
    issued_on: dt.date
    organisation: str
    site: str
    category: str
    vin_masked: str
    serial: str
    owner_masked: str


# The same scope as the verification page's (views.VERIFY_LOOKUPS): one count of failed checks for both.
VERIFY_LOOKUPS = throttle.LookupThrottle("recycling.verify")


@router.get(
    "/recycling/certificates/verify",
    response=answers(VerifyOut, 404, 422, 429),
    auth=None,
    summary="核验回收证明（公开，凭编号和校验码）",
)
def verify_certificate(request: HttpRequest, number: Key, code: Key) -> VerifyOut:
    wait = VERIFY_LOOKUPS.wait(request, number)
    if wait:
        raise throttle.TooManyLookups(wait)
    certificate = selectors.verify_certificate(number, code)
    if certificate is None:
        VERIFY_LOOKUPS.failed(request, number)
        error = HttpError(404, "未找到匹配的证明：请核对编号和校验码")
        error.code = "certificate_not_found"  # type: ignore[attr-defined]
        raise error
    return VerifyOut(
        valid=certificate.status == Certificate.Status.VALID,
        status=certificate.status,
        kind=certificate.kind,
        kind_label=certificate.get_kind_display(),
        number=certificate.number,
        issued_on=certificate.issued_on,
        organisation=certificate.organisation.name,
        site=certificate.site.name,
        category=certificate.category,
        vin_masked=certificate.masked_vin,
        serial=certificate.serial,
        owner_masked=certificate.masked_owner,
    )


# --- bookings ---------------------------------------------------------------------------------------------


class SlotOut(Schema):
    id: int
    site: str = Field(..., alias="site.name")
    organisation: str = Field(..., alias="site.organisation.name")
    starts_at: dt.datetime
    ends_at: dt.datetime
    remaining: int


@router.get("/recycling/slots", response=answers(list[SlotOut], 401, 404, 422), summary="可预约的上门时段")
def open_slots(request: HttpRequest, region: Key, category: Key) -> list[PickupSlot]:
    county = get_object_or_404(Region, code=region, parent__isnull=False)
    return list(PickupSlot.objects.open_for(region=county, category=category, now=timezone.now())[:100])


class BookingItemSchema(Schema):
    category: RequiredLine = Field(max_length=20)
    count: SmallCount = Field(1, ge=1)


class BookingIn(Schema):
    slot: Id
    region: RequiredLine = Field(max_length=12)
    items: list[BookingItemSchema] = Field(max_length=20)
    contact_name: RequiredLine = Field(max_length=40)
    phone: RequiredLine = Field(max_length=20)
    address: RequiredLine = Field(max_length=120)
    note: Text = Field("", max_length=200)


class BookingOut(Schema):
    number: str
    status: str
    status_label: str = Field(..., alias="get_status_display")
    channel: str
    site: str = Field(..., alias="site.name")
    region: str = Field(..., alias="region.code")
    slot_starts_at: dt.datetime = Field(..., alias="slot.starts_at")
    visit_at: dt.datetime | None
    accept_by: dt.datetime
    complete_by: dt.datetime
    paid_fen: int
    contact: str = Field(..., alias="masked_name")
    phone: str = Field(..., alias="masked_phone")
    items: list[BookingItemSchema]

    @staticmethod
    def resolve_items(obj: Booking) -> list[dict[str, object]]:
        return [{"category": i.category, "count": i.count} for i in obj.items.all()]


@router.post(
    "/recycling/bookings",
    response=answers({201: BookingOut}, 400, 401, 403, 404, 422),
    summary="预约上门回收（居民，或商户为顾客代约）",
)
def create_booking(request: HttpRequest, payload: BookingIn) -> Status:
    slot = get_object_or_404(PickupSlot, pk=payload.slot)
    region = get_object_or_404(Region, code=payload.region, parent__isnull=False)
    try:
        booking = services.book_pickup(
            actor=actor(request),
            slot=slot,
            region=region,
            items=[services.ItemIn(i.category, i.count) for i in payload.items],
            contact_name=payload.contact_name,
            phone=payload.phone,
            address=payload.address,
            note=payload.note,
            token=_idempotency_key(request),
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(201, booking)


@router.get("/recycling/bookings", response=answers(list[BookingOut], 401, 422), summary="上门回收预约（按权限）")
@paginate(Pages, page_size=50)
def list_bookings(request: HttpRequest, status: Key = ""):  # type: ignore[no-untyped-def]
    qs = Booking.objects.visible_to(request.user).select_related("site", "region", "slot").prefetch_related("items")
    return qs.filter(status=status) if status else qs


@router.get("/recycling/bookings/{number}", response=answers(BookingOut, 401, 404, 422), summary="一个预约")
def get_booking(request: HttpRequest, number: Key) -> Booking:
    return get_object_or_404(Booking.objects.visible_to(request.user), number=number)


class LineSchema(Schema):
    category: RequiredLine = Field(max_length=20)
    units: Count = 0
    weight_kg: Amount2 = Decimal(0)
    price_fen: Fen = 0


class ActionIn(Schema):
    visit_at: Moment | None = Field(None, description="约定上门时间，须带时区，如 2025-06-01T09:00:00+08:00")
    lines: list[LineSchema] = Field([], max_length=20)
    reason: Text = Field("", max_length=200)


@router.post(
    "/recycling/bookings/{number}/{action}",
    response=answers(BookingOut, 400, 401, 403, 404, 422),
    summary="接单、完成、上门未遇、取消",
)
def act_on_booking(
    request: HttpRequest, number: Key, action: Literal["accept", "complete", "no-show", "cancel"], payload: ActionIn
) -> Booking:
    user = actor(request)
    booking = get_object_or_404(Booking.objects.visible_to(user), number=number)
    try:
        if action == "accept":
            return services.accept_booking(actor=user, booking=booking, visit_at=payload.visit_at)
        if action == "complete":
            lines = [services.LineIn(x.category, x.units, x.weight_kg, x.price_fen) for x in payload.lines]
            return services.complete_booking(actor=user, booking=booking, lines=lines)
        if action == "no-show":
            return services.mark_no_show(actor=user, booking=booking, note=payload.reason)
        if action == "cancel":
            return services.cancel_booking(actor=user, booking=booking, reason=payload.reason)
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    raise PermissionDenied("未知操作：应为 accept、complete、no-show 或 cancel")


# --- recyclers' systems -----------------------------------------------------------------------------------


class RecordIn(Schema):
    site: Id
    received_on: Day
    source: RequiredLine = Field(max_length=20)
    category: RequiredLine = Field(max_length=20)
    units: Count = 0
    weight_kg: Amount2 = Decimal(0)
    price_fen: Fen = 0
    seller_name: Line = Field("", max_length=40)
    seller_org: Line = Field("", max_length=120)
    external_ref: Line = Field("", max_length=40)


class RecordOut(Schema):
    id: int
    site: int
    received_on: dt.date
    source: str
    category: str
    units: int
    weight_kg: Decimal
    price_fen: int
    external_ref: str
    created: bool = True


@router.post(
    "/recycling/records",
    response=answers({200: RecordOut, 201: RecordOut}, 400, 401, 403, 404, 422),
    summary="登记回收记录（回收企业）",
)
def create_record(request: HttpRequest, payload: RecordIn) -> Status:
    user = actor(request)
    site = get_object_or_404(Site.objects.visible_to(user), pk=payload.site)
    try:
        record, created = services.record_collection(
            actor=user,
            site=site,
            received_on=payload.received_on,
            source=payload.source,
            category=payload.category,
            units=payload.units,
            weight_kg=payload.weight_kg,
            price_fen=payload.price_fen,
            seller_name=payload.seller_name,
            seller_org=payload.seller_org,
            external_ref=payload.external_ref or _idempotency_key(request),
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    out = RecordOut(
        id=record.pk,
        site=record.site_id,
        received_on=record.received_on,
        source=record.source,
        category=record.category,
        units=record.units,
        weight_kg=record.weight_kg,
        price_fen=record.price_fen,
        external_ref=record.external_ref,
        created=created,
    )
    return Status(201 if created else 200, out)


class CertificateIn(Schema):
    kind: RequiredLine = Field(max_length=20)
    site: Id
    category: Line = Field("", max_length=20)
    owner_name: RequiredLine = Field(max_length=120)
    owner_id: Line = Field("", max_length=30)
    issued_on: Day | None = None
    vin: Line = Field("", max_length=17)
    plate: Line = Field("", max_length=20)
    vehicle_type: Line = Field("", max_length=30)
    fuel: Line = Field("", max_length=10)
    emission_standard: Line = Field("", max_length=10)
    registered_on: RegistrationDay | None = None
    brand_model: Line = Field("", max_length=60)
    serial: Line = Field("", max_length=40)
    wipe_method: Line = Field("", max_length=60)
    booking: Line = Field("", max_length=20)


class CertificateOut(Schema):
    number: str
    verify_code: str
    kind: str
    status: str
    issued_on: dt.date
    site: int = Field(..., alias="site_id")
    category: str
    vin: str
    serial: str
    owner: str = Field(..., alias="masked_owner")


@router.post(
    "/recycling/certificates",
    response=answers({201: CertificateOut}, 400, 401, 403, 404, 422),
    summary="出具回收证明（回收企业）",
)
def issue_certificate(request: HttpRequest, payload: CertificateIn) -> Status:
    user = actor(request)
    site = get_object_or_404(Site.objects.visible_to(user), pk=payload.site)
    booking = None
    if payload.booking:
        booking = get_object_or_404(Booking.objects.visible_to(user), number=payload.booking)
    fields = payload.dict(exclude={"kind", "site", "booking"})
    try:
        certificate = services.issue_certificate(
            actor=user, kind=payload.kind, site=site, booking=booking, token=_idempotency_key(request), **fields
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(201, certificate)


@router.get(
    "/recycling/certificates/{number}",
    response=answers(CertificateOut, 401, 404, 422),
    summary="一份回收证明（按权限）",
)
def get_certificate(request: HttpRequest, number: Key) -> Certificate:
    return get_object_or_404(Certificate.objects.visible_to(request.user), number=number)
