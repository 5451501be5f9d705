"""What each role's home page (工作台) shows: its own work first, read through each model's `visible_to`.

Officials who plan and report (task force, departments, counties, finance) keep the plan cards and their 待办; the
others open on what they came to do — a citizen's applications and bookings, a merchant's sales awaiting
settlement, a recycler's pickups of today and tomorrow and its certificates, an enterprise's projects, a reviewer's
queue, an auditor's checks. Read-only; `huanxin/views.py: home` picks the template by role.

It reads several apps, so like huanxin/views.py it sits on top of them: no app imports it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count, Min, Sum
from django.utils import timezone

from huanxin.core.roles import Role
from huanxin.jobs.models import Job
from huanxin.projects.models import Project
from huanxin.recycling.models import Booking, Certificate, Site
from huanxin.subsidies import review, settlement
from huanxin.subsidies.models import Application, MaterialRequest, Programme

RECENT = 5  # rows of each list on a home page; the full list is one link away


def open_programmes(user: Any, today: dt.date) -> list[Programme]:
    """Programmes taking applications today (what a citizen or a merchant can apply for)."""
    return [
        p
        for p in Programme.objects.visible_to(user).select_related("region")
        if p.status == Programme.Status.OPEN and p.opens_on <= today <= p.closes_on
    ]


def citizen(user: Any) -> dict[str, Any]:
    today = timezone.localdate()
    applications = Application.objects.visible_to(user).select_related("programme").order_by("-created_at", "-pk")
    waiting_material = set(
        MaterialRequest.objects.filter(application__in=applications, supplied_at__isnull=True).values_list(
            "application_id", flat=True
        )
    )
    bookings = Booking.objects.visible_to(user).select_related("site", "slot").prefetch_related("items")
    return {
        "programmes": open_programmes(user, today),
        "applications": [(a, a.pk in waiting_material) for a in applications[:RECENT]],
        "applications_total": applications.count(),
        "bookings": list(bookings.filter(status__in=Booking.OPEN).order_by("slot__starts_at", "pk")[:RECENT]),
        "bookings_total": bookings.count(),
    }


def merchant(user: Any) -> dict[str, Any]:
    """The merchant's claims awaiting settlement (subsidies/settlement.py: 待结算), oldest first, and its tills'
    work: applying for a customer and booking a pickup."""
    today = settlement.today()
    claims = (
        Application.objects.visible_to(user)
        .filter(
            merchant_id=getattr(user, "organisation_id", None),
            programme__payee=Programme.Payee.MERCHANT,
            status__in=settlement.PENDING,
        )
        .select_related("programme")
    )
    totals = claims.aggregate(n=Count("pk"), fen=Sum("amount_fen", default=0), oldest=Min("created_at"))
    return {
        "programmes": open_programmes(user, today),
        "pending": [
            (a, settlement.age_days(a.created_at, today)) for a in claims.order_by("created_at", "pk")[:RECENT]
        ],
        "pending_count": totals["n"],
        "pending_fen": totals["fen"],
        "oldest_days": settlement.age_days(totals["oldest"], today) if totals["oldest"] else None,
        "open_bookings": Booking.objects.visible_to(user).filter(status__in=Booking.OPEN).count(),
    }


def recycler(user: Any) -> dict[str, Any]:
    """Pickups booked for today and tomorrow (waiting to be accepted or accepted), and the latest certificates."""
    now = timezone.localtime()
    today = now.date()
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    pickups = list(
        Booking.objects.visible_to(user)
        .filter(status__in=Booking.OPEN, slot__starts_at__gte=start, slot__starts_at__lt=start + dt.timedelta(days=2))
        .select_related("slot", "site", "region", "township")
        .prefetch_related("items")
        .order_by("slot__starts_at", "pk")
    )
    certificates = Certificate.objects.visible_to(user).select_related("site")
    return {
        "today": today,
        "tomorrow": today + dt.timedelta(days=1),
        "pickups_today": [b for b in pickups if timezone.localtime(b.slot.starts_at).date() == today],
        "pickups_tomorrow": [b for b in pickups if timezone.localtime(b.slot.starts_at).date() != today],
        "certificates": list(certificates.order_by("-issued_on", "-pk")[:RECENT]),
        "certificates_month": certificates.filter(
            issued_on__gte=today.replace(day=1), status=Certificate.Status.VALID
        ).count(),
        # only a dismantling site can issue a 报废机动车回收证明 (recycling/services.py: issue_certificate)
        "dismantler": Site.objects.visible_to(user)
        .filter(organisation_id=user.organisation_id, kind=Site.Kind.DISMANTLER)
        .exists(),
    }


def enterprise(user: Any) -> dict[str, Any]:
    projects = Project.objects.visible_to(user).select_related("region").order_by("-created_at", "-pk")
    counts = Counter(dict(projects.values_list("status").annotate(n=Count("pk")).order_by()))
    return {
        "projects": list(projects[:10]),
        "projects_total": sum(counts.values()),
        "project_counts": [(value, label, counts.get(value, 0)) for value, label in Project.Status.choices],
    }


def reviewer(user: Any) -> dict[str, Any]:
    queue = review.queue(user)
    return {"queue": list(queue[:10]), "queue_total": queue.count()}


def auditor(user: Any) -> dict[str, Any]:
    """The periodic checks' latest runs (jobs/schedule.py: audit chain, ledger, derived figures)."""
    checks = Job.objects.visible_to(user).filter(owner__isnull=True)
    return {
        "checks": list(checks[:8]),
        "checks_failed": checks.filter(state=Job.State.FAILED).count(),
    }


HOMES = {
    Role.CITIZEN: ("home/citizen.html", citizen),
    Role.MERCHANT: ("home/merchant.html", merchant),
    Role.RECYCLER: ("home/recycler.html", recycler),
    Role.ENTERPRISE: ("home/enterprise.html", enterprise),
    Role.REVIEWER: ("home/reviewer.html", reviewer),
}
# The auditor keeps the officials' home (plans, the latest 落实举措) with its checks on top: `auditor` above.
