"""Reads of the recycling network: search, coverage, overdue bookings, certificate verification."""

from __future__ import annotations

import datetime as dt
import hmac
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from huanxin.core.models import Region
from huanxin.recycling.models import Booking, Certificate, CollectionRecord, Site, Township


def search_sites(
    queryset: QuerySet[Site], *, q: str = "", region: str = "", category: str = "", kind: str = ""
) -> QuerySet[Site]:
    if q:
        queryset = queryset.filter(Q(name__icontains=q) | Q(address__icontains=q) | Q(organisation__name__icontains=q))
    if region:
        queryset = queryset.filter(region__code=region)
    if category:
        queryset = queryset.accepting(category)  # type: ignore[attr-defined]
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset.select_related("region", "township", "organisation")


def counties() -> QuerySet[Region]:
    return Region.objects.filter(parent__isnull=False).order_by("code")


@dataclass
class CountyCoverage:
    region: Region
    sites: int = 0
    sorting_centres: int = 0
    dismantlers: int = 0
    two_networks: int = 0  # sites that are also waste-sorting points (两网融合)
    townships: list[Township] = field(default_factory=list)
    covered: set[int] = field(default_factory=set)

    @property
    def uncovered(self) -> list[Township]:
        return [t for t in self.townships if t.pk not in self.covered]

    @property
    def coverage_pct(self) -> float | None:
        return round(100 * len(self.covered) / len(self.townships), 1) if self.townships else None


def coverage(*, on: dt.date | None = None) -> list[CountyCoverage]:
    """Per county: operating sites by kind, and which townships have no operating site."""
    rows = {r.pk: CountyCoverage(r) for r in counties()}
    for township in Township.objects.all():
        if township.region_id in rows:
            rows[township.region_id].townships.append(township)
    sites = Site.objects.filter(status=Site.Status.OPERATING)
    if on is not None:
        sites = sites.filter(Q(opened_on__isnull=True) | Q(opened_on__lte=on))
    for site in sites.only("region_id", "kind", "township_id", "is_sorting_point"):
        row = rows.get(site.region_id)
        if row is None:
            continue
        row.sites += 1
        row.sorting_centres += site.kind == Site.Kind.SORTING_CENTRE
        row.dismantlers += site.kind == Site.Kind.DISMANTLER
        row.two_networks += site.is_sorting_point
        if site.township_id:
            row.covered.add(site.township_id)
    return list(rows.values())


def overdue(queryset: QuerySet[Booking], *, now: dt.datetime | None = None) -> QuerySet[Booking]:
    """Bookings the recycler lets sit: not accepted by their deadline, or accepted and not done a day after."""
    now = now or timezone.now()
    return queryset.filter(
        Q(status=Booking.Status.SUBMITTED, accept_by__lt=now) | Q(status=Booking.Status.ACCEPTED, complete_by__lt=now)
    )


def overdue_by_recycler(queryset: QuerySet[Booking], *, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in overdue(queryset, now=now)
        .values("organisation__name")
        .annotate(count=Count("pk"))
        .order_by("-count", "organisation__name")
    ]


def verify_certificate(number: str, code: str) -> Certificate | None:
    """The certificate with this number if the verification code matches (compared in constant time)."""
    number, code = "".join(number.split()).upper(), "".join(code.split()).upper()
    if not number or not code:
        return None
    certificate = Certificate.objects.select_related("site", "organisation").filter(number=number).first()
    if certificate is None or not hmac.compare_digest(certificate.verify_code, code):
        return None
    return certificate


def scrap_certificate_for_vin(vin: str) -> Certificate | None:
    """The valid 报废机动车回收证明 for a VIN (subsidies check an application's old car against it)."""
    return Certificate.objects.filter(kind=Certificate.Kind.VEHICLE, vin=vin.strip().upper(), status="valid").first()


def take_back_certificate(number: str) -> Certificate | None:
    return Certificate.objects.filter(number=number.strip().upper(), status="valid").first()


def collected_by_category(queryset: QuerySet[CollectionRecord]) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in queryset.values("category")
        .annotate(units=Sum("units"), weight=Sum("weight_kg"), paid=Sum("price_fen"), rows=Count("pk"))
        .order_by("category")
    ]


def booking_counts(queryset: QuerySet[Booking]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for row in queryset.values("status").annotate(n=Count("pk")):
        counts[row["status"]] = row["n"]
    return dict(counts)
