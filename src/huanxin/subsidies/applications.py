"""Submitting a subsidy application: one service for every channel (a citizen on the web, a merchant at the till,
a merchant's batch), with the idempotency key of the caller, the named automatic checks, the amount from the
programme's rules, the identifiers claimed once (by the database), and the money reserved in the budget ledger —
all in one transaction: an application that got a success answer is whole in the database, a refused one left
nothing behind.

Checks either refuse (the application is not created; the error names the check and the reason) or flag (the
application is created and routed to manual review with its risk reasons).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import median
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from huanxin.core import audit, bulkinsert, identity, pii, retry
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.core.validators import clean_resident_id, clean_vin
from huanxin.notices import notify
from huanxin.recycling import selectors as recycling
from huanxin.recycling.models import Certificate
from huanxin.subsidies import errors, ledger, limits, payees, rules, sql
from huanxin.subsidies.models import Application, ApplicationEvent, ApplicationItem, Claim, Programme

PHONE = re.compile(r"^1[3-9]\d{9}$")
PRICE_SAMPLE_MIN = 5  # prices of the same model needed before one is judged against them
PRICE_FLAG_RATIO = 1.5  # a price this far above the model's median is flagged
PRICE_WINDOW = 200  # … the median of its newest prices, this many
CCC_NO = re.compile(r"^\d{16}$")  # a CCC certificate number: 16 digits (year, body, product code, serial)
GRANTED = "\x00granted_fen"  # the key under which `counts` carries an applicant's running total (home renovation)


class _Sampler:
    """Uniform floats in [0, 1) from the operating system's random source, made as `random.SystemRandom` makes
    them (53 bits of 7 random bytes), read 4 KiB at a time: one system call per 585 draws instead of one per draw
    (a batch draws thousands a second). A forked process reads its own bytes, never its parent's leftovers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buffer, self._at, self._pid = b"", 0, 0

    def random(self) -> float:
        with self._lock:
            if self._at + 7 > len(self._buffer) or self._pid != os.getpid():
                self._buffer, self._at, self._pid = os.urandom(4095), 0, os.getpid()
            draw = self._buffer[self._at : self._at + 7]
            self._at += 7
        return (int.from_bytes(draw) >> 3) * 2**-53


_sampler = _Sampler()


MAX_PRICE_FEN = 100_000_000_00  # 1亿元: above any trade-in, far below what the price column holds


class ItemIn(NamedTuple):
    """One item as submitted. Immutable; a named tuple rather than a frozen dataclass because a batch makes one
    per row and a frozen dataclass of 16 fields costs about 3 times as much to construct."""

    kind: str
    invoice_no: str
    invoice_date: dt.date
    price_fen: int
    brand_model: str = ""
    serial: str = ""
    grade: str = ""
    certificate_no: str = ""
    vin: str = ""  # car scrap / replacement: the old car's VIN
    new_fuel: str = ""  # car scrap / replacement: nev | fuel
    transfer_no: str = ""  # car replacement: the old car's 机动车转移登记 number
    transfer_date: dt.date | None = None  # … and its date
    old_registered_on: dt.date | None = None  # … the date the old car was registered in the applicant's name
    battery: str = ""  # e-bike: the new bike's battery (lead_acid | lithium)
    ccc_no: str = ""  # e-bike: the new bike's CCC (3C) certificate number
    standard: str = ""  # e-bike: the standard on the new bike's 合格证, e.g. "GB 17761-2024"


DETAIL_FIELDS = ("new_fuel", "transfer_no", "transfer_date", "old_registered_on", "battery", "ccc_no", "standard")


def item_details(item: ItemIn) -> dict[str, str]:
    """The category's evidence that has no column of its own, kept with the item (`ApplicationItem.details`)."""
    out: dict[str, str] = {}
    cars = item.new_fuel or item.transfer_no or item.transfer_date or item.old_registered_on
    if not (cars or item.battery or item.ccc_no or item.standard):  # an appliance, a phone: nothing more
        return out
    for name in DETAIL_FIELDS:
        value = getattr(item, name)
        if isinstance(value, dt.date):
            out[name] = value.isoformat()
        elif value and str(value).strip():
            out[name] = str(value).strip().upper() if name in ("transfer_no", "ccc_no") else str(value).strip()
    return out


@dataclass
class Checked:
    amount: rules.Amount
    claims: list[tuple[str, str]] = field(default_factory=list)
    demand: limits.Demand | None = None  # the per-person limit the item counts against


# The reads every submission makes, in SQL: the ORM's query compiler costs several times what PostgreSQL takes to
# answer them (bench/intake.py), and these run for every till at every sale.
_SUBMITTED_BEFORE = "SELECT id FROM subsidies_application WHERE created_by_id = %s AND idempotency_key = %s"
_CLAIMED = "SELECT 1 FROM subsidies_claim WHERE kind = %s AND value = %s AND active = %s"
_PRICES = (
    f"SELECT price_fen FROM subsidies_applicationitem WHERE brand_model = %s ORDER BY id DESC LIMIT {PRICE_WINDOW}"  # noqa: S608
)


