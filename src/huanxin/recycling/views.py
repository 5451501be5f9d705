"""Pages of the recycling network.

Public (no login): the site map/list, a site's page, certificate verification. Citizens and merchants book
pickups; recyclers run their sites, slots, bookings, collection records and certificates; officials read the
network, its coverage and its overdue bookings. Plain forms that redirect after a successful POST; a refused
one re-renders with the service's messages beside the fields.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import inputs, throttle, uploads
from huanxin.core.exports import XLSX, attachment_response, build_workbook
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role, is_official, is_task_force, reads_everything
from huanxin.core.views import actor, form_errors, get_visible_or_404
from huanxin.recycling import excel, selectors, services
from huanxin.recycling import jobs as recycling_jobs
from huanxin.recycling.categories import BOOKABLE, DATA_BEARING, TAKE_BACK, Category
from huanxin.recycling.models import Booking, Certificate, CollectionRecord, PickupSlot, Site, Township

PER_PAGE = 30
SLOTS_SHOWN = 12  # the earliest open slots; a phone screen shows them without endless scrolling


def _date(value: str) -> dt.date | None:
    return inputs.filter_date(value, earliest=dt.date(1950, 1, 1))


def _int(value: str | None) -> int:
    return inputs.lenient_int(value)


def _is_recycler(user: Any) -> bool:
    return getattr(user, "role", None) == Role.RECYCLER and bool(getattr(user, "organisation_id", None))


def _page(request: HttpRequest, queryset: QuerySet[Any], per_page: int = PER_PAGE) -> Any:
    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def _query(filters: dict[str, str]) -> str:
    return urlencode({k: v for k, v in filters.items() if v})


# --- home -------------------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """回收网络: a recycler's workspace, the officials' overview; citizens and merchants go to their bookings."""
    user = request.user
    if _is_recycler(user):
        return _recycler_home(request)
    if not is_official(user):
        return redirect("recycling:bookings")
    today = timezone.localdate()
    year_start = today.replace(month=1, day=1)
    bookings = Booking.objects.visible_to(user)
    records = CollectionRecord.objects.visible_to(user).filter(received_on__gte=year_start)
    certificates = Certificate.objects.visible_to(user).filter(issued_on__gte=year_start, status="valid")
    sites = Site.objects.visible_to(user)
    return render(
        request,
        "recycling/overview.html",
        {
            "coverage": selectors.coverage(),
            "sites": sites.filter(status=Site.Status.OPERATING).values("kind").annotate(n=Count("pk")).order_by("kind"),
            "kinds": dict(Site.Kind.choices),
            "booking_counts": selectors.booking_counts(bookings),
            "overdue": selectors.overdue_by_recycler(bookings),
            "by_category": selectors.collected_by_category(records),
            "certificates": certificates.values("kind").annotate(n=Count("pk")).order_by("kind"),
            "year": today.year,
            "statuses": Booking.Status,
        },
    )


def _recycler_home(request: HttpRequest) -> HttpResponse:
    user = request.user
    bookings = Booking.objects.visible_to(user)
    now = timezone.now()
    today = timezone.localdate()
    return render(
        request,
        "recycling/workspace.html",
        {
            "organisation": user.organisation,  # type: ignore[union-attr]
            "sites": Site.objects.filter(organisation_id=getattr(user, "organisation_id", 0)),
            "counts": selectors.booking_counts(bookings),
            "overdue": selectors.overdue(bookings, now=now).select_related("site")[:20],
            "visits": bookings.filter(status=Booking.Status.ACCEPTED, visit_at__date=today)
            .select_related("site")
            .order_by("visit_at"),
            "month": CollectionRecord.objects.visible_to(user)
            .filter(received_on__gte=today.replace(day=1))
            .aggregate(rows=Count("pk"), units=Sum("units"), kg=Sum("weight_kg"), paid=Sum("price_fen")),
            "now": now,
        },
    )


# --- public: sites and verification -----------------------------------------------------------------------


@login_not_required
def site_list(request: HttpRequest) -> HttpResponse:
    """The public list (and map) of operating sites, searchable by county, category and kind."""
    filters = {k: request.GET.get(k, "").strip() for k in ("q", "region", "category", "kind")}
    base = Site.objects.visible_to(request.user) if is_official(request.user) else Site.objects.public()
    sites = selectors.search_sites(base, **filters).order_by("region__code", "kind", "name")
    page = _page(request, sites)
    points = [
        {"name": s.name, "value": [float(s.longitude), float(s.latitude)], "kind": s.get_kind_display(), "k": s.kind}
        for s in sites
        if s.latitude is not None and s.longitude is not None
    ][:2000]
    # The map colours each county by its operating sites (the whole network, not the filtered list): a code ties a
    # county to the map's shape, so a renamed county still lands on its own outline.
    county_rows = selectors.coverage()
    county_data = [
        {
            "code": c.region.code,
            "name": c.region.name,
            "sites": c.sites,
            "townships": len(c.townships),
            "covered": len(c.covered),
            "pct": c.coverage_pct,
        }
        for c in county_rows
    ]
    return render(
        request,
        "recycling/site_list.html",
        {
            "page": page,
            "county_rows": county_rows,
            "county_data": county_data,
            "filters": filters,
            "query": _query(filters),
            "counties": selectors.counties(),
            "categories": Category.choices,
            "kinds": Site.Kind.choices,
            "points": points,
        },
    )


@login_not_required
def site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    base = Site.objects.visible_to(request.user) if request.user.is_authenticated else Site.objects.public()
    site = get_visible_or_404(base.select_related("region", "township", "organisation"), pk=pk)
    can_edit = is_task_force(request.user) or (
        _is_recycler(request.user) and request.user.organisation_id == site.organisation_id  # type: ignore[union-attr]
    )
    return render(request, "recycling/site_detail.html", {"site": site, "can_edit": can_edit})


# The page and GET /api/v1/recycling/certificates/verify share this scope and so their counts of failures.
VERIFY_LOOKUPS = throttle.LookupThrottle("recycling.verify")


@login_not_required
def verify(request: HttpRequest) -> HttpResponse:
    """Anyone with a certificate's number and verification code checks it: validity, issuer, the item; the
    owner masked. Failed checks are throttled per address and per number (core/throttle.py), a refusal is 429."""
    number, code = request.GET.get("number", "").strip(), request.GET.get("code", "").strip()
    wait = VERIFY_LOOKUPS.wait(request, number) if number and code else 0
    certificate = selectors.verify_certificate(number, code) if number and code and not wait else None
    if number and code and not wait and certificate is None:
        VERIFY_LOOKUPS.failed(request, number)
    return render(
        request,
        "recycling/verify.html",
        {
            "number": number,
            "code": code,
            "certificate": certificate,
            "checked": bool(number and code and not wait),
            "throttled": throttle.message(wait) if wait else "",
        },
        status=429 if wait else 200,
    )


# --- sites (recyclers, the task force) ----------------------------------------------------------------------


def _site_fields(post: Any) -> dict[str, Any]:
    region = Region.objects.filter(code=post.get("region", "")).first()
    township = Township.objects.filter(pk=_int(post.get("township"))).first() if post.get("township") else None

    def coordinate(name: str) -> Decimal | None:
        text = post.get(name, "").strip()
        try:
            return Decimal(text).quantize(Decimal("0.000001")) if text else None
        except ArithmeticError:
            return Decimal(9999)  # out of range: the service names the field

    return {
        "name": post.get("name", ""),
        "kind": post.get("kind", ""),
        "region": region,
        "township": township,
        "address": post.get("address", ""),
        "latitude": coordinate("latitude"),
        "longitude": coordinate("longitude"),
        "categories": post.getlist("categories"),
        "opening_hours": post.get("opening_hours", "").strip(),
        "phone": post.get("phone", "").strip(),
        "status": post.get("status", Site.Status.OPERATING),
        "is_sorting_point": post.get("is_sorting_point") == "on",
        "offers_pickup": post.get("offers_pickup") == "on",
        "qualification_no": post.get("qualification_no", ""),
        "opened_on": _date(post.get("opened_on", "")),
    }


def site_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = actor(request)
    if not (_is_recycler(user) or is_task_force(user)):
        raise PermissionDenied("只有回收企业和工作专班可以登记站点")
    site = get_visible_or_404(Site.objects.visible_to(user), pk=pk) if pk else None
    recyclers = Organisation.objects.filter(kind=Organisation.Kind.RECYCLER)
    errors: dict[str, str] = {}
    form: dict[str, Any] = {}
    if request.method == "POST":
        fields = _site_fields(request.POST)
        if site is not None:
            organisation = site.organisation
        elif is_task_force(user):
            organisation = recyclers.filter(pk=_int(request.POST.get("organisation"))).first()  # type: ignore[assignment]
        else:
            organisation = user.organisation  # type: ignore[assignment]
        try:
            if organisation is None:
                raise ValidationError({"organisation": ValidationError("请选择运营单位（回收企业）")})
            saved = services.save_site(actor=user, organisation=organisation, site=site, **fields)
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
            form = {**request.POST.dict(), "categories": request.POST.getlist("categories")}
        else:
            messages.success(request, f"站点“{saved.name}”已保存")
            return redirect("recycling:site", pk=saved.pk)
    elif site is not None:
        form = {
            **{k: getattr(site, k) for k in services.SITE_FIELDS},
            "region": site.region.code,
            "township": site.township_id or "",
            "opened_on": site.opened_on.isoformat() if site.opened_on else "",
            "latitude": site.latitude if site.latitude is not None else "",
            "longitude": site.longitude if site.longitude is not None else "",
        }
    else:
        form = {"status": Site.Status.OPERATING, "categories": []}
    return render(
        request,
        "recycling/site_form.html",
        {
            "site": site,
            "form": form,
            "errors": errors,
            "counties": selectors.counties(),
            "townships": Township.objects.select_related("region"),
            "categories": Category.choices,
            "kinds": Site.Kind.choices,
            "statuses": Site.Status.choices,
            "recyclers": recyclers if is_task_force(user) and site is None else None,
        },
    )


def _parse_windows(text: str) -> list[tuple[dt.time, dt.time]]:
    """ "09:00-12:00, 14:00-17:00" → [(09:00, 12:00), (14:00, 17:00)]"""
    windows = []
    for part in text.replace("，", ",").replace("－", "-").replace("—", "-").split(","):
        if not part.strip():
            continue
        try:
            start, end = (dt.time.fromisoformat(p.strip()) for p in part.split("-"))
        except ValueError:
            raise ValidationError({"windows": ValidationError(f"时段“{part.strip()}”格式应为 09:00-12:00")}) from None
        windows.append((start, end))
    return windows


def site_slots(request: HttpRequest, pk: int) -> HttpResponse:
    """A site's pickup slots: the coming ones with their bookings, and a form to open more."""
    user = actor(request)
    site = get_visible_or_404(Site.objects.visible_to(user), pk=pk)
    if not (_is_recycler(user) or is_official(user)):
        raise PermissionDenied
    errors: dict[str, str] = {}
    today = timezone.localdate()
    form = {
        "first_day": (today + dt.timedelta(days=1)).isoformat(),
        "last_day": (today + dt.timedelta(days=14)).isoformat(),
        "windows": "09:00-12:00, 14:00-17:00",
        "capacity": "8",
    }
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in form}
        try:
            first, last = _date(form["first_day"]), _date(form["last_day"])
            if first is None or last is None:
                raise ValidationError({"first_day": ValidationError("请填写起止日期")})
            opened = services.open_slots(
                actor=user,
                site=site,
                first_day=first,
                last_day=last,
                windows=_parse_windows(form["windows"]),
                capacity=_int(form["capacity"]),
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, f"已开放{opened}个时段" if opened else "这些时段都已开放过，没有新增")
            return redirect("recycling:site_slots", pk=site.pk)
    slots = PickupSlot.objects.filter(site=site, ends_at__gte=timezone.now()).order_by("starts_at")
    return render(
        request,
        "recycling/site_slots.html",
        {
            "site": site,
            "page": _page(request, slots, 40),
            "form": form,
            "errors": errors,
            "can_open": _is_recycler(user),
        },
    )


