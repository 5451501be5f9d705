"""反向开票 (reverse invoicing): a recycler invoices its own purchase of scrap from a natural-person seller, under
国家税务总局公告2024年第5号 (the figures are a `TaxRule` row, not code).

- A seller's reverse-invoiced sales, over **all** recyclers, may not exceed the rule's cap (5,000,000 yuan excl.
  VAT) in any 12 consecutive months. We take 12 months as 365 days: the window ending on day E covers
  E-364 … E. A new invoice dated D lies in the windows ending on D … D+364; the sum of such a window only rises
  at an invoice date, so it is enough to check the window ending on D and those ending on each later invoice
  date of the seller within 364 days. A backdated invoice is refused when it would break a later window.
- VAT: nothing while the seller's month (all recyclers, this invoice included) stays within the monthly
  exemption; otherwise this invoice's amount × the levy rate, rounded half up to the fen. Invoices of the month
  issued before the threshold was crossed are not taxed again (see docs/reverse-invoicing.md).
- Individual income tax is prepaid on every invoice: amount × the prepayment rate, half up to the fen.

Invoices of one seller are serialised (a PostgreSQL advisory lock on the seller's look-up hash; SQLite
transactions are IMMEDIATE), so two recyclers buying from the same person at the same moment cannot together
pass the cap. Names and ID numbers are encrypted, found by keyed hash, and never written to the audit log.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from huanxin.core import audit, pii
from huanxin.core.models import Organisation, User
from huanxin.core.roles import Role
from huanxin.core.validators import clean_resident_id
from huanxin.recycling.categories import APPLIANCES, MATERIALS, Category
from huanxin.recycling.models import NumberSequence, ReverseInvoice, Site, TaxRule

PREFIX = "FK"
WINDOW_DAYS = 365  # "连续12个月", taken as 365 days ending on the window's last day
# what a recycler may reverse-invoice here: weighed materials first, then the household appliances
INVOICE_CATEGORIES = [c for c in Category if c in MATERIALS] + [c for c in Category if c in APPLIANCES]
MAX_WEIGHT_KG = Decimal("1000000")  # 1000 t: a typo in the unit rather than a purchase from a person
# two-key advisory locks (namespace, hashtext(key)): a key space apart from the audit log's single-key lock
_LOCK_SELLER = 0x66706B73  # "fpks"
_LOCK_TOKEN = 0x66706B74  # "fpkt"

EXPORT_HEADERS = [
    "编号",
    "日期",
    "销售方(脱敏)",
    "证件号(脱敏)",
    "品类",
    "货物名称",
    "数量千克",
    "金额元",
    "增值税元",
    "个税元",
]


# --- small helpers ---------------------------------------------------------------------------------------


def _two_places(value: Decimal) -> bool:
    """Finite, and no more than two decimals ("1.50" and "1.5" pass, "1.234" and "1e-3" do not)."""
    try:
        return value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:  # too many digits to quantize (1e400)
        return False


def _half_up(amount_fen: int, rate_bp: int) -> int:
    """amount × rate (basis points), rounded half up to the fen, in integers only."""
    return (amount_fen * rate_bp + 5000) // 10000


def yuan(fen: int) -> Decimal:
    """Integer fen as exact yuan (12345 → Decimal("123.45"))."""
    return Decimal(fen) / 100


def yuan_text(fen: int) -> str:
    return f"{yuan(fen):,.2f}"


def parse_yuan(text: str | Decimal | int | None) -> int:
    """Yuan as typed ("1,234.50") to integer fen, exactly; more than two decimals is refused, never rounded."""
    raw = "" if text is None else str(text).strip().replace(",", "").replace("，", "")
    if not raw:
        raise ValidationError({"amount_fen": ValidationError("请填写金额", code="invalid_amount")})
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValidationError({"amount_fen": ValidationError(f"金额“{text}”不是数字", code="invalid_amount")}) from exc
    if not _two_places(value):
        raise ValidationError({"amount_fen": ValidationError("金额最多保留两位小数（到分）", code="invalid_amount")})
    return int(value * 100)


def _kg(value: str | Decimal | int | None) -> Decimal:
    raw = "" if value is None else str(value).strip().replace(",", "")
    if not raw:
        return Decimal(0)
    try:
        weight = Decimal(raw)
    except InvalidOperation as exc:
        raise ValidationError(f"数量“{value}”不是数字", code="invalid_weight") from exc
    if not _two_places(weight):
        raise ValidationError("数量最多保留两位小数", code="invalid_weight")
    if weight < 0:
        raise ValidationError("数量不能为负数", code="invalid_weight")
    if weight > MAX_WEIGHT_KG:
        raise ValidationError("数量超过1000吨，请核对单位（千克）", code="invalid_weight")
    return weight


def parse_kg(text: str | Decimal | int | None) -> Decimal:
    """Kilograms as typed; empty is 0; at most two decimals, not negative."""
    try:
        return _kg(text)
    except ValidationError as exc:
        raise ValidationError({"weight_kg": exc}) from exc


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


def _draw(prefix: str, year: int) -> str:
    """The next number of `prefix` in `year` (FK2025000123), under a row lock: gap-free among committed invoices."""
    key = f"{prefix}{year}"
    NumberSequence.objects.bulk_create([NumberSequence(key=key)], ignore_conflicts=True)
    sequence = NumberSequence.objects.select_for_update().get(key=key)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return f"{key}{sequence.last:06d}"


def _advisory_lock(namespace: int, key: str) -> None:
    """Serialise transactions on `key` on PostgreSQL (released at commit). SQLite's IMMEDIATE transactions
    already serialise every writer."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [namespace, key])