def _set(application: Application, column: str, value: str) -> None:
    """One column of a row just inserted (the number, then the status), without an ORM update."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE subsidies_application SET {column} = %s WHERE id = %s", [value, application.pk])  # noqa: S608


def _submitted_before(actor: User, key: str) -> Application | None:
    """The application `actor` submitted earlier under the idempotency key `key`, if any. Every submission asks,
    nearly always to hear no: asked in SQL along the unique index (created_by, idempotency_key), loaded through the
    ORM only when there is one."""
    row = _one(_SUBMITTED_BEFORE, [actor.pk, key])
    return None if row is None else Application.objects.get(pk=row[0])


def _one(sql: str, params: list[Any]) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class Lookups:
    """What the checks read from the database, one query per question. The batch path (`bulk.py`) answers the same
    questions for a whole chunk of rows from a few queries, so both paths run the very same checks."""

    def __init__(self, programme: Programme) -> None:
        self.programme = programme

    def applicant_hash(self, resident_id: str) -> str:
        """The look-up hash of a valid, compacted resident ID."""
        return pii.lookup_hash(resident_id, purpose="resident_id")

    def used_before(self, applicant_hash: str, scope: str) -> int:
        """What this applicant has used of one per-person limit (`limits.scope_of`): items of a kind, cars this
        year. An early, advisory answer: the database holds the limit when the submission takes it."""
        row = _one(sql.USAGE, [self.programme.pk, applicant_hash, scope])
        return int(row[0]) if row else 0

    def take_back_certificate(self, number: str) -> Certificate | None:
        return recycling.take_back_certificate(number)

    def scrap_certificate_for_vin(self, vin: str) -> Certificate | None:
        return recycling.scrap_certificate_for_vin(vin)

    def amount_before(self, applicant_hash: str) -> int:
        """What this applicant was already granted in the programme, in fen (rejected and refunded applications
        do not count)."""
        return self.used_before(applicant_hash, limits.AMOUNT)

    def claimed(self, kind: str, value: str) -> bool:
        return _one(_CLAIMED, [kind, value, True]) is not None

    def model_median(self, brand_model: str) -> tuple[int, float]:
        """How many of the model's newest prices there are (up to 200), and their median (0 when none)."""
        prices = self.model_prices(brand_model)
        return len(prices), median(prices) if prices else 0

    def model_prices(self, brand_model: str) -> list[int]:
        """The newest 200 prices of one model, in any programme (a model's price is the market's, not the
        programme's). One table, read along the (brand_model, -id) index: 200 rows whatever the planner thinks
        of a popular model's numbers (with the programme joined in, a model grown since the last ANALYZE made
        PostgreSQL sort every one of its rows at every submission)."""
        with connection.cursor() as cursor:
            cursor.execute(_PRICES, [brand_model])
            return [int(price) for (price,) in cursor.fetchall()]


def _refuse(check: str, message: str, code: str) -> ValidationError:
    return ValidationError(f"{check}：{message}", code=code)


def _check_identity(applicant_id: str, phone: str, name: str) -> str:
    if not name.strip():
        raise _refuse("身份核验", "请填写申请人姓名", "name_required")
    try:
        clean = clean_resident_id(applicant_id.strip().upper())
    except ValidationError as exc:  # the validator says what is wrong: length, characters, check digit, date, place
        raise _refuse("身份核验", exc.messages[0], errors.INVALID_RESIDENT_ID) from None
    if not PHONE.match("".join(phone.split())):
        raise _refuse("身份核验", "请填写11位手机号码", "invalid_phone")
    return clean


def _check_window(programme: Programme, item: ItemIn, today: dt.date) -> None:
    if item.invoice_date > today:
        raise _refuse(
            "开票日期",
            f"发票{item.invoice_no}开票日期{item.invoice_date}晚于申请日期{today}，请核对开票日期",
            errors.INVOICE_AFTER_APPLICATION,
        )
    if not programme.opens_on <= item.invoice_date <= programme.closes_on:
        raise _refuse(
            "开票日期",
            f"发票{item.invoice_no}开票日期{item.invoice_date}不在本批次受理期（{programme.opens_on}至{programme.closes_on}）内",
            errors.INVOICE_OUTSIDE_WINDOW,
        )


def _priced(compute: Any, params: Any, **kwargs: Any) -> rules.Amount:
    """The rule's amount; its refusal named as the 补贴标准 check like every other."""
    try:
        return compute(params, **kwargs)
    except ValidationError as exc:
        raise _refuse("补贴标准", exc.messages[0], exc.error_list[0].code or "not_eligible") from None


def _check_kind(item: ItemIn, kind: str, label: str) -> None:
    """One kind per vehicle category, so the per-person limit counts every application of the person."""
    if item.kind != kind:
        raise _refuse("补贴范围", f"本批次只受理{label}（品类代码{kind}），不受理“{item.kind}”", "kind_not_eligible")


