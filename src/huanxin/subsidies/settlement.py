"""A merchant's settlement (商户清算): what it advanced at the till and what has been reimbursed.

In a programme that pays the merchant (`Programme.Payee.MERCHANT`), the merchant gives the subsidy as a discount
at the till and is paid back once the application is approved and the bank has paid. Each such application is a
claim of the merchant's:

- 待结算 (pending): submitted and not yet paid — reserved, in review, queued for money, or approved (perhaps in a
  payment batch). Its age is the days since it was submitted; the oldest come first.
- 已结算 (settled): paid.
- 不予结算 (refused): rejected, or paid and clawed back — the merchant bears it.

A returned item (refunded) is no claim: the sale was undone. 已垫付 (advanced) = settled + pending + refused.

A merchant sees its own claims; finance officers, the task force and auditors see every merchant's, oldest
unpaid first. Read-only: nothing here writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone

from huanxin.core.models import Organisation
from huanxin.core.roles import Role, is_authenticated, reads_everything
from huanxin.subsidies.models import Application, Payment, Programme

S = Application.Status
PENDING = (S.RESERVED, S.IN_REVIEW, S.QUEUED, S.APPROVED)
SETTLED = (S.PAID,)
REFUSED = (S.REJECTED, S.CLAWED_BACK)
VIEWS = {"pending": PENDING, "settled": SETTLED, "refused": REFUSED}
VIEW_LABELS = {"pending": "待结算", "settled": "已结算", "refused": "不予结算"}


def sees_every_merchant(user: Any) -> bool:
    """Finance officers, the task force and auditors (and superusers)."""
    return reads_everything(user) or (is_authenticated(user) and user.role == Role.FINANCE_OFFICER)


def own_merchant(user: Any) -> int | None:
    """The organisation a merchant user settles for; None for anyone else."""
    if is_authenticated(user) and user.role == Role.MERCHANT and user.organisation_id:
        return int(user.organisation_id)
    return None


def may_see(user: Any, organisation_id: int) -> bool:
    return sees_every_merchant(user) or own_merchant(user) == organisation_id


def advanced() -> QuerySet[Application]:
    """Every merchant's claims: applications a merchant filed in programmes that reimburse the merchant."""
    return Application.objects.filter(merchant__isnull=False, programme__payee=Programme.Payee.MERCHANT).exclude(
        status=S.REFUNDED
    )


def today() -> dt.date:
    """The day ages are counted to (Asia/Shanghai); one place, so a test can fix it."""
    return timezone.localdate()


def age_days(at: dt.datetime, today: dt.date) -> int:
    """Whole days since `at` (Asia/Shanghai days): submitted today is 0."""
    return (today - timezone.localdate(at)).days


@dataclass(frozen=True)
class Totals:
    advanced_count: int
    advanced_fen: int
    settled_count: int
    settled_fen: int
    pending_count: int
    pending_fen: int
    refused_count: int
    refused_fen: int
    oldest_pending: dt.datetime | None  # the submission time of the oldest unpaid claim

    def oldest_days(self, today: dt.date) -> int | None:
        return None if self.oldest_pending is None else age_days(self.oldest_pending, today)


def _sums() -> dict[str, Any]:
    def n(statuses: tuple[str, ...]) -> Count:
        return Count("pk", filter=Q(status__in=statuses))

    def fen(statuses: tuple[str, ...]) -> Sum:
        return Sum("amount_fen", filter=Q(status__in=statuses), default=0)

    return {
        "advanced_count": Count("pk"),
        "advanced_fen": Sum("amount_fen", default=0),
        "settled_count": n(SETTLED),
        "settled_fen": fen(SETTLED),
        "pending_count": n(PENDING),
        "pending_fen": fen(PENDING),
        "refused_count": n(REFUSED),
        "refused_fen": fen(REFUSED),
        "oldest_pending": Min("created_at", filter=Q(status__in=PENDING)),
    }


def totals(organisation_id: int) -> Totals:
    return Totals(**advanced().filter(merchant_id=organisation_id).aggregate(**_sums()))


def claims(organisation_id: int, view: str = "pending") -> QuerySet[Application]:
    """One merchant's claims of one view: pending oldest first; settled and refused newest first. Each with the
    batch its payment is in (`batch_number`) and when the bank paid (`paid_at`)."""
    payment = Payment.objects.filter(application=OuterRef("pk"), status__in=["pending", "paid"]).order_by("-pk")
    qs = (
        advanced()
        .filter(merchant_id=organisation_id, status__in=VIEWS.get(view, PENDING))
        .select_related("programme")
        .annotate(
            batch_number=Subquery(payment.values("batch__number")[:1]),
            paid_at=Subquery(payment.filter(status="paid").values("paid_at")[:1]),
        )
    )
    if view == "pending" or view not in VIEWS:
        return qs.order_by("created_at", "pk")
    return qs.order_by("-created_at", "-pk")


@dataclass(frozen=True)
class MerchantRow:
    organisation: Organisation
    totals: Totals


def by_merchant() -> list[MerchantRow]:
    """Every merchant with claims, the one whose oldest unpaid claim is oldest first; those with nothing unpaid
    after them, by name."""
    rows: list[dict[str, Any]] = list(
        advanced()  # type: ignore[arg-type]  # the stubs type values() by its fields, not by what annotate adds
        .values("merchant_id")
        .annotate(**_sums())
        .order_by(F("oldest_pending").asc(nulls_last=True), "merchant_id")
    )
    names = Organisation.objects.in_bulk([r["merchant_id"] for r in rows])
    fields = [name for name in Totals.__dataclass_fields__]
    return [MerchantRow(names[row["merchant_id"]], Totals(**{k: row[k] for k in fields})) for row in rows]