def coverage(request: HttpRequest) -> HttpResponse:
    if not is_official(request.user):
        raise PermissionDenied("网点覆盖情况仅供政府工作人员查看")
    return render(request, "recycling/coverage.html", {"rows": selectors.coverage()})


# --- bookings ---------------------------------------------------------------------------------------------


def _booking_items(post: Any) -> list[services.ItemIn]:
    return [
        services.ItemIn(code, max(_int(post.get(f"count_{code}")), 1))
        for code in post.getlist("categories")
        if code in Category.values
    ]


def book(request: HttpRequest) -> HttpResponse:
    """预约上门回收: choose county and items, find open slots, pick one, give the address. A merchant fills it
    in for a customer at the till (收旧+换新)."""
    user = actor(request)
    if user.role not in (Role.CITIZEN, Role.MERCHANT):
        raise PermissionDenied("上门回收由居民本人预约，或由商户为顾客代约")
    post = request.POST if request.method == "POST" else request.GET
    form: dict[str, Any] = {
        "region": post.get("region", ""),
        "township": post.get("township", ""),
        # a citizen's own: the verified identity (实名) when there is one; a merchant types the customer's
        "contact_name": post.get(
            "contact_name", "" if user.role == Role.MERCHANT else user.verified_name or user.display_name
        ),
        "phone": post.get("phone", "" if user.role == Role.MERCHANT else user.verified_phone or user.phone),
        "address": post.get("address", ""),
        "note": post.get("note", ""),
        "slot": post.get("slot", ""),
        "token": post.get("token") or uuid.uuid4().hex,
        "categories": post.getlist("categories") or ([post["category"]] if post.get("category") else []),
        "counts": {c: post.get(f"count_{c}", "1") for c in Category.values},
    }
    region = Region.objects.filter(code=form["region"], parent__isnull=False).first()
    items = _booking_items(post) if form["categories"] else []
    errors: dict[str, str] = {}
    slots = _open_slots(region, [i.category for i in items])
    if request.method == "POST" and "submit" in request.POST:
        slot = PickupSlot.objects.filter(pk=_int(form["slot"])).first()
        try:
            if region is None:
                raise ValidationError({"region": ValidationError("请选择所在县区")})
            if slot is None:
                raise ValidationError({"slot": ValidationError("请选择上门时段")})
            booking = services.book_pickup(
                actor=user,
                slot=slot,
                region=region,
                township=Township.objects.filter(pk=_int(form["township"]), region=region).first(),
                items=items,
                contact_name=form["contact_name"],
                phone=form["phone"],
                address=form["address"],
                note=form["note"],
                token=form["token"],
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, f"预约成功，预约号 {booking.number}。回收企业接单后会按约定时间上门。")
            return redirect("recycling:booking", number=booking.number)
    return render(
        request,
        "recycling/book.html",
        {
            "form": form,
            "errors": errors,
            "slots": slots,
            "searched": region is not None and bool(items),
            "counties": selectors.counties(),
            "townships": Township.objects.filter(region=region) if region else [],
            "categories": [(c.value, c.label) for c in BOOKABLE],
            "for_customer": user.role == Role.MERCHANT,
        },
    )