def _check_vin(value: str) -> str:
    try:
        return clean_vin(value)
    except ValidationError as exc:
        raise _refuse("车辆识别代号", exc.messages[0], "invalid_vin") from None


def _add_months(day: dt.date, months: int) -> dt.date:
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def _check_transfer(programme: Programme, params: Any, item: ItemIn) -> str:
    """Car replacement: the old car was registered in the applicant's name in time, held long enough, and
    transferred (机动车转移登记) within the programme's transfer window. Returns the transfer record's number."""
    number = "".join(item.transfer_no.split()).upper()
    if not number or item.transfer_date is None:
        raise _refuse("机动车转移登记", "请填写旧车的机动车转移登记编号和日期", "transfer_required")
    start, end = params.transfer_from or programme.opens_on, params.transfer_to or programme.closes_on
    if not start <= item.transfer_date <= end:
        raise _refuse(
            "机动车转移登记",
            f"旧车转移登记日期{item.transfer_date}不在置换更新受理范围（{start}至{end}）内",
            "transfer_outside_window",
        )
    registered = item.old_registered_on
    if registered is None:
        raise _refuse("旧车条件", "请填写旧车登记在申请人名下的日期（见机动车登记证书）", "registration_required")
    if registered > item.transfer_date:
        raise _refuse("旧车条件", "旧车登记在申请人名下的日期不能晚于转移登记日期", "registration_after_transfer")
    if params.registered_by and registered > params.registered_by:
        raise _refuse(
            "旧车条件",
            f"旧车于{registered}登记在申请人名下，晚于{params.registered_by}，不符合置换更新条件",
            "old_car_registered_too_late",
        )
    months = params.min_holding_months
    if months and _add_months(registered, months) > item.transfer_date:
        raise _refuse(
            "旧车条件",
            f"旧车在申请人名下不满{months}个月即转出（{registered}至{item.transfer_date}）",
            "held_too_briefly",
        )
    return number


def _check_new_ebike(params: Any, item: ItemIn) -> None:
    """The new e-bike is compliant: its frame number, its CCC certificate and the standard on its 合格证."""
    if not item.serial.strip():
        raise _refuse("新车合规", "请填写新车车架号", "frame_required")
    ccc = "".join(item.ccc_no.split())
    if not ccc:
        raise _refuse("新车合规", "请填写新车的CCC（3C）认证证书编号", "ccc_required")
    if not CCC_NO.match(ccc):
        raise _refuse("新车合规", f"CCC证书编号“{ccc}”应为16位数字", "invalid_ccc_no")
    standard = " ".join(item.standard.split()).upper()
    if standard not in {" ".join(s.split()).upper() for s in params.standards}:
        raise _refuse(
            "新车合规",
            f"新车合格证执行标准应为{'或'.join(params.standards)}（填写的是“{item.standard or '未填'}”）",
            "standard_not_met",
        )


def _check_old_ebike(
    programme: Programme, params: Any, item: ItemIn, applicant_hash: str, lookups: Lookups
) -> Certificate:
    """The old e-bike was handed in: a valid 收旧凭证 for an e-bike, in the applicant's name, from this programme's
    time."""
    number = item.certificate_no.strip()
    certificate = lookups.take_back_certificate(number) if number else None
    if certificate is None or certificate.kind != "take_back" or certificate.category != "ebike":
        raise _refuse("收旧凭证", f"未找到有效的电动自行车收旧凭证（编号{number or '未填'}）", "certificate_missing")
    if params.requires_own_name and certificate.owner_id_hash != applicant_hash:
        raise _refuse("收旧凭证", "收旧凭证上的交售人与申请人不一致（须交售本人的旧车）", "certificate_owner_mismatch")
    if certificate.issued_on < programme.opens_on:
        raise _refuse(
            "收旧凭证",
            f"收旧凭证出具于{certificate.issued_on}，早于本批次受理期（{programme.opens_on}起）",
            "certificate_outside_window",
        )
    return certificate


def _within_person_cap(
    cap_fen: int, amount: rules.Amount, applicant_hash: str, counts: dict[str, int], lookups: Lookups
) -> rules.Amount:
    """Home renovation: everything one person gets in the programme stays within `cap_fen` — the item that crosses
    it is cut to what is left; once nothing is left the application is refused."""
    granted = counts[GRANTED] if GRANTED in counts else lookups.amount_before(applicant_hash)
    left = cap_fen - granted
    if left <= 0:
        raise _refuse("每人限额", f"每人累计补贴上限{cap_fen / 100:.2f}元，您已领满", errors.PER_PERSON_AMOUNT_LIMIT)
    if amount.fen > left:
        amount = rules.Amount(left, f"{amount.explanation}，按每人累计上限{cap_fen / 100:.2f}元核减")
    counts[GRANTED] = granted + amount.fen
    return amount


