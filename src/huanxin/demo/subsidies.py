"""Demo trade-in subsidies: this year's appliance, digital and car scrap-and-renew programmes with their budgets,
and two months of applications from citizens and from a merchant's till — most reserved, some sent to manual
review by the price check or the random sample. Car applications use the recycling demo's scrapping certificates
(the same owner applies). Every figure is invented for the demo."""

from __future__ import annotations

import datetime as dt
import random
from typing import TextIO

from django.core.exceptions import ValidationError
from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from huanxin.core.models import Region, User
from huanxin.demo import identities
from huanxin.recycling.models import Certificate
from huanxin.subsidies import ledger, rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Programme

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


def build(stdout: TextIO | OutputWrapper) -> None:
    if Programme.objects.exists():
        return
    rng = random.Random(2028)  # noqa: S311 - demo data, not security
    boss = User.objects.get(username="zhuanban")
    today = timezone.localdate()
    city = Region.objects.get(code="130700")
    year_start = today.replace(month=1, day=1)
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
                opens_on=year_start,
                closes_on=today.replace(month=12, day=31),
                budget_fen=budget,
                stripes=32,
                parameters={**rules.DEFAULTS[category], "sample_pct": 5},
                status=Programme.Status.OPEN,
            )
        citizens = list(User.objects.filter(role="citizen").order_by("pk"))
        merchant = User.objects.get(username="shanghu")
        for days_ago in range(60, -1, -1):
            for _ in range(rng.randrange(2, 7)):
                category = rng.choices(["appliance", "digital"], weights=[3, 1])[0]
                made += _apply(programmes[category], rng.choice([merchant, *citizens]), rng, today, days_ago)
        for certificate in Certificate.objects.filter(kind="vehicle", status="valid", issued_on__gte=year_start)[:40]:
            made += _apply_car(programmes["car_scrap"], rng.choice(citizens), certificate, rng, today)
    stdout.write(f"以旧换新补贴演示数据：{len(specs)} 个补贴批次，{made} 份申请\n")


def _apply(programme: Programme, user: User, rng: random.Random, today: dt.date, days_ago: int) -> int:
    params = rules.validate(programme.category, programme.parameters)
    kind = rng.choice(list(params.kinds))  # type: ignore[attr-defined]
    model, price = rng.choice(MODELS[kind])
    price_fen = int(price * rng.uniform(0.92, 1.05) * 100) if rng.random() > 0.04 else int(price * 2.2 * 100)
    at = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(rng.randrange(9, 21), rng.randrange(60)))
    )
    try:
        submit_application(
            actor=user,
            programme=programme,
            applicant_name=identities.name(rng),
            applicant_id=identities.resident_id(rng),
            phone=identities.phone(rng),
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
        )
    except ValidationError:
        return 0  # an old car registered after the cut-off, an owner with a company code …
    return 1