def _open_slots(region: Region | None, categories: list[str]) -> list[PickupSlot]:
    if region is None or not categories:
        return []
    slots = PickupSlot.objects.open_for(region=region, category=categories[0], now=timezone.now())
    return [s for s in slots[:200] if all(c in s.site.categories for c in categories)][:SLOTS_SHOWN]


def book_slots(request: HttpRequest) -> HttpResponse:
    """The slot list of the booking form (htmx refreshes it when the county or the items change)."""
    region = Region.objects.filter(code=request.GET.get("region", ""), parent__isnull=False).first()
    categories = [c for c in request.GET.getlist("categories") if c in Category.values]
    return render(
        request,
        "recycling/_slots.html",
        {"slots": _open_slots(region, categories), "searched": region is not None and bool(categories), "form": {}},
    )


def booking_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "q", "region", "overdue")}
    qs: QuerySet[Booking] = Booking.objects.visible_to(user).select_related("site", "region").prefetch_related("items")
    if filters["status"]:
        qs = qs.filter(status=filters["status"])
    if filters["q"]:
        qs = qs.filter(number__icontains=filters["q"])
    if filters["region"]:
        qs = qs.filter(region__code=filters["region"])
    if filters["overdue"]:
        qs = selectors.overdue(qs)
    return render(
        request,
        "recycling/booking_list.html",
        {
            "page": _page(request, qs),
            "filters": filters,
            "query": _query(filters),
            "statuses": Booking.Status.choices,
            "counties": selectors.counties() if is_official(user) else None,
            "can_book": getattr(user, "role", None) in (Role.CITIZEN, Role.MERCHANT),
            "now": timezone.now(),
        },
    )


