"""Demo trade-in subsidies: this year's appliance, digital and car scrap-and-renew programmes with their budgets,
and two months of applications from citizens (each in their own verified identity, 实名) and from a merchant's
till — most reserved, some sent to manual review by the price check or the random sample. Car applications use the
recycling demo's scrapping certificates (the till files for the certificate's owner). Then car replacement
(置换更新: old cars transferred, new cars by price band), e-bikes
(old bikes handed in at a recycling point, each with its 收旧凭证; a small budget that queues the last applications
until the finance officer adds money on the programme's page) and home renovation (家装厨卫焕新 and 适老化改造).
Every figure is invented for the demo."""

from __future__ import annotations

import datetime as dt
import random
from typing import TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone
from stdnum import luhn

from huanxin.core.models import Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services as recycling
from huanxin.recycling.models import Certificate, Site
from huanxin.subsidies import ledger, payees, payments, refunds, review, rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, MerchantAccount, PaymentBatch, Programme

MODELS = {
    "refrigerator": [("海尔BCD-501WGHTDD", 4999), ("美的BCD-470WTPZM", 3299), ("容声BCD-509WD", 3599)],
    "washing_machine": [("小天鹅TG100V88", 2999), ("海尔EG100MATE", 2499)],
    "tv": [("海信65E5N", 3999), ("TCL 75V8G", 5499), ("小米L65M9", 3299)],
    "air_conditioner": [("格力云佳1.5匹", 2899), ("美的酷省电1.5匹", 2599)],
    "computer": [("联想小新Pro16", 5999), ("华为MateBook14", 5699)],
    "water_heater": [("A.O.史密斯60升", 2799)],
    "range_hood": [("方太EMD20T", 4299)],
    "stove": [("老板37B0", 1899)],
    "phone": [("华为Mate 70", 5499), ("小米15", 4499), ("OPPO Find X8", 4299)],
    "tablet": [("华为MatePad 11.5", 2099), ("小米平板7", 1999)],
    "watch": [("华为Watch GT5", 1488)],
}


FIRST = ("appliance", "digital", "car_scrap")
LATER = ("car_replace", "ebike", "home")
# The demo's applications go back 60 days (a replaced car's transfer two weeks more): the window must hold them.
HISTORY = dt.timedelta(days=90)


def window(today: dt.date) -> tuple[dt.date, dt.date]:
    """The demo programmes' window, derived from today: to the end of this year, from 1 January or, early in the
    year, from 90 days back — so the two months of applications before today (the review queue, the e-bikes that
    queue, the cars) fall inside it on any date, New Year's Day included."""
    return min(today.replace(month=1, day=1), today - HISTORY), today.replace(month=12, day=31)


def build(stdout: TextIO | OutputWrapper) -> None:
    """Each group of programmes once: a database made before the later categories existed gets them too."""
    if not Programme.objects.filter(category__in=FIRST).exists():
        _build_first(stdout)
    if not Programme.objects.filter(category__in=LATER).exists():
        _build_later(stdout)
    _build_payments(stdout)


def _build_first(stdout: TextIO | OutputWrapper) -> None:
    rng = random.Random(2028)  # noqa: S311 - demo data, not security
    boss = User.objects.get(username="zhuanban")
    today = timezone.localdate()
    city = Region.objects.get(code="130700")
    opens_on, closes_on = window(today)
    specs = [
        ("appliance", f"{today.year}年家电以旧换新补贴", 6_000_000_00),
        ("digital", f"{today.year}年数码产品购新补贴", 1_500_000_00),
        ("car_scrap", f"{today.year}年汽车报废更新补贴", 8_000_000_00),
    ]
    made = 0
    with transaction.atomic():
        programmes = {}
        for category, name, budget in specs:
            programmes[category] = ledger.create_programme(
                actor=boss,
                code=f"{category.replace('_', '-')}-{today.year}",
                name=name,
                category=category,
                region=city,
                opens_on=opens_on,
                closes_on=closes_on,
                budget_fen=budget,
                stripes=32,
                parameters={**rules.DEFAULTS[category], "sample_pct": 5},
                status=Programme.Status.OPEN,
            )
        citizens = _verified_citizens()
        merchant = User.objects.get(username="shanghu")
        for days_ago in range(60, -1, -1):
            for _ in range(rng.randrange(2, 7)):
                category = rng.choices(["appliance", "digital"], weights=[3, 1])[0]
                made += _apply(programmes[category], rng.choice([merchant, *citizens]), rng, today, days_ago)
        scrapped = Certificate.objects.filter(kind="vehicle", status="valid", issued_on__range=(opens_on, today))
        for certificate in scrapped[:40]:  # the latest
            rng.choice(citizens)  # the draw of the citizen who once filed here: the rest of the demo stays the same
            made += _apply_car(programmes["car_scrap"], merchant, certificate, rng, today)  # for the owner, at the till
    stdout.write(f"以旧换新补贴演示数据：{len(specs)} 个补贴批次，{made} 份申请\n")