# --- the quote -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What an invoice of `amount_fen` on `sold_on` would mean for the seller (totals over all recyclers,
    excluding this invoice)."""

    sold_on: dt.date
    amount_fen: int
    rule: TaxRule
    rolling_fen: int  # the 12 months (365 days) ending on sold_on
    year_fen: int  # the calendar year of sold_on
    month_fen: int  # the calendar month of sold_on
    headroom_fen: int  # the most that may still be invoiced on sold_on (the tightest window containing it)
    binding_end: dt.date  # the last day of that tightest window
    vat_fen: int
    iit_fen: int
    refusal: str  # the reason in Chinese, or ""

    @property
    def cap_fen(self) -> int:
        return self.rule.rolling_cap_fen

    @property
    def vat_free(self) -> bool:
        return self.vat_fen == 0

    @property
    def month_after_fen(self) -> int:
        return self.month_fen + self.amount_fen


def quote(*, seller_id: str, sold_on: dt.date, amount_fen: int, exclude: int | ReverseInvoice | None = None) -> Quote:
    """The seller's totals and the taxes of a new invoice, and why it would be refused ("" when it would not).
    `seller_id` is the ID number in clear (it is hashed here); `exclude` leaves one invoice out of the sums."""
    rule = TaxRule.objects.in_force(sold_on)
    seller_hash = pii.lookup_hash(seller_id, purpose="resident_id")
    first = min(sold_on - dt.timedelta(days=WINDOW_DAYS - 1), sold_on.replace(month=1, day=1))
    last = max(sold_on + dt.timedelta(days=WINDOW_DAYS - 1), sold_on.replace(month=12, day=31))
    qs = ReverseInvoice.objects.filter(seller_id_hash=seller_hash, sold_on__gte=first, sold_on__lte=last)
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk if isinstance(exclude, ReverseInvoice) else exclude)
    by_day: dict[dt.date, int] = defaultdict(int)
    for day, total in qs.order_by().values("sold_on").annotate(total=Sum("amount_fen")).values_list("sold_on", "total"):
        by_day[day] += int(total or 0)

    def window(end: dt.date) -> int:
        start = end - dt.timedelta(days=WINDOW_DAYS - 1)
        return sum(v for d, v in by_day.items() if start <= d <= end)

    later = sorted(d for d in by_day if sold_on < d <= sold_on + dt.timedelta(days=WINDOW_DAYS - 1))
    binding_end, headroom = sold_on, rule.rolling_cap_fen - window(sold_on)
    for end in later:
        room = rule.rolling_cap_fen - window(end)
        if room < headroom:
            binding_end, headroom = end, room
    headroom = max(headroom, 0)

    month_fen = sum(v for d, v in by_day.items() if (d.year, d.month) == (sold_on.year, sold_on.month))
    year_fen = sum(v for d, v in by_day.items() if d.year == sold_on.year)
    over_threshold = month_fen + amount_fen > rule.vat_free_monthly_fen
    vat_fen = _half_up(amount_fen, rule.vat_rate_bp) if over_threshold else 0
    iit_fen = _half_up(amount_fen, rule.iit_rate_bp)

    refusal = ""
    if amount_fen > headroom:
        cap = f"{yuan(rule.rolling_cap_fen) / 10000:,.0f}万元"
        where = f"截至{binding_end:%Y年%m月%d日}的连续12个月" if binding_end != sold_on else "连续12个月"
        refusal = (
            f"该销售方{where}反向开票销售额将超过{cap}上限（{rule.source or rule.name}），"
            f"本次最多还可开具{yuan_text(headroom)}元"
        )
    return Quote(
        sold_on=sold_on,
        amount_fen=amount_fen,
        rule=rule,
        rolling_fen=window(sold_on),
        year_fen=year_fen,
        month_fen=month_fen,
        headroom_fen=headroom,
        binding_end=binding_end,
        vat_fen=vat_fen,
        iit_fen=iit_fen,
        refusal=refusal,
    )


# --- the write -------------------------------------------------------------------------------------------


def is_recycler_of(user: Any, organisation: Organisation | int | None) -> bool:
    org_id = organisation.pk if isinstance(organisation, Organisation) else organisation
    return bool(
        getattr(user, "is_authenticated", False)
        and getattr(user, "is_active", False)
        and getattr(user, "role", None) == Role.RECYCLER
        and org_id is not None
        and getattr(user, "organisation_id", None) == org_id
    )


def _clean(
    *,
    seller_name: str,
    seller_id: str,
    sold_on: dt.date | None,
    category: str,
    description: str,
    weight_kg: Decimal | int | str,
    amount_fen: int,
    today: dt.date,
) -> tuple[dict[str, Any], TaxRule | None]:
    """The cleaned fields, or a ValidationError with every field's message at once."""
    errors: dict[str, ValidationError] = {}
    clean: dict[str, Any] = {}
    name = " ".join((seller_name or "").split())
    if not name:
        errors["seller_name"] = ValidationError("请填写销售方姓名", code="invalid_seller_name")
    elif len(name) > 40:
        errors["seller_name"] = ValidationError("姓名过长（最多40个字）", code="invalid_seller_name")
    clean["seller_name"] = name
    try:
        clean["seller_id"] = clean_resident_id(seller_id or "")
    except ValidationError as exc:  # the validator's message says what is wrong ("居民身份证号码无效：校验码…")
        errors["seller_id"] = ValidationError(exc.messages[0], code="invalid_resident_id")
    rule: TaxRule | None = None
    if not isinstance(sold_on, dt.date):
        errors["sold_on"] = ValidationError("请填写交易日期", code="invalid_date")
    elif sold_on > today:
        errors["sold_on"] = ValidationError("交易日期不能晚于今天", code="invalid_date")
    else:
        try:
            rule = TaxRule.objects.in_force(sold_on)
        except TaxRule.DoesNotExist:
            errors["sold_on"] = ValidationError(
                f"{sold_on:%Y年%m月%d日}尚无反向开票规则（最早适用于{_earliest_rule()}）", code="invalid_date"
            )
    clean["sold_on"] = sold_on
    if category not in INVOICE_CATEGORIES:
        errors["category"] = ValidationError(
            "请选择可反向开票的货物品类（废旧物资或废旧家电）", code="invalid_category"
        )
    clean["category"] = category
    text = " ".join((description or "").split())
    if len(text) > 60:
        errors["description"] = ValidationError("货物名称最多60个字", code="invalid_description")
    clean["description"] = text
    try:
        clean["weight_kg"] = _kg(weight_kg)
    except ValidationError as exc:
        errors["weight_kg"] = exc
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        errors["amount_fen"] = ValidationError("金额应大于0", code="invalid_amount")
    clean["amount_fen"] = amount_fen
    if errors:
        raise ValidationError(errors)
    return clean, rule