def _sees_contact(user: Any, booking: Booking) -> bool:
    """The booker and the recycler serving the booking see the address and phone in full; others masked."""
    return user.pk == booking.created_by_id or (_is_recycler(user) and user.organisation_id == booking.organisation_id)


def booking_detail(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    booking = get_visible_or_404(
        Booking.objects.visible_to(user).select_related("site__organisation", "slot", "region", "township"),
        number=number,
    )
    serving = _is_recycler(user) and user.organisation_id == booking.organisation_id  # type: ignore[union-attr]
    booker = user.pk == booking.created_by_id or (
        getattr(user, "role", None) == Role.MERCHANT and user.organisation_id == booking.merchant_id  # type: ignore[union-attr]
    )
    items = list(booking.items.all())
    return render(
        request,
        "recycling/booking_detail.html",
        {
            "booking": booking,
            "items": items,
            "events": booking.events.select_related("actor"),
            "records": booking.records.all(),
            "certificates": booking.certificates.all(),
            "full_contact": _sees_contact(user, booking),
            "serving": serving,
            "booker": booker,
            "overdue": booking.overdue_reason(),
            "take_back": [i for i in items if i.category in TAKE_BACK],
            "errors": {},
        },
    )


@require_POST
def booking_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    user = actor(request)
    booking = get_visible_or_404(Booking.objects.visible_to(user), number=number)
    try:
        if action == "accept":
            visit = request.POST.get("visit_at", "").strip()
            visit_at = None
            if visit:
                try:
                    visit_at = timezone.make_aware(dt.datetime.fromisoformat(visit))
                except ValueError:
                    raise ValidationError({"visit_at": ValidationError("上门时间格式不正确")}) from None
            services.accept_booking(actor=user, booking=booking, visit_at=visit_at)
            messages.success(request, "已接单")
        elif action == "complete":
            lines = []
            for item in booking.items.all():
                code = item.category
                lines.append(
                    services.LineIn(
                        code,
                        _int(request.POST.get(f"units_{code}")),
                        services.parse_kg(request.POST.get(f"kg_{code}")),
                        services.parse_yuan(request.POST.get(f"price_{code}")),
                    )
                )
            lines = [line for line in lines if line.units or line.weight_kg]
            services.complete_booking(actor=user, booking=booking, lines=lines)
            messages.success(request, "已完成回收，回收记录已入账")
        elif action == "no_show":
            services.mark_no_show(actor=user, booking=booking, note=request.POST.get("note", ""))
            messages.success(request, "已记录上门未遇")
        elif action == "cancel":
            services.cancel_booking(actor=user, booking=booking, reason=request.POST.get("reason", ""))
            messages.success(request, "预约已取消")
        else:
            raise PermissionDenied("未知操作")
    except (ValidationError, PermissionDenied) as exc:
        for message in form_errors(exc).values():
            messages.error(request, message)
    return redirect("recycling:booking", number=booking.number)


# --- collection records -----------------------------------------------------------------------------------


def _records_or_403(user: Any) -> QuerySet[CollectionRecord]:
    if not (_is_recycler(user) or is_official(user)):
        raise PermissionDenied("回收记录仅供回收企业和政府工作人员查看")
    return CollectionRecord.objects.visible_to(user)


RECORD_HEADERS = [
    "回收日期",
    "县区",
    "站点",
    "来源",
    "品类",
    "数量（台/件）",
    "重量（千克）",
    "收购金额（元）",
    "交售人/单位",
    "业务单号",
]


RECORD_FILTERS = ("month", "category", "site", "source", "region")


def filtered_records(user: Any, filters: dict[str, str]) -> QuerySet[CollectionRecord]:
    """The records `user` sees, narrowed by the list's filters: the page, its export and the export job."""
    qs = _records_or_403(user).select_related("site", "region")
    if month := _date(f"{filters['month']}-01") if filters["month"] else None:
        end = (month + dt.timedelta(days=32)).replace(day=1)
        qs = qs.filter(received_on__gte=month, received_on__lt=end)
    if filters["category"]:
        qs = qs.filter(category=filters["category"])
    if filters["site"]:
        qs = qs.filter(site_id=_int(filters["site"]))
    if filters["source"]:
        qs = qs.filter(source=filters["source"])
    if filters["region"]:
        qs = qs.filter(region__code=filters["region"])
    return qs


def records_workbook(qs: QuerySet[CollectionRecord], progress: Callable[[int], None] | None = None) -> bytes:
    """The records as the list's Excel export; `progress(rows so far)` every thousand rows (the export job)."""

    def rows() -> Iterator[list[Any]]:
        for n, r in enumerate(qs.iterator(chunk_size=2000), start=1):
            yield [
                r.received_on,
                r.region.name,
                r.site.name,
                r.get_source_display(),
                r.get_category_display(),
                r.units,
                float(r.weight_kg),
                float(Decimal(r.price_fen) / 100),
                r.seller_org or (r.seller_name[:1] + "**" if r.seller_name else ""),
                r.external_ref,
            ]
            if progress is not None and n % 1000 == 0:
                progress(n)

    return build_workbook(title="回收记录", headers=RECORD_HEADERS, rows=rows())


def record_list(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in RECORD_FILTERS}
    qs = filtered_records(request.user, filters)
    if request.GET.get("format") == "xlsx":
        count = qs.count()
        if count > recycling_jobs.EXPORT_AT_ONCE:  # built by a worker; its page offers the file when done
            job = recycling_jobs.start_export(actor=actor(request), export="records", filters=filters, rows=count)
            return redirect("jobs:detail", pk=job.pk)
        return attachment_response(records_workbook(qs), content_type=XLSX, filename="回收记录.xlsx")
    return render(
        request,
        "recycling/record_list.html",
        {
            "page": _page(request, qs, 50),
            "filters": filters,
            "query": _query(filters),
            "totals": selectors.collected_by_category(qs),
            "categories": Category.choices,
            "sources": CollectionRecord.Source.choices,
            "sites": Site.objects.visible_to(request.user).filter(
                **({"organisation_id": request.user.organisation_id} if _is_recycler(request.user) else {})  # type: ignore[union-attr]
            ),
            "counties": selectors.counties() if is_official(request.user) else None,
            "is_recycler": _is_recycler(request.user),
            "may_proxy": is_task_force(request.user),
        },
    )


def _own_sites(user: Any) -> QuerySet[Site]:
    if not _is_recycler(user):
        raise PermissionDenied("只有回收企业可以登记回收记录和出具证明")
    return Site.objects.filter(organisation_id=user.organisation_id, status=Site.Status.OPERATING)


def _entry_sites(user: Any) -> QuerySet[Site]:
    """Sites the user writes records and certificates for: a recycler its own; the task force any operating
    site, as a 代录 on the recycler's behalf (the service asks for the reason)."""
    if is_task_force(user):
        return Site.objects.filter(status=Site.Status.OPERATING).select_related("organisation").order_by("name")
    return _own_sites(user)


def record_form(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    sites = _entry_sites(user)
    errors: dict[str, str] = {}
    form = {
        "received_on": timezone.localdate().isoformat(),
        "source": CollectionRecord.Source.PERSON,
        "token": uuid.uuid4().hex,
    }
    if request.method == "POST":
        form = request.POST.dict()
        try:
            site = sites.filter(pk=_int(form.get("site"))).first()
            if site is None:
                raise ValidationError({"site": ValidationError("请选择站点")})
            received_on = _date(form.get("received_on", ""))
            if received_on is None:
                raise ValidationError({"received_on": ValidationError("请填写回收日期")})
            services.record_collection(
                actor=user,
                site=site,
                received_on=received_on,
                source=form.get("source", ""),
                category=form.get("category", ""),
                units=_int(form.get("units")),
                weight_kg=services.parse_kg(form.get("weight_kg")),
                price_fen=services.parse_yuan(form.get("price")),
                seller_name=form.get("seller_name", ""),
                seller_org=form.get("seller_org", ""),
                external_ref=form.get("external_ref", "") or f"web-{form.get('token', '')}",
                on_behalf_reason=form.get("on_behalf_reason", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
            if "price_fen" in errors:
                errors["price"] = errors.pop("price_fen")
        else:
            messages.success(request, "回收记录已保存")
            return redirect("recycling:records")
    return render(
        request,
        "recycling/record_form.html",
        {
            "form": form,
            "errors": errors,
            "sites": sites,
            "proxy": is_task_force(user),
            "categories": Category.choices,
            "sources": [c for c in CollectionRecord.Source.choices if c[0] != CollectionRecord.Source.BOOKING],
        },
    )


def record_upload(request: HttpRequest) -> HttpResponse:
    """The upload is checked at once (size, a workbook, not a zip bomb) and its rows saved by a worker."""
    user = actor(request)
    _own_sites(user)
    context: dict[str, Any] = {}
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError("请选择要上传的 Excel 文件", code="no_file")
            if upload.size and upload.size > 20 * 1024 * 1024:
                raise ValidationError("文件超过20MB，请分文件上传", code="file_too_large")
            job = recycling_jobs.start_import(
                actor=user,
                name=upload.name or "",
                content_type=upload.content_type or "",
                data=uploads.read_upload(upload),
            )
        except ValidationError as exc:
            context["error"] = "；".join(exc.messages)
        else:
            return redirect("jobs:detail", pk=job.pk)
    context["jobs"] = recycling_jobs.recent(user, recycling_jobs.IMPORT)
    return render(request, "recycling/record_upload.html", context)


def record_template(request: HttpRequest) -> HttpResponse:
    sites = list(_own_sites(request.user))
    return attachment_response(excel.template(sites=sites), content_type=XLSX, filename="回收记录导入模板.xlsx")


# --- certificates -----------------------------------------------------------------------------------------


def certificate_list(request: HttpRequest) -> HttpResponse:
    if not (_is_recycler(request.user) or is_official(request.user)):
        raise PermissionDenied("回收证明仅供回收企业和政府工作人员查看；持证人请使用证明核验")
    filters = {k: request.GET.get(k, "").strip() for k in ("kind", "status", "q", "region")}
    qs = Certificate.objects.visible_to(request.user).select_related("site", "region")
    if filters["kind"]:
        qs = qs.filter(kind=filters["kind"])
    if filters["status"]:
        qs = qs.filter(status=filters["status"])
    if q := filters["q"].upper():
        qs = qs.filter(number__icontains=q) | qs.filter(vin__icontains=q) | qs.filter(serial__icontains=q)
    if filters["region"]:
        qs = qs.filter(region__code=filters["region"])
    return render(
        request,
        "recycling/certificate_list.html",
        {
            "page": _page(request, qs, 50),
            "filters": filters,
            "query": _query(filters),
            "kinds": Certificate.Kind.choices,
            "statuses": Certificate.Status.choices,
            "counties": selectors.counties() if is_official(request.user) else None,
            "is_recycler": _is_recycler(request.user),
            "may_proxy": is_task_force(request.user),
            "dismantler": _is_recycler(request.user)
            and Site.objects.filter(
                organisation_id=getattr(request.user, "organisation_id", 0), kind=Site.Kind.DISMANTLER
            ).exists(),
        },
    )


CERTIFICATE_FIELDS = (
    "owner_name",
    "owner_id",
    "vin",
    "plate",
    "vehicle_type",
    "fuel",
    "emission_standard",
    "brand_model",
    "serial",
    "wipe_method",
    "category",
)


def certificate_form(request: HttpRequest, kind: str) -> HttpResponse:
    user = actor(request)
    if kind not in Certificate.Kind.values:
        raise PermissionDenied("证明类型无效")
    sites = _entry_sites(user)
    if kind == Certificate.Kind.VEHICLE:
        sites = sites.filter(kind=Site.Kind.DISMANTLER)
    booking = None
    if number := request.GET.get("booking") or request.POST.get("booking"):
        booking = Booking.objects.visible_to(user).filter(number=number).first()
    errors: dict[str, str] = {}
    form: dict[str, Any] = {"issued_on": timezone.localdate().isoformat(), "token": uuid.uuid4().hex}
    if booking is not None:
        form.update(
            owner_name=booking.contact_name, site=str(booking.site_id), category=request.GET.get("category", "")
        )
    if request.method == "POST":
        form = request.POST.dict()
        try:
            site = sites.filter(pk=_int(form.get("site"))).first()
            if site is None:
                raise ValidationError({"site": ValidationError("请选择出具站点")})
            fields: dict[str, Any] = {name: form.get(name, "") for name in CERTIFICATE_FIELDS}
            certificate = services.issue_certificate(
                actor=user,
                kind=kind,
                site=site,
                issued_on=_date(form.get("issued_on", "")),
                registered_on=_date(form.get("registered_on", "")),
                booking=booking,
                token=form.get("token", ""),
                on_behalf_reason=form.get("on_behalf_reason", ""),
                **fields,
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
        else:
            messages.success(
                request,
                f"已出具{certificate.get_kind_display()} {certificate.number}，校验码 {certificate.verify_code}",
            )
            return redirect("recycling:certificate", number=certificate.number)
    allowed = {Certificate.Kind.TAKE_BACK: TAKE_BACK, Certificate.Kind.DATA_WIPE: DATA_BEARING}.get(
        Certificate.Kind(kind), frozenset()
    )
    return render(
        request,
        "recycling/certificate_form.html",
        {
            "kind": kind,
            "kind_label": Certificate.Kind(kind).label,
            "form": form,
            "errors": errors,
            "sites": sites,
            "proxy": is_task_force(user),
            "booking": booking,
            "categories": [(c.value, c.label) for c in Category if c in allowed],
            "fuels": Certificate.Fuel.choices,
        },
    )


def certificate_detail(request: HttpRequest, number: str) -> HttpResponse:
    certificate = get_visible_or_404(
        Certificate.objects.visible_to(request.user).select_related(
            "site", "organisation", "region", "issued_by", "proxy_entered_by"
        ),
        number=number,
    )
    issuer = _is_recycler(request.user) and request.user.organisation_id == certificate.organisation_id  # type: ignore[union-attr]
    proxy_issuer = is_task_force(request.user) and certificate.proxy_entered_by_id is not None
    verify_url = request.build_absolute_uri(
        reverse("recycling:verify") + "?" + urlencode({"number": certificate.number, "code": certificate.verify_code})
    )
    return render(
        request,
        "recycling/certificate_detail.html",
        {
            "c": certificate,
            "issuer": issuer or proxy_issuer,
            "verify_url": verify_url if issuer or proxy_issuer else "",
            "reads_all": reads_everything(request.user),
        },
    )


@require_POST
def certificate_revoke(request: HttpRequest, number: str) -> HttpResponse:
    user = actor(request)
    certificate = get_visible_or_404(Certificate.objects.visible_to(user), number=number)
    try:
        services.revoke_certificate(actor=user, certificate=certificate, reason=request.POST.get("reason", ""))
    except (ValidationError, PermissionDenied) as exc:
        for message in form_errors(exc).values():
            messages.error(request, message)
    else:
        messages.success(request, "证明已作废")
    return redirect("recycling:certificate", number=certificate.number)
