"""Reads of the budget ledger: a programme's balances, its burn rate and when its money runs out at that pace.

Callers pass a programme they fetched through `Programme.objects.visible_to(user)`; `visible_programme` does that.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.models import Organisation
from huanxin.core.roles import Role, reads_everything
from huanxin.subsidies import review
from huanxin.subsidies.applications import ID_TAIL, id_tail_hash
from huanxin.subsidies.ledger import yuan
from huanxin.subsidies.models import Account, Application, Entry, MaterialRequest, Programme, ReviewDecision


def visible_programme(user: Any, code: str) -> Programme:
    """The programme `code` if `user` may see it (Programme.DoesNotExist otherwise)."""
    return Programme.objects.visible_to(user).get(code=code)


@dataclass(frozen=True)
class Balances:
    funded_fen: int
    available_fen: int
    reserved_fen: int
    paid_fen: int
    clawed_back_fen: int

    @property
    def committed_fen(self) -> int:
        """Money no longer available: reserved, paid or clawed back."""
        return self.reserved_fen + self.paid_fen + self.clawed_back_fen

    @property
    def balanced(self) -> bool:
        return self.funded_fen == self.available_fen + self.committed_fen


def balances(programme: Programme) -> Balances:
    """Sums over the programme's stripes, in one query."""
    sums = {
        row["kind"]: row["total"]
        for row in Account.objects.filter(programme=programme).values("kind").annotate(total=Sum("balance_fen"))
    }
    return Balances(
        funded_fen=-(sums.get(Account.Kind.FUNDING) or 0),
        available_fen=sums.get(Account.Kind.AVAILABLE) or 0,
        reserved_fen=sums.get(Account.Kind.RESERVED) or 0,
        paid_fen=sums.get(Account.Kind.PAID) or 0,
        clawed_back_fen=sums.get(Account.Kind.CLAWED_BACK) or 0,
    )


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def burn_rate(programme: Programme, *, days: int = 30, today: dt.date | None = None) -> int:
    """Fen per day committed (reserved or paid, net of reservations released) over the last `days` days up to and
    including today, rounded down; 0 when nothing was spent."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = today or timezone.localdate()
    start = _day_start(today - dt.timedelta(days=days - 1))
    end = _day_start(today + dt.timedelta(days=1))
    sums = Entry.objects.filter(programme=programme, at__gte=start, at__lt=end).aggregate(
        reserved=Sum("amount_fen", filter=Q(kind=Entry.Kind.RESERVE)),
        released=Sum("amount_fen", filter=Q(kind=Entry.Kind.RELEASE)),
    )
    committed = (sums["reserved"] or 0) - (sums["released"] or 0)
    return max(committed, 0) // days


@dataclass(frozen=True)
class Forecast:
    balances: Balances
    burn_fen_per_day: int
    runs_out_on: dt.date | None  # None: nothing spent lately, no end in sight


def forecast(programme: Programme, *, days: int = 30, today: dt.date | None = None) -> Forecast:
    """When the available money runs out if spending goes on at the pace of the last `days` days."""
    today = today or timezone.localdate()
    current = balances(programme)
    rate = burn_rate(programme, days=days, today=today)
    if rate <= 0:
        return Forecast(current, 0, None)
    return Forecast(current, rate, today + dt.timedelta(days=math.ceil(current.available_fen / rate)))


# --- verification (`huanxin ledger verify`) ----------------------------------------------------------------------

# What each kind of entry moves: (credit kind, debit kind); all but rebalancing stay within one stripe.
MOVES: dict[str, tuple[str, str]] = {
    Entry.Kind.FUND: (Account.Kind.FUNDING, Account.Kind.AVAILABLE),
    Entry.Kind.RESERVE: (Account.Kind.AVAILABLE, Account.Kind.RESERVED),
    Entry.Kind.RELEASE: (Account.Kind.RESERVED, Account.Kind.AVAILABLE),
    Entry.Kind.PAY: (Account.Kind.RESERVED, Account.Kind.PAID),
    Entry.Kind.CLAWBACK: (Account.Kind.PAID, Account.Kind.CLAWED_BACK),
    Entry.Kind.REBALANCE: (Account.Kind.AVAILABLE, Account.Kind.AVAILABLE),
}


@dataclass(frozen=True)
class LedgerCheck:
    programme: Programme
    balances: Balances
    entries: int
    problems: list[str]


def check_ledger(programme: Programme) -> LedgerCheck:
    """Recompute every account of `programme` from its entries and check the ledger's invariants. While others
    write, run it in one snapshot (the command opens a REPEATABLE READ transaction on PostgreSQL)."""
    problems: list[str] = []
    accounts = {a.pk: a for a in Account.objects.filter(programme=programme)}
    label = {pk: f"子池{a.stripe}·{a.get_kind_display()}" for pk, a in accounts.items()}
    if len(accounts) != programme.stripes * len(Account.Kind.values):
        n_kinds = len(Account.Kind.values)
        problems.append(f"账户数为 {len(accounts)}，应为 {programme.stripes} 个子池 × {n_kinds} 个科目")
    expected = dict.fromkeys(accounts, 0)
    by_reference: dict[str, dict[str, list[tuple[int, int]]]] = {}
    count = 0
    rows = Entry.objects.filter(programme=programme).values_list(
        "pk", "kind", "debit_id", "credit_id", "amount_fen", "reference"
    )
    for pk, kind, debit_id, credit_id, amount, reference in rows.iterator(chunk_size=5000):
        count += 1
        debit, credit = accounts.get(debit_id), accounts.get(credit_id)
        if debit is None or credit is None:
            problems.append(f"分录 #{pk} 记入了其他项目的账户")
            continue
        if amount <= 0:
            problems.append(f"分录 #{pk} 金额不为正数")
        expected[debit_id] += amount
        expected[credit_id] -= amount
        if (credit.kind, debit.kind) != MOVES.get(kind):
            problems.append(f"分录 #{pk}（{kind}）的科目不符：{label[credit_id]} → {label[debit_id]}")
        elif kind != Entry.Kind.REBALANCE and credit.stripe != debit.stripe:
            problems.append(f"分录 #{pk}（{kind}）跨子池记账")
        if kind in (Entry.Kind.RESERVE, Entry.Kind.RELEASE, Entry.Kind.PAY, Entry.Kind.CLAWBACK):
            by_reference.setdefault(reference, {}).setdefault(kind, []).append((amount, debit.stripe))
    for pk, account in accounts.items():
        if account.balance_fen != expected[pk]:
            problems.append(f"{label[pk]} 余额 {yuan(account.balance_fen)} 元，按分录重算应为 {yuan(expected[pk])} 元")
        for value, what in ((account.balance_fen, "余额"), (expected[pk], "重算余额")):
            if account.kind == Account.Kind.FUNDING and value > 0:
                problems.append(f"{label[pk]} {what}为正数 {yuan(value)} 元")
            elif account.kind != Account.Kind.FUNDING and value < 0:
                problems.append(f"{label[pk]} {what}为负数 {yuan(value)} 元")
    current = balances(programme)
    if not current.balanced:
        problems.append(
            f"拨入 {yuan(current.funded_fen)} 元 ≠ 可用 {yuan(current.available_fen)} + 预留 "
            f"{yuan(current.reserved_fen)} + 兑付 {yuan(current.paid_fen)} + 追回 {yuan(current.clawed_back_fen)} 元"
        )
    if programme.budget_fen != current.funded_fen:
        problems.append(f"项目额度 {yuan(programme.budget_fen)} 元与拨入合计 {yuan(current.funded_fen)} 元不符")
    for reference, kinds in sorted(by_reference.items()):
        for kind, moves in kinds.items():
            if len(moves) > 1:
                problems.append(f"业务编号 {reference} {Entry.Kind(kind).label}了 {len(moves)} 次")
        reserved = kinds.get(Entry.Kind.RESERVE)
        for kind in (Entry.Kind.RELEASE, Entry.Kind.PAY):
            if kind in kinds and not reserved:
                problems.append(f"业务编号 {reference} 未预留却已{Entry.Kind(kind).label}")
            elif kind in kinds and reserved and kinds[kind][0] != reserved[0]:
                problems.append(f"业务编号 {reference} 的{Entry.Kind(kind).label}金额或子池与预留不符")
        if Entry.Kind.RELEASE in kinds and Entry.Kind.PAY in kinds:
            problems.append(f"业务编号 {reference} 既已释放又已兑付")
        if Entry.Kind.CLAWBACK in kinds:
            paid = kinds.get(Entry.Kind.PAY)
            if not paid:
                problems.append(f"业务编号 {reference} 未兑付却已追回")
            elif kinds[Entry.Kind.CLAWBACK][0] != paid[0]:
                problems.append(f"业务编号 {reference} 的追回金额或子池与兑付不符")
    return LedgerCheck(programme, current, count, problems)


# --- the review queue, searched and filtered (审核队列) -------------------------------------------------------------

# the queue's status filter: what a reviewer asks for, beyond the two statuses of the queue itself
QUEUE_STATUSES = {
    "": "全部待审核",
    "reserved": "已受理（额度已预留）",
    "in_review": "人工审核中",
    "second": "待复核（已初审通过）",
    "material": "待补充材料",
}
# risk bands over `risk_score` (40 a price flag, 10 a random sample: applications.prepare)
RISK_BANDS = {"": "全部", "high": "高（80分以上）", "medium": "中（40–79分）", "low": "低（40分以下）"}
_RISK_RANGES = {"high": (80, None), "medium": (40, 79), "low": (0, 39)}
_ID_TAIL = re.compile(r"[0-9]{3,5}[0-9X]")  # the last 4–6 characters of a resident ID
MAX_TAIL_CANDIDATES = 5000  # rows sharing a four-character tail decrypted to match a longer one; beyond, refused


@dataclass(frozen=True)
class QueueFilter:
    """What the review queue's form asks (kept in the page's URL): `q` an application number or the last 4–6
    characters of the applicant's ID number, `merchant` part of a merchant's name or its USCC, a programme's code,
    a status of `QUEUE_STATUSES`, a risk band of `RISK_BANDS`."""

    q: str = ""
    merchant: str = ""
    programme: str = ""
    status: str = ""
    risk: str = ""

    @classmethod
    def from_query(cls, query: Any) -> QueueFilter:
        def text(name: str, limit: int) -> str:
            return " ".join(str(query.get(name, "")).split())[:limit]

        status, risk = text("status", 20), text("risk", 20)
        return cls(
            q="".join(text("q", 40).split()).upper(),
            merchant=text("merchant", 60),
            programme=text("programme", 40),
            status=status if status in QUEUE_STATUSES else "",
            risk=risk if risk in RISK_BANDS else "",
        )

    @property
    def searches_id_tail(self) -> bool:
        return bool(_ID_TAIL.fullmatch(self.q))

    @property
    def active(self) -> bool:
        return any((self.q, self.merchant, self.programme, self.status, self.risk))


def _first_approval_pending() -> Exists:
    """An approval not followed by a request for more material: the application waits for a second reviewer
    (`review.pending_approvals`, as a subquery)."""
    later_more = ReviewDecision.objects.filter(
        application=OuterRef("application"), decision=ReviewDecision.Decision.MORE, at__gt=OuterRef("at")
    )
    return Exists(
        ReviewDecision.objects.filter(application=OuterRef("pk"), decision=ReviewDecision.Decision.APPROVE).exclude(
            Exists(later_more)
        )
    )


def review_queue(user: Any, f: QueueFilter) -> QuerySet[Application]:
    """`review.queue(user)` narrowed by `f`; each row annotated `awaiting_second` (待复核). The status 待补充材料
    shows what the queue itself leaves out: applications waiting for the applicant's answer.

    An ID tail is found through `Application.applicant_id_tail` (a keyed hash of the last four characters, indexed):
    a four-character tail is matched by the hash alone; a longer one decrypts only the rows with that hash and
    compares — never the whole queue. Raises ValidationError (`too_many_matches`) when a tail matches more rows than
    is reasonable to decrypt: the reviewer adds a filter."""
    open_request = Exists(MaterialRequest.objects.filter(application=OuterRef("pk"), supplied_at__isnull=True))
    qs: QuerySet[Application]
    if f.status == "material":  # the queue's own rule of who may look (review.queue), without leaving these out
        if not (review.can_review(user) or reads_everything(user)):
            return Application.objects.none()
        qs = Application.objects.visible_to(user).filter(status__in=review.IN_QUEUE).filter(open_request)
        qs = qs.select_related("programme", "region").order_by("-risk_score", "created_at", "pk")
    else:
        qs = review.queue(user)
    qs = qs.annotate(awaiting_second=_first_approval_pending()).select_related("merchant")
    if f.status in ("reserved", "in_review"):
        qs = qs.filter(status=f.status)
    elif f.status == "second":
        qs = qs.filter(awaiting_second=True)
    if f.programme:
        qs = qs.filter(programme__code=f.programme)
    if f.risk:
        low, high = _RISK_RANGES[f.risk]
        qs = qs.filter(risk_score__gte=low) if high is None else qs.filter(risk_score__gte=low, risk_score__lte=high)
    if f.merchant:
        merchants = Organisation.objects.filter(kind=Organisation.Kind.MERCHANT).filter(
            Q(name__icontains=f.merchant) | Q(uscc=f.merchant.upper())
        )
        qs = qs.filter(merchant__in=merchants)
    if f.searches_id_tail:
        qs = qs.filter(applicant_id_tail=id_tail_hash(f.q))
        if len(f.q) > ID_TAIL:
            candidates = list(qs.values_list("pk", "applicant_id")[: MAX_TAIL_CANDIDATES + 1])
            if len(candidates) > MAX_TAIL_CANDIDATES:
                raise ValidationError(
                    "符合该身份证尾号的申请过多，请再选择补贴项目或商户缩小范围", code="too_many_matches"
                )
            qs = qs.filter(pk__in=[pk for pk, number in candidates if pii.normalise(number).endswith(f.q)])
    elif f.q:
        qs = qs.filter(number=f.q)
    return qs


def queue_programmes(user: Any) -> QuerySet[Programme]:
    """The programmes whose applications `user` may review, for the queue's programme filter: a county officer's
    are its county's (an application's region is its programme's: `Application.objects.visible_to`)."""
    programmes = Programme.objects.visible_to(user).order_by("-opens_on", "code")
    if getattr(user, "role", "") == Role.COUNTY_OFFICER:
        if not user.organisation_id:
            return programmes.none()
        return programmes.filter(region_id=user.organisation.region_id)
    return programmes