def _check_item(
    programme: Programme,
    params: Any,
    item: ItemIn,
    applicant_hash: str,
    counts: dict[str, int],
    lookups: Lookups,
    today: dt.date,
) -> Checked:
    if not item.invoice_no.strip():
        raise _refuse("凭证", "请填写发票号码", "invoice_required")
    if item.price_fen <= 0:
        raise _refuse("成交价", "成交价应大于0", "invalid_price")
    if item.price_fen > MAX_PRICE_FEN:
        raise _refuse("成交价", "成交价超出合理范围（不超过1亿元）", "invalid_price")
    claims: list[tuple[str, str]] = [(Claim.Kind.INVOICE, item.invoice_no.strip().upper())]
    if programme.category == "appliance":
        kind = params.kinds.get(item.kind)
        if kind is None:
            raise _refuse("补贴范围", f"品类“{item.kind}”不在本批次补贴范围", "kind_not_eligible")
        limit = kind.per_person
        amount = _priced(rules.appliance_amount, params, price_fen=item.price_fen, grade=item.grade)
        if params.requires_take_back:
            certificate = lookups.take_back_certificate(item.certificate_no) if item.certificate_no else None
            if certificate is None or certificate.kind != "take_back" or certificate.category != item.kind:
                raise _refuse(
                    "收旧凭证",
                    f"未找到有效的{kind.label}收旧凭证（编号{item.certificate_no or '未填'}）",
                    "certificate_missing",
                )
            claims.append((Claim.Kind.CERTIFICATE, certificate.number))
        label = kind.label
    elif programme.category == "digital":
        label = params.kinds.get(item.kind)
        if label is None:
            raise _refuse("补贴范围", f"品类“{item.kind}”不在本批次补贴范围", "kind_not_eligible")
        limit = params.per_person_per_kind
        amount = _priced(rules.digital_amount, params, price_fen=item.price_fen)
        if not item.serial.strip():
            raise _refuse("凭证", "数码产品须填写序列号或IMEI", "serial_required")
    elif programme.category == "car_scrap":
        _check_kind(item, "car", "汽车")  # another kind would be counted apart from the per-person limit
        label, limit = "报废更新", params.per_person_per_year
        vin = _check_vin(item.vin)
        certificate = lookups.scrap_certificate_for_vin(vin)
        if certificate is None:
            raise _refuse("报废机动车回收证明", f"车辆识别代号{vin}没有有效的报废机动车回收证明", "certificate_missing")
        if certificate.owner_id_hash != applicant_hash:
            raise _refuse("报废机动车回收证明", "回收证明上的车辆所有人与申请人不一致", "certificate_owner_mismatch")
        cutoff = params.registered_by.get(certificate.fuel or "other")
        if certificate.registered_on and cutoff and certificate.registered_on > cutoff:
            raise _refuse(
                "旧车条件",
                f"旧车初次登记日期{certificate.registered_on}晚于{cutoff}，不符合报废更新条件",
                "old_car_too_new",
            )
        amount = _priced(rules.car_scrap_amount, params, new_fuel=item.new_fuel)
        claims += [(Claim.Kind.VIN, vin), (Claim.Kind.CERTIFICATE, certificate.number)]
    elif programme.category == "car_replace":
        label, limit = "置换更新", params.per_person_per_year
        _check_kind(item, "car", "汽车")
        vin = _check_vin(item.vin)
        transfer_no = _check_transfer(programme, params, item)
        if lookups.scrap_certificate_for_vin(vin) is not None:
            raise _refuse(
                "旧车条件",
                f"车辆识别代号{vin}已出具报废机动车回收证明，报废的车辆请申请报废更新补贴",
                "old_car_scrapped",
            )
        amount = _priced(rules.car_replace_amount, params, price_fen=item.price_fen, new_fuel=item.new_fuel)
        claims += [(Claim.Kind.VIN, vin), (Claim.Kind.TRANSFER, transfer_no)]
    elif programme.category == "ebike":
        label, limit = "电动自行车", params.per_person
        _check_kind(item, "ebike", "电动自行车")
        _check_new_ebike(params, item)
        certificate = _check_old_ebike(programme, params, item, applicant_hash, lookups)
        amount = _priced(rules.ebike_amount, params, price_fen=item.price_fen, battery=item.battery)
        claims.append((Claim.Kind.CERTIFICATE, certificate.number))
    elif programme.category == "home":
        home_kind = params.kinds.get(item.kind)
        if home_kind is None:
            raise _refuse("补贴范围", f"品类“{item.kind}”不在本批次补贴范围", "kind_not_eligible")
        label, limit = home_kind.label, home_kind.per_person
        amount = _priced(rules.home_amount, params, kind=item.kind, price_fen=item.price_fen, grade=item.grade)
        if params.per_person_cap_fen is not None:
            amount = _within_person_cap(params.per_person_cap_fen, amount, applicant_hash, counts, lookups)
    else:  # pragma: no cover - rules.validate refuses the others first
        raise _refuse("补贴范围", "该类别尚未上线", "category_not_supported")
    if item.serial.strip():
        claims.append((Claim.Kind.SERIAL, f"{item.kind}:{item.serial.strip().upper()}"))
    scope = limits.scope_of(programme.category, item.kind, today)
    counts[scope] = counts.get(scope, 0) + 1
    used = lookups.used_before(applicant_hash, scope)
    if used + counts[scope] > limit:
        left, here = max(0, limit - used), f"，本申请含{counts[scope]}件" if counts[scope] > 1 else ""
        raise _refuse(
            "每人限额", f"{label}每人限补{limit}件，已申请{used}件，剩余{left}件{here}", errors.PER_PERSON_LIMIT
        )
    return Checked(amount, claims, limits.Demand(scope, 1, limit, label))