def _verified_citizens() -> list[User]:
    return list(User.objects.filter(role=Role.CITIZEN, identity_verified_at__isnull=False).order_by("pk"))


def _applicant(user: User, rng: random.Random) -> tuple[str, str, str]:
    """Name, resident ID and phone: a citizen applies in their own verified identity (实名), the till for a customer
    drawn at random. The draws are made either way, so the rest of the demo does not shift."""
    drawn = identities.name(rng), identities.resident_id(rng), identities.phone(rng)
    if user.role == Role.CITIZEN:
        return user.verified_name, user.verified_resident_id, user.verified_phone
    return drawn


def _apply(programme: Programme, user: User, rng: random.Random, today: dt.date, days_ago: int) -> int:
    params = rules.validate(programme.category, programme.parameters)
    kind = rng.choice(list(params.kinds))  # type: ignore[attr-defined]
    model, price = rng.choice(MODELS[kind])
    price_fen = int(price * rng.uniform(0.92, 1.05) * 100) if rng.random() > 0.04 else int(price * 2.2 * 100)
    at = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(rng.randrange(9, 21), rng.randrange(60)))
    )
    name, resident_id, phone = _applicant(user, rng)
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=name,
            applicant_id=resident_id,
            phone=phone,
            items=[
                ItemIn(
                    kind=kind,
                    invoice_no=f"{rng.randrange(10**11, 10**12)}",
                    invoice_date=at.date(),
                    price_fen=price_fen,
                    brand_model=model,
                    serial=f"SN{rng.randrange(10**9, 10**10)}",
                    grade=rng.choice(["1", "1", "2"]) if programme.category == "appliance" else "",
                )
            ],
            now=at,
            **_payee(name, resident_id),  # a citizen filing alone is paid; the till's sale reimburses the shop
        )
    except ValidationError:
        return 0  # a demo draw the rules refuse (a price above the ceiling …): nothing is written
    return 1


def _apply_car(programme: Programme, user: User, certificate: Certificate, rng: random.Random, today: dt.date) -> int:
    at = timezone.make_aware(
        dt.datetime.combine(min(today, certificate.issued_on + dt.timedelta(days=rng.randrange(3, 20))), dt.time(10))
    )
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=certificate.owner_name,
            applicant_id=certificate.owner_id,
            phone=identities.phone(rng),
            items=[
                ItemIn(
                    kind="car",
                    invoice_no=f"{rng.randrange(10**11, 10**12)}",
                    invoice_date=at.date(),
                    price_fen=rng.randrange(80_000, 260_000) * 100,
                    brand_model=rng.choice(["比亚迪秦PLUS", "吉利银河E5", "长城哈弗H6", "大众朗逸"]),
                    vin=certificate.vin,
                    new_fuel=rng.choice(["nev", "nev", "fuel"]),
                )
            ],
            now=at,
            **_payee(certificate.owner_name, certificate.owner_id),  # cars are paid to the applicant
        )
    except ValidationError:
        return 0  # an old car registered after the cut-off, an owner with a company code …
    return 1


# --- car replacement, e-bikes, home renovation -------------------------------------------------------------------

