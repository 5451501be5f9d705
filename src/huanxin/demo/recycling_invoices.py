"""Demo 反向开票: a few hundred purchases of scrap steel, copper and aluminium, and waste paper from about sixty
individual sellers over the last six months, written through `record_invoice` (so the cap and the taxes are
computed as in real use). Most purchases are 50–3,000 yuan; a handful of sellers who drive scrap around the
villages sell truckloads of steel, so some of their months pass the 100,000-yuan VAT exemption.

Names and resident ID numbers are invented: the ID numbers are well-formed (a county code of the city, a real
date, the ISO 7064 check digit; `clean_resident_id` accepts each) and belong to nobody we know of.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from huanxin.core.models import Organisation, User
from huanxin.core.validators import clean_resident_id
from huanxin.recycling.categories import Category
from huanxin.recycling.invoices import record_invoice
from huanxin.recycling.models import ReverseInvoice, Site

FAMILY = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎武侯白"
GIVEN = "德福贵春生海山林文军建国明华志成永红玉兰凤英秀桂芳金宝喜旺来柱全胜利忠义平安"
# Place codes as printed on ID cards: here people born before 1993 carry the old 张家口地区 codes (1325xx), as
# those whose number was issued before 1993 do, later births the city's county codes (1307xx). (Many older people
# carry 1307xx too, issued later — demo/identities.py draws those; both kinds are valid.)
OLD_COUNTY_CODES = ("132521", "132522", "132523", "132524", "132525", "132526", "132527", "132528", "132529")
COUNTY_CODES = ("130722", "130723", "130724", "130725", "130726", "130727", "130728", "130730", "130731", "130732")
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]

# (category, goods names, yuan per kg low–high, kg low–high)
GOODS = [
    (Category.SCRAP_STEEL, ("废钢（重废）", "废钢（轻薄料）", "废旧农机具", "废铁"), (2.0, 2.6), (30, 1200)),
    (Category.NONFERROUS, ("废铜（黄铜）", "废电线铜芯", "废铝（易拉罐）", "废铝型材"), (12.0, 55.0), (3, 60)),
    (Category.PAPER, ("废旧纸箱", "废报纸书本", "黄板纸"), (1.1, 1.6), (40, 1500)),
]
WEIGHT_OF = (6, 2, 3)  # steel most often, then paper, then copper/aluminium


def check_digit(body: str) -> str:
    """The 18th character of a resident ID (GB 11643, ISO 7064 MOD 11-2) for its first 17 digits."""
    total = sum(int(ch) * w for ch, w in zip(body, _WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def resident_id(rng: random.Random) -> str:
    """A well-formed, made-up resident ID of someone born 1955–2000 in a Zhangjiakou county."""
    while True:
        born = dt.date(1955, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 46))
        place = rng.choice(OLD_COUNTY_CODES if born.year < 1993 else COUNTY_CODES)
        body = f"{place}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
        number = body + check_digit(body)
        try:
            clean_resident_id(number)
        except ValidationError:
            continue
        return number


def person_name(rng: random.Random) -> str:
    return rng.choice(FAMILY) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


@dataclass(frozen=True)
class Seller:
    name: str
    resident_id: str
    truckloads: bool  # a scrap dealer who brings steel by the truckload


def _sellers(rng: random.Random, count: int = 60) -> list[Seller]:
    seen: set[str] = set()
    sellers: list[Seller] = []
    while len(sellers) < count:
        number = resident_id(rng)
        if number in seen:
            continue
        seen.add(number)
        sellers.append(Seller(person_name(rng), number, truckloads=len(sellers) < 3))
    return sellers


def _purchase(rng: random.Random, seller: Seller) -> tuple[Category, str, Decimal, int]:
    """(category, goods, kg, amount in fen) of one purchase."""
    if seller.truckloads:
        kg = Decimal(rng.randrange(8_000, 18_000))
        price = Decimal(str(round(rng.uniform(2.2, 2.6), 2)))
        return Category.SCRAP_STEEL, "废钢（重废，整车）", kg, int(kg * price * 100)
    category, names, (low, high), (kg_low, kg_high) = rng.choices(GOODS, weights=WEIGHT_OF)[0]
    price = Decimal(str(round(rng.uniform(low, high), 2)))
    while True:
        kg = Decimal(rng.randrange(kg_low * 10, kg_high * 10)) / 10
        amount = int((kg * price * 100).to_integral_value())
        if amount >= 50_00 or rng.random() < 0.2:  # mostly 50–3,000 yuan, now and then a small sale
            break
    return category, rng.choice(names), kg, max(amount, 5_00)


def create_invoices(
    *, sites: list[Site], clerk_for: Callable[[Organisation], User], today: dt.date, rng: random.Random
) -> int:
    """Invoices over the six months before `today`, oldest first (so numbers follow dates), each issued on the
    day of the sale; returns how many were created. Does nothing (0) when the sites' recyclers already have
    invoices, so running the demo twice adds nothing."""
    sites = [s for s in sites if s.status == Site.Status.OPERATING] or list(sites)
    if not sites:
        return 0
    organisations = {s.organisation_id for s in sites}
    if ReverseInvoice.objects.filter(organisation_id__in=organisations).exists():
        return 0
    sellers = _sellers(rng)
    home_site = {s.resident_id: rng.choice(sites) for s in sellers}  # people sell near home, now and then elsewhere
    start = today - dt.timedelta(days=182)
    plan: list[tuple[dt.date, Seller]] = []
    for seller in sellers:
        visits = rng.randrange(8, 14) if seller.truckloads else rng.randrange(2, 9)
        plan += [(start + dt.timedelta(days=rng.randrange(0, 183)), seller) for _ in range(visits)]
    plan.sort(key=lambda item: item[0])
    clerks: dict[int, User] = {}
    created = 0
    with transaction.atomic():
        for n, (day, seller) in enumerate(plan):
            site = home_site[seller.resident_id] if rng.random() < 0.85 else rng.choice(sites)
            clerk = clerks.get(site.organisation_id)
            if clerk is None:
                clerk = clerks[site.organisation_id] = clerk_for(site.organisation)
            category, goods, kg, amount_fen = _purchase(rng, seller)
            record_invoice(
                actor=clerk,
                site=site,
                seller_name=seller.name,
                seller_id=seller.resident_id,
                sold_on=day,
                category=category,
                description=goods,
                weight_kg=kg,
                amount_fen=amount_fen,
                token=f"demo-invoice-{n}",
                today=day,
            )
            created += 1
    return created