def _price_flag(item: ItemIn, lookups: Lookups) -> str:
    """A price far above what others paid for the same model is flagged (prices raised before the discount)."""
    if not item.brand_model.strip():
        return ""
    count, middle = lookups.model_median(item.brand_model.strip())
    if count < PRICE_SAMPLE_MIN:
        return ""
    if item.price_fen > middle * PRICE_FLAG_RATIO:
        price, typical = item.price_fen / 100, middle / 100
        return f"{item.brand_model}成交价{price:.2f}元，高于同型号中位价{typical:.2f}元的{PRICE_FLAG_RATIO:g}倍"
    return ""


@dataclass(slots=True)
class ItemRow:
    """One item as `ApplicationItem` stores it (its columns, in `ITEM_COLUMNS` order after the application's id)."""

    kind: str
    brand_model: str
    serial: str
    vin: str
    invoice_no: str
    invoice_date: dt.date
    price_fen: int
    grade: str
    certificate_no: str
    details: str  # JSON text
    amount_fen: int
    explanation: str

    def row(self, application_id: int) -> tuple[Any, ...]:
        return (
            application_id,
            self.kind,
            self.brand_model,
            self.serial,
            self.vin,
            self.invoice_no,
            self.invoice_date,
            self.price_fen,
            self.grade,
            self.certificate_no,
            self.details,
            self.amount_fen,
            self.explanation,
        )


ITEM_COLUMNS = [
    "application_id",
    "kind",
    "brand_model",
    "serial",
    "vin",
    "invoice_no",
    "invoice_date",
    "price_fen",
    "grade",
    "certificate_no",
    "details",
    "amount_fen",
    "explanation",
]


@dataclass(slots=True)
class Prepared:
    """An application that passed every refusing check, not yet written: the applicant, the amount, the risk, the
    named check results, its items and the identifiers it claims. Plain values, not model instances: the batch path
    writes thousands of them a second straight into its inserts; the single path makes the row (`_new_application`)."""

    applicant_name: str
    applicant_id: str
    applicant_hash: str
    phone: str
    amount_fen: int
    risk_score: int
    risk_reasons: list[str]
    checks: tuple[Check, ...]
    items: list[ItemRow]
    claims: list[tuple[str, str]]
    demands: list[limits.Demand]  # what it takes of the person's limits (`limits.take`)
    status: str = Application.Status.RESERVED
    number: str = ""
    payee: payees.Payee = payees.NO_PAYEE  # the applicant's account, when the applicant is paid (checked)


def check_programme_open(programme: Programme, today: dt.date) -> None:
    if programme.status != Programme.Status.OPEN or not programme.opens_on <= today <= programme.closes_on:
        raise _refuse("受理状态", f"{programme.name}当前不在受理期", "programme_not_open")


class Check(NamedTuple):
    """One named check's result, stored in the application's `checks` as {"name", "outcome", "reason"}."""

    name: str
    outcome: str  # passed | flagged
    reason: str


# the results every accepted application has, made once (a batch makes thousands a second)
_PASSED = (
    Check("身份核验", "passed", "身份证号码和手机号码有效"),
    Check("受理期与开票日期", "passed", "在受理期内"),
    Check("每人限额", "passed", "未超过每人限额"),
)
_PRICE_PASSED = Check("价格合理性", "passed", "未见异常")


@lru_cache(maxsize=16)
def _unique_passed(claims: int) -> Check:
    return Check("凭证唯一", "passed", f"{claims}项凭证均未使用过")