NEW_CARS = [  # (model, price in yuan, fuel)
    ("比亚迪秦PLUS DM-i", 99_800, "nev"),
    ("比亚迪宋PLUS DM-i", 155_800, "nev"),
    ("吉利银河E5", 119_800, "nev"),
    ("理想L6", 249_800, "nev"),
    ("问界M7", 259_800, "nev"),
    ("长城哈弗H6", 119_900, "fuel"),
    ("大众朗逸", 109_900, "fuel"),
    ("丰田凯美瑞", 179_800, "fuel"),
    ("坦克300", 209_800, "fuel"),
    ("五菱宏光MINIEV", 44_800, "nev"),  # below the first band: the rules refuse it
]
EBIKES = [  # (model, price in yuan, battery)
    ("雅迪冠能G5", 3_299, "lead_acid"),
    ("爱玛A500", 2_899, "lead_acid"),
    ("台铃超能S", 2_599, "lead_acid"),
    ("新日XC3", 2_399, "lead_acid"),
    ("九号F90", 3_999, "lithium"),
    ("小牛G400", 4_299, "lithium"),
]
HOME_ITEMS = {
    "smart_toilet": [("九牧ZS760", 3_999), ("恒洁Q9", 4_599)],
    "shower_room": [("箭牌一字型淋浴房", 4_500)],
    "bathroom_cabinet": [("科勒浴室柜", 3_280)],
    "kitchen_hardware": [("恒洁恒温花洒", 899), ("九牧厨房龙头", 459)],
    "cabinet": [("欧派整体橱柜3米", 15_800)],
    "flooring": [("圣象强化地板", 6_800), ("马可波罗瓷砖", 5_200)],
    "smart_lock": [("德施曼Q5", 1_999)],
    "lighting": [("雷士客厅吸顶灯", 599)],
    "grab_bar": [("卫生间不锈钢扶手", 280)],
    "bath_chair": [("助浴椅", 399)],
    "anti_slip": [("卫生间防滑地面改造", 2_600)],
    "care_bed": [("电动护理床", 5_800)],
}


def _build_later(stdout: TextIO | OutputWrapper) -> None:
    rng = random.Random(2029)  # noqa: S311 - demo data, not security
    boss = User.objects.get(username="zhuanban")
    today = timezone.localdate()
    city = Region.objects.get(code="130700")
    opens_on, closes_on = window(today)
    citizens = _verified_citizens()
    merchant = User.objects.get(username="shanghu")
    made = 0
    with transaction.atomic():

        def programme(category: str, name: str, budget_yuan: int, **extra: object) -> Programme:
            on_exhaustion = str(extra.pop("on_exhaustion", Programme.OnExhaustion.REFUSE))
            return ledger.create_programme(
                actor=boss,
                code=f"{category.replace('_', '-')}-{today.year}",
                name=name,
                category=category,
                region=city,
                opens_on=opens_on,
                closes_on=closes_on,
                budget_fen=budget_yuan * 100,
                on_exhaustion=on_exhaustion,
                stripes=8,
                parameters={**rules.DEFAULTS[category], "sample_pct": 5, **extra},
                status=Programme.Status.OPEN,
            )

        # this year's cars must have been in the seller's name by 8 January (the 2025 rule moved on a year)
        cars = programme(
            "car_replace", f"{today.year}年汽车置换更新补贴", 3_000_000, registered_by=f"{today.year}-01-08"
        )
        bikes = programme(  # a small first tranche: the last applications wait for the next
            "ebike", f"{today.year}年电动自行车以旧换新补贴", 15_000, on_exhaustion=Programme.OnExhaustion.QUEUE
        )
        home = programme("home", f"{today.year}年家装厨卫“焕新”及适老化改造补贴", 2_000_000)
        for n in range(36):  # the dealer's till files for the seller of the old car (one replacement per person)
            rng.choice(citizens)  # the draw of the citizen who once filed here: the rest of the demo stays the same
            made += _apply_replacement(cars, merchant, n, rng, today)
        point = (
            Site.objects.filter(organisation__name="张家口绿源再生资源回收有限公司", status=Site.Status.OPERATING)
            .order_by("pk")
            .first()
        )
        if point is not None:
            clerk = User.objects.filter(role="recycler", organisation=point.organisation).order_by("pk").first()
            for n in range(45):
                if clerk is not None:  # the shop files for whoever handed in the old bike (one bike per person)
                    rng.choice([merchant, *citizens])  # the draw of who once filed here: the demo stays the same
                    made += _apply_ebike(bikes, merchant, point, clerk, n, rng, today)
        for days_ago in range(50, -1, -2):
            for _ in range(rng.randrange(1, 4)):
                made += _apply_home(home, rng.choice([merchant, *citizens]), rng, today, days_ago)
    stdout.write(f"以旧换新补贴演示数据：汽车置换更新、电动自行车、家装厨卫 3 个补贴批次，{made} 份申请\n")