def _earliest_rule() -> str:
    first = TaxRule.objects.order_by("effective_from").first()
    return f"{first.effective_from:%Y年%m月%d日}" if first else "—"


@transaction.atomic
def record_invoice(
    *,
    actor: User,
    site: Site,
    seller_name: str,
    seller_id: str,
    sold_on: dt.date,
    category: str,
    description: str,
    weight_kg: Decimal | int | str,
    amount_fen: int,
    token: str = "",
    today: dt.date | None = None,
) -> ReverseInvoice:
    """开具一张反向发票. Refusals (ValidationError with a code per field) come before anything is written; the
    same form token from the same user again returns the first invoice."""
    if not is_recycler_of(actor, site.organisation_id):
        raise PermissionDenied("只有本企业的回收人员可以为本企业站点反向开票")
    today = today or timezone.localdate()
    token = (token or "").strip()[:64]
    if token:
        _advisory_lock(_LOCK_TOKEN, f"{actor.pk}:{token}")
        if (existing := ReverseInvoice.objects.filter(created_by=actor, token=token).first()) is not None:
            return existing
    clean, rule = _clean(
        seller_name=seller_name,
        seller_id=seller_id,
        sold_on=sold_on,
        category=category,
        description=description,
        weight_kg=weight_kg,
        amount_fen=amount_fen,
        today=today,
    )
    assert rule is not None
    seller_hash = pii.lookup_hash(clean["seller_id"], purpose="resident_id")
    _advisory_lock(_LOCK_SELLER, seller_hash)  # before summing: one seller's invoices one at a time
    q = quote(seller_id=clean["seller_id"], sold_on=clean["sold_on"], amount_fen=clean["amount_fen"])
    if q.refusal:
        raise ValidationError({"amount_fen": ValidationError(q.refusal, code="over_annual_cap")})
    invoice = ReverseInvoice.objects.create(
        number=_draw(PREFIX, today.year),
        organisation_id=site.organisation_id,
        site=site,
        region_id=site.region_id,
        seller_name=clean["seller_name"],
        seller_id=clean["seller_id"],
        seller_id_hash=seller_hash,
        sold_on=clean["sold_on"],
        category=clean["category"],
        description=clean["description"],
        weight_kg=clean["weight_kg"],
        amount_fen=clean["amount_fen"],
        vat_fen=q.vat_fen,
        iit_fen=q.iit_fen,
        rule=q.rule,
        created_by=actor,
        token=token,
    )
    audit.record(
        actor=actor,
        action="invoice.recorded",
        target=invoice,
        changes={  # no name, no ID number, no hash: the invoice row holds those, encrypted
            "number": invoice.number,
            "organisation": invoice.organisation_id,
            "site": site.pk,
            "sold_on": invoice.sold_on.isoformat(),
            "category": invoice.category,
            "weight_kg": str(invoice.weight_kg),
            "amount_fen": invoice.amount_fen,
            "vat_fen": invoice.vat_fen,
            "iit_fen": invoice.iit_fen,
            "rule": q.rule.pk,
        },
    )
    return invoice