def prepare(
    *,
    programme: Programme,
    params: Any,
    applicant_name: str,
    applicant_id: str,
    phone: str,
    items: list[ItemIn],
    today: dt.date,
    lookups: Lookups,
    payee: payees.Payee | None,
) -> Prepared:
    """Run the checks of one application (the programme is known to be open). Refusals raise `ValidationError`
    naming the check; nothing is written. `payee`: the account given for the applicant when the applicant is the
    one paid (`payees.pays_applicant`) — then required and checked —, None when the merchant is (nothing kept)."""
    if not items:
        raise _refuse("申请明细", "请至少填写一件商品", "no_items")
    clean_id = _check_identity(applicant_id, phone, applicant_name)
    account = payees.NO_PAYEE if payee is None else payees.clean_payee(payee)
    applicant_hash = lookups.applicant_hash(clean_id)
    counts: dict[str, int] = {}
    checked = []
    for item in items:
        _check_window(programme, item, today)
        checked.append(_check_item(programme, params, item, applicant_hash, counts, lookups, today))
    claims = [claim for c in checked for claim in c.claims]
    if len(set(claims)) != len(claims):
        raise _refuse("凭证唯一", "同一申请中有重复的发票、序列号或证明", "duplicate_in_application")
    for kind, value in claims:
        if lookups.claimed(kind, value):
            raise _refuse(
                "凭证唯一", f"{Claim.Kind(kind).label}{value.split(':')[-1]}已用于其他补贴申请", f"{kind}_already_used"
            )
    demands = [c.demand for c in checked if c.demand is not None]
    cap = getattr(params, "per_person_cap_fen", None)
    if cap is not None:
        demands.append(limits.Demand(limits.AMOUNT, sum(c.amount.fen for c in checked), cap, "累计补贴"))
    flags = [reason for item in items if (reason := _price_flag(item, lookups))]
    sampled = _sampler.random() * 100 < params.sample_pct
    rows = [
        ItemRow(
            kind=item.kind,
            brand_model=item.brand_model.strip(),
            serial=item.serial.strip().upper(),
            vin=item.vin.strip().upper(),
            invoice_no=item.invoice_no.strip().upper(),
            invoice_date=item.invoice_date,
            price_fen=item.price_fen,
            grade=item.grade,
            certificate_no=item.certificate_no.strip().upper(),
            details=json.dumps(details, ensure_ascii=False) if (details := item_details(item)) else "{}",
            amount_fen=c.amount.fen,
            explanation=c.amount.explanation,
        )
        for item, c in zip(items, checked, strict=True)
    ]
    checks = (
        *_PASSED,
        _unique_passed(len(claims)),
        *([Check("价格合理性", "flagged", f) for f in flags] or [_PRICE_PASSED]),
    )
    if sampled:
        checks += (Check("随机抽查", "flagged", f"按{params.sample_pct}%比例随机抽中，转人工审核"),)
    return Prepared(
        applicant_name=applicant_name.strip(),
        applicant_id=clean_id,
        applicant_hash=applicant_hash,
        phone="".join(phone.split()),
        amount_fen=sum(c.amount.fen for c in checked),
        risk_score=min(100, 40 * len(flags) + (10 if sampled else 0)),
        risk_reasons=flags + (["随机抽查"] if sampled else []),
        checks=checks,
        items=rows,
        claims=claims,
        demands=demands,
        payee=account,
    )


def demands_of(application: Application) -> list[limits.Demand]:
    """What a stored application took of its applicant's limits, as `prepare` asked for it: each item against its
    scope, and its amount against the money cap where the programme has one. The limits themselves do not matter
    here (`limits.give_back` needs only the amounts)."""
    programme = application.programme
    day = timezone.localdate(application.created_at)
    out = [
        limits.Demand(limits.scope_of(programme.category, item.kind, day), 1, 0, item.kind)
        for item in application.items.all()
    ]
    if programme.parameters.get("per_person_cap_fen") is not None and application.amount_fen:
        out.append(limits.Demand(limits.AMOUNT, application.amount_fen, 0, "累计补贴"))
    return out


def give_back_limits(application: Application) -> None:
    """A rejected or refunded application's share of its applicant's per-person limits, returned."""
    limits.give_back(application.programme_id, application.applicant_hash, demands_of(application))


def application_number(pk: int, day: dt.date) -> str:
    """Built from the row's id, so no counter row is locked and parallel submissions do not queue behind one another
    (numbers are unique and ascending, not gap-free), then four random digits: the public status page takes a
    number and the phone's last four digits, and numbers that follow each other could be walked one by one."""
    return f"{_number_prefix(day)}{pk:07d}{secrets.randbelow(10_000):04d}"


@lru_cache(maxsize=8)
def _number_prefix(day: dt.date) -> str:
    return f"BT{day:%y%m%d}"


STATUS_NOTES = {
    "reserved": "额度已预留，等待审核",
    "in_review": "转人工审核：",
    "queued": "额度已用完，排队等待追加",
}


def status_note(status: str, risk_reasons: list[str]) -> str:
    note = STATUS_NOTES[status]
    if status == Application.Status.IN_REVIEW:
        note += "；".join(risk_reasons)
    return note[:200]


def submitted_changes(prepared: Prepared, programme: Programme) -> dict[str, Any]:
    """The audit event's record of a submission."""
    return {
        "number": prepared.number,
        "programme": programme.code,
        "amount_fen": prepared.amount_fen,
        "status": prepared.status,
        "risk": prepared.risk_score,
        "claims": [f"{k}:{v}" for k, v in prepared.claims],
    }