def _moment(rng: random.Random, today: dt.date, days_ago: int) -> dt.datetime:
    return timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(rng.randrange(9, 20), rng.randrange(60)))
    )


def _apply_replacement(programme: Programme, user: User, n: int, rng: random.Random, today: dt.date) -> int:
    at = _moment(rng, today, rng.randrange(0, 60))
    sold = at.date() - dt.timedelta(days=rng.randrange(1, 15))
    model, price, fuel = rng.choice(NEW_CARS)
    name = identities.name(rng)  # the call's first draw, as before
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=name,
            applicant_id=identities.resident_id(rng),
            phone=identities.phone(rng),
            items=[
                ItemIn(
                    kind="car",
                    invoice_no=f"{rng.randrange(10**11, 10**12)}",
                    invoice_date=at.date(),
                    price_fen=int(price * rng.uniform(0.9, 1.0)) * 100,
                    brand_model=model,
                    vin=identities.vin(rng),
                    new_fuel=fuel,
                    transfer_no=f"130700{sold:%Y%m%d}{n:04d}",
                    transfer_date=sold,
                    old_registered_on=dt.date(rng.randrange(2012, 2025), rng.randrange(1, 13), rng.randrange(1, 29)),
                )
            ],
            now=at,
            **_payee(name, f"car-{n}"),
        )
    except ValidationError:
        return 0  # a car below the first price band, an old car registered too late, a transfer before the window
    return 1


def _apply_ebike(
    programme: Programme, user: User, point: Site, clerk: User, n: int, rng: random.Random, today: dt.date
) -> int:
    at = _moment(rng, today, 44 - n)  # one a day, the newest last: they queue once the tranche is spent
    owner_name, owner_id = identities.name(rng), identities.resident_id(rng)
    handed_in = max(programme.opens_on, at.date() - dt.timedelta(days=rng.randrange(0, 3)))
    certificate = recycling.issue_certificate(
        actor=clerk,
        kind=Certificate.Kind.TAKE_BACK,
        site=point,
        category="ebike",
        owner_name=owner_name,
        owner_id=owner_id,
        brand_model=rng.choice(["绿源", "新日", "雅迪", "杂牌"]) + "旧电动自行车",
        issued_on=handed_in,
    )
    model, price, battery = rng.choice(EBIKES)
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=owner_name,
            applicant_id=owner_id,
            phone=identities.phone(rng),
            items=[
                ItemIn(
                    kind="ebike",
                    invoice_no=f"{rng.randrange(10**11, 10**12)}",
                    invoice_date=at.date(),
                    price_fen=price * 100,
                    brand_model=model,
                    serial=f"{rng.choice(['YD', 'AM', 'TL', 'XR', 'NB'])}{rng.randrange(10**10, 10**11)}",
                    certificate_no=certificate.number,
                    battery=battery,
                    ccc_no=f"{today.year - 1}011119{rng.randrange(10**6):06d}",
                    standard="GB 17761-2024",
                )
            ],
            now=at,
            **_payee(owner_name, owner_id),
        )
    except ValidationError:
        return 0
    return 1


def _apply_home(programme: Programme, user: User, rng: random.Random, today: dt.date, days_ago: int) -> int:
    at = _moment(rng, today, days_ago)
    kinds = rng.sample(list(HOME_ITEMS), k=rng.choice([1, 1, 2, 3]))
    items = []
    for kind in kinds:
        model, price = rng.choice(HOME_ITEMS[kind])
        items.append(
            ItemIn(
                kind=kind,
                invoice_no=f"{rng.randrange(10**11, 10**12)}",
                invoice_date=at.date(),
                price_fen=int(price * rng.uniform(0.92, 1.03) * 100),
                brand_model=model,
                grade=rng.choice(["1", ""]) if kind in ("smart_toilet", "kitchen_hardware") else "",
            )
        )
    name, resident_id, phone = _applicant(user, rng)
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=name,
            applicant_id=resident_id,
            phone=phone,
            items=items,
            now=at,
            **_payee(name, resident_id),
        )
    except ValidationError:
        return 0
    return 1