# --- reads -----------------------------------------------------------------------------------------------


def invoices_for(
    *,
    user: Any,
    month: dt.date | None = None,
    category: str = "",
    q: str = "",
    organisation: int | None = None,
) -> QuerySet[ReverseInvoice]:
    """The list page: what `user` may see, filtered by month (any day of it), category, number and, for
    officials, organisation."""
    qs = ReverseInvoice.objects.visible_to(user).select_related("site", "region", "organisation")
    if month is not None:
        qs = qs.filter(sold_on__gte=month_start(month), sold_on__lt=next_month(month))
    if category:
        qs = qs.filter(category=category)
    if q.strip():
        qs = qs.filter(number__icontains=q.strip())
    if organisation:
        qs = qs.filter(organisation_id=organisation)
    return qs.order_by("-sold_on", "-number")


def totals(qs: QuerySet[ReverseInvoice]) -> dict[str, int]:
    result = qs.aggregate(count=Count("pk"), amount=Sum("amount_fen"), vat=Sum("vat_fen"), iit=Sum("iit_fen"))
    return {key: int(value or 0) for key, value in result.items()}


def _row(invoice: ReverseInvoice) -> list[Any]:
    return [
        invoice.number,
        invoice.sold_on,
        invoice.masked_seller,
        invoice.masked_seller_id,
        Category(invoice.category).label if invoice.category in Category.values else invoice.category,
        invoice.description,
        invoice.weight_kg,
        yuan(invoice.amount_fen),
        yuan(invoice.vat_fen),
        yuan(invoice.iit_fen),
    ]


def monthly_rows(*, organisation: Organisation, month: dt.date, user: Any = None) -> list[list[Any]]:
    """The organisation's invoices of `month` in number order, as the export's rows (seller masked), with a
    合计 row at the end. With `user`, only what that user may see."""
    qs = ReverseInvoice.objects.visible_to(user) if user is not None else ReverseInvoice.objects.all()
    qs = qs.filter(organisation=organisation, sold_on__gte=month_start(month), sold_on__lt=next_month(month)).order_by(
        "sold_on", "number"
    )
    rows = [_row(invoice) for invoice in qs.iterator(chunk_size=1000)]
    if rows:
        sums = totals(qs)
        weight = sum((r[6] for r in rows), Decimal(0))
        rows.append(
            ["合计", "", f"{sums['count']}张", "", "", "", weight, yuan(sums["amount"]), yuan(sums["vat"]),
             yuan(sums["iit"])]
        )  # fmt: skip
    return rows