def application_values(
    prepared: Prepared, *, programme: Programme, actor: User, channel: str, key: str, asked: str, now: dt.datetime
) -> dict[str, Any]:
    """One application's columns (by attribute name, in `APPLICATION_FIELDS` order) as Python values: the one
    definition of an application row. The single path makes the model from it (`_new_application`); the batch
    stores it straight into its insert (`bulk._stored`, each value as its field stores it). `checks` is the tuple
    of named results; each path writes it as its column wants."""
    payee = prepared.payee
    return {
        "programme_id": programme.id,
        "region_id": programme.region_id,
        "channel": channel,
        "merchant_id": actor.organisation_id if actor.role == Role.MERCHANT else None,
        "applicant_user_id": actor.pk if actor.role == Role.CITIZEN else None,
        "applicant_name": prepared.applicant_name,
        "applicant_id": prepared.applicant_id,
        "applicant_hash": prepared.applicant_hash,
        "applicant_id_tail": id_tail_hash(prepared.applicant_id),
        "phone": prepared.phone,
        "status": prepared.status,
        "amount_fen": prepared.amount_fen,
        "risk_score": prepared.risk_score,
        "risk_reasons": prepared.risk_reasons,
        "checks": prepared.checks,
        "created_by_id": actor.pk,
        "created_at": now,
        "idempotency_key": key,
        "fingerprint": asked,
        "payee_name": payee.name,
        "payee_account": payee.account,
        "payee_bank": payee.bank,
        "payee_bank_code": payee.bank_code,
    }


# `application_values`' keys in order: the batch inserts these columns (a test holds the two together)
APPLICATION_FIELDS = (
    "programme_id", "region_id", "channel", "merchant_id", "applicant_user_id", "applicant_name", "applicant_id",
    "applicant_hash", "applicant_id_tail", "phone", "status", "amount_fen", "risk_score", "risk_reasons", "checks",
    "created_by_id", "created_at", "idempotency_key", "fingerprint", "payee_name", "payee_account", "payee_bank",
    "payee_bank_code",
)  # fmt: skip


def _new_application(
    prepared: Prepared, *, programme: Programme, actor: User, channel: str, key: str, asked: str, now: dt.datetime
) -> Application:
    values = application_values(
        prepared, programme=programme, actor=actor, channel=channel, key=key, asked=asked, now=now
    )
    values["checks"] = [check._asdict() for check in prepared.checks]
    # the real number comes from the row's id once it is saved
    return Application(number=f"TMP{uuid.uuid4().hex[:16]}", **values)


ID_TAIL = 4  # characters of the resident ID kept as a look-up hash: the shortest tail the review queue searches by


def id_tail_hash(resident_id: str) -> str:
    """A keyed hash of the ID number's last four characters, truncated to 16 hex digits: it only narrows a search
    (`selectors.review_queue` then compares the decrypted numbers of the rows it finds), so collisions cost nothing
    and nothing about the number is in clear."""
    return pii.lookup_hash(pii.normalise(resident_id)[-ID_TAIL:], purpose="resident_id_tail")[:16]


def fingerprint(
    programme: Programme,
    applicant_name: str,
    applicant_id: str,
    phone: str,
    items: list[ItemIn],
    payee: payees.Payee = payees.NO_PAYEE,
) -> str:
    """A keyed hash of what one submission asks for (no personal data in clear): a retry under the same
    idempotency key must ask for the same, or it is another sale and is refused. The payee's account counts when
    one is given (a retry paying another account is another request)."""
    what = [programme.pk, applicant_name.strip(), applicant_id.strip().upper(), "".join(phone.split()), items]
    if any(payee):
        what.append(payees.fingerprint_part(payee))
    return pii.lookup_hash(json.dumps(what, ensure_ascii=False, default=str), purpose="submission")


MAX_KEY = 64  # the idempotency key's column


def check_key(key: str) -> str:
    """An idempotency key as given, or a refusal: a key is never cut (two long keys would become one)."""
    key = key.strip()
    if len(key) > MAX_KEY:
        raise ValidationError(f"Idempotency-Key 不能超过{MAX_KEY}个字符", code=errors.IDEMPOTENCY_KEY_TOO_LONG)
    if any(not ch.isprintable() for ch in key):
        raise ValidationError("Idempotency-Key 含有不可见字符", code=errors.IDEMPOTENCY_KEY_INVALID)
    return key


def _answer(existing: Application, fingerprint: str) -> Application:
    """The first submission's answer to a retry — only if the retry asks for the same thing."""
    if existing.fingerprint and existing.fingerprint != fingerprint:
        raise ValidationError(
            f"该幂等键（Idempotency-Key）已用于另一笔申请（{existing.number}），请为新的销售使用新的键",
            code=errors.IDEMPOTENCY_KEY_REUSED,
        )
    return existing