# --- payees and payments ------------------------------------------------------------------------------------------

BANKS = [  # (开户行, 联行号, card prefix): invented 联行号, as every figure here
    ("中国工商银行张家口分行营业部", "102138000018", "622202"),
    ("中国建设银行张家口分行", "105138000016", "621700"),
    ("中国农业银行张家口分行", "103138000011", "622848"),
    ("张家口银行营业部", "313138000019", "622309"),
    ("中国邮政储蓄银行张家口市分行", "403138000010", "621799"),
]


def _payee(holder: str, seed: str) -> dict[str, str]:
    """The applicant's bank card: a 19-digit number with a valid check digit, drawn from `seed` by a generator of
    its own (the demo's draws stay as they were)."""
    draw = random.Random(seed)  # noqa: S311 - demo data, not security
    bank, code, prefix = draw.choice(BANKS)
    base = prefix + "".join(str(draw.randrange(10)) for _ in range(12))
    return {
        "payee_name": holder,
        "payee_account": base + luhn.calc_check_digit(base),
        "payee_bank": bank,
        "payee_bank_code": code,
    }


def _build_payments(stdout: TextIO | OutputWrapper) -> None:
    """Once (skipped when a batch exists): the merchant's settlement account; appliance applications approved and
    paid in a first batch — one row failed at the bank and waits for the next —, a second appliance batch and an
    e-bike batch (paid to the applicants) ready to export."""
    if PaymentBatch.objects.exists():
        return
    users = {u.username: u for u in User.objects.filter(username__in=["shanghu", "shenhe", "caiwu"])}
    appliances = Programme.objects.filter(category="appliance").order_by("pk").first()
    bikes = Programme.objects.filter(category="ebike").order_by("pk").first()
    if len(users) < 3 or appliances is None or bikes is None:
        return
    merchant, reviewer, finance = users["shanghu"], users["shenhe"], users["caiwu"]
    made: list[PaymentBatch] = []
    with transaction.atomic():
        if merchant.organisation and not MerchantAccount.objects.filter(organisation=merchant.organisation).exists():
            payees.save_merchant_account(
                actor=merchant,
                account_name=merchant.organisation.name,
                account_no="110060149018000123456",
                bank="交通银行张家口分行",
                bank_code="301138000012",
            )

        def approve(programme: Programme, n: int) -> None:
            waiting = Application.objects.filter(programme=programme, status=Application.Status.RESERVED)
            for application in waiting.order_by("created_at", "pk")[:n]:
                review.decide(actor=reviewer, application=application, decision="approve")

        def batch(programme: Programme, limit: int | None = None) -> PaymentBatch | None:
            try:  # a database made before accounts were asked for has approved applications without one
                made.append(payments.create_batch(actor=finance, programme=programme, limit=limit))
            except ValidationError:
                return None
            return made[-1]

        approve(appliances, 14)
        first = batch(appliances, 8)
        if first is not None:
            payments.export_bank_file(actor=finance, batch=first)
            numbers = list(first.payments.order_by("pk").values_list("application__number", flat=True))
            lines = ["申请编号,结果,银行流水号,失败原因"]
            lines += [f"{number},成功,DEMO{n:08d}," for n, number in enumerate(numbers[:-1], start=1)]
            lines.append(f"{numbers[-1]},失败,,户名与账号不符")
            payments.import_bank_result(actor=finance, batch=first, data=("\r\n".join(lines) + "\r\n").encode())
        batch(appliances)  # the rest, and the row the bank refused
        approve(bikes, 6)
        batch(bikes)
        # a customer brought one item back: the merchant's 退货 releases its subsidy and frees the person's place
        sold = (
            Application.objects.filter(merchant=merchant.organisation, status=Application.Status.RESERVED)
            .order_by("-created_at", "-pk")
            .first()
        )
        if sold is not None:
            refunds.report_refund(actor=merchant, application=sold, reason="顾客七日无理由退货")
    stdout.write(f"以旧换新补贴演示数据：{len(made)} 个发放批次（第 1 个已导出并按回单结清，其余待导出发放文件）\n")