@retry.retrying
@transaction.atomic
def submit_application(
    *,
    actor: User,
    programme: Programme,
    applicant_name: str,
    applicant_id: str,
    phone: str,
    items: list[ItemIn],
    idempotency_key: str = "",
    channel: str = "",
    now: dt.datetime | None = None,
    payee_name: str = "",
    payee_account: str = "",
    payee_bank: str = "",
    payee_bank_code: str = "",
) -> Application:
    """Check, price and reserve one application. A retry with the same idempotency key returns the first result.
    `payee_*`: the applicant's account (户名, 账号, 开户行, 联行号), required when the applicant is the one paid —
    the programme pays applicants, or a citizen filed alone; ignored when the merchant is reimbursed."""
    now = now or timezone.now()
    key = check_key(idempotency_key)
    if actor.role == Role.CITIZEN:  # a citizen applies for themself: in the account's verified identity (实名)
        applicant_name, applicant_id, phone = identity.own_identity(actor, claimed_id=applicant_id)
    given = payees.Payee(payee_name, payee_account, payee_bank, payee_bank_code)
    asked = fingerprint(programme, applicant_name, applicant_id, phone, items, given) if key else ""
    if key and (existing := _submitted_before(actor, key)):
        return _answer(existing, asked)
    if actor.role not in (Role.CITIZEN, Role.MERCHANT):
        raise PermissionDenied("补贴由居民本人申请，或由商户在销售时代为提交")
    if actor.role == Role.MERCHANT and not actor.organisation_id:  # else filed for no merchant at all
        raise PermissionDenied("商户账号未关联商户单位，不能代为提交申请")
    channel = channel or (Application.Channel.MERCHANT if actor.role == Role.MERCHANT else Application.Channel.CITIZEN)
    params = rules.validate(programme.category, programme.parameters)
    today = timezone.localdate(now)
    check_programme_open(programme, today)
    try:
        prepared = prepare(
            programme=programme,
            params=params,
            applicant_name=applicant_name,
            applicant_id=applicant_id,
            phone=phone,
            items=items,
            today=today,
            lookups=Lookups(programme),
            payee=given if payees.pays_applicant(programme.payee, merchant_filed=actor.role == Role.MERCHANT) else None,
        )
    except ValidationError:
        # A simultaneous twin (same key) may have committed between our look-up above and the checks, which then
        # find its invoice "already used": its answer is ours.
        if key and (existing := _submitted_before(actor, key)):
            return _answer(existing, asked)
        raise
    application = _new_application(
        prepared, programme=programme, actor=actor, channel=channel, key=key, asked=asked, now=now
    )
    try:
        with transaction.atomic():  # a savepoint: a simultaneous twin with the same key makes this insert fail
            bulkinsert.insert_one(application)
    except IntegrityError:
        existing = _submitted_before(actor, key) if key else None
        if existing is None:
            raise
        return _answer(existing, asked)  # the twin committed first: its answer is ours
    application.number = prepared.number = application_number(application.pk, today)
    _set(application, "number", application.number)
    items_rows = [item.row(application.pk) for item in prepared.items]
    bulkinsert.insert_rows(ApplicationItem, ITEM_COLUMNS, items_rows, json_fields={"details"})
    try:
        with transaction.atomic():  # the database's word on "never twice", also under concurrent submissions
            # in one order for every writer (the batch path too), so that no two wait for each other in a circle
            rows = [(k, v, application.pk, True) for k, v in sorted(prepared.claims)]
            bulkinsert.insert_rows(Claim, ["kind", "value", "application_id", "active"], rows)
    except IntegrityError:
        raise _refuse(
            "凭证唯一", "发票、序列号、车辆识别代号或回收证明已用于其他补贴申请", "identifier_already_used"
        ) from None
    try:
        ledger.reserve(
            actor=actor,
            programme=programme,
            reference=application.number,
            amount_fen=application.amount_fen,
            now=now,
            fresh=True,  # a number drawn just now: no earlier reservation to look for
        )
    except ValidationError as exc:
        code = exc.error_list[0].code if hasattr(exc, "error_list") else None
        if code == errors.BUDGET_EXHAUSTED and programme.on_exhaustion == Programme.OnExhaustion.QUEUE:
            prepared.status = Application.Status.QUEUED
        else:
            raise
    # claims, money, then the person's limits: the order of every writer (bulk.py too)
    limits.take(programme.pk, prepared.applicant_hash, prepared.demands)
    if prepared.status == Application.Status.RESERVED and prepared.risk_reasons:
        prepared.status = Application.Status.IN_REVIEW
    application.status = prepared.status
    _set(application, "status", application.status)
    event = (application.pk, application.status, actor.pk, now, status_note(prepared.status, prepared.risk_reasons))
    bulkinsert.insert_rows(ApplicationEvent, ["application_id", "status", "actor_id", "at", "note"], [event])
    if channel != Application.Channel.BATCH:  # a batch's customers get no 已受理 SMS (docs/subsidies.md#notifications)
        notify.application_accepted(application, now=now)  # 已受理 / 人工审核 / 排队: commits with the application
    audit.record(
        actor=actor,
        action="subsidies.application_submitted",
        target=application,
        changes=submitted_changes(prepared, programme),
    )
    return application
