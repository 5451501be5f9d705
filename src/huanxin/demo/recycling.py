"""Demo recycling network: recyclers and their sites across the counties (sorting centres opening over time,
dismantlers, second-hand markets, a 公物仓), townships and their coverage, pickup slots, two months of bookings
in every state (a few left overdue), monthly intake at the sites, scrapping certificates since the plan began,
take-back and data-wipe certificates, and reverse invoices.

Every figure is invented for the demo; the volumes follow the demo's baselines (monitoring.BASELINES), and the
plan's scrapped-car and appliance indicators are derived from these records, not typed in.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any, TextIO

from django.core.management import call_command
from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from huanxin.core import services as core_services
from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.demo.recycling_invoices import create_invoices
from huanxin.plans.models import Plan
from huanxin.recycling import services
from huanxin.recycling.categories import APPLIANCES, Category
from huanxin.recycling.models import Booking, Certificate, PickupSlot, Site, Township

DEMO_PASSWORD = "huanxin-demo-2024"  # noqa: S105 - demo accounts only
CENTRES = {  # approximate county seats (longitude, latitude), for the site chart
    "130702": (114.89, 40.79),
    "130703": (114.87, 40.82),
    "130705": (115.06, 40.61),
    "130706": (115.28, 40.50),
    "130708": (114.74, 40.77),
    "130709": (115.28, 40.97),
    "130722": (114.72, 41.16),
    "130723": (114.60, 41.85),
    "130724": (115.69, 41.67),
    "130725": (113.97, 41.08),
    "130726": (114.59, 39.84),
    "130727": (114.15, 40.10),
    "130728": (114.39, 40.67),
    "130730": (115.52, 40.41),
    "130731": (115.22, 40.38),
    "130732": (115.83, 40.91),
}
# recyclers: (name, county code, username or "" for a generated one)
RECYCLERS = [
    ("张家口绿源再生资源回收有限公司", "130705", "huishou"),
    ("张北县塞北再生资源有限公司", "130722", ""),
    ("蔚县古城再生资源回收有限公司", "130726", ""),
    ("怀来县京西再生资源利用有限公司", "130730", ""),
    ("张家口市桥东区邻里回收服务站", "130702", ""),
    ("康保县草原再生资源有限公司", "130723", ""),
    ("张家口宏达报废汽车回收拆解有限公司", "130705", "chaijie"),
    ("涿鹿县顺通报废汽车回收有限公司", "130731", ""),
]
HOUSEHOLD = [
    "refrigerator",
    "washing_machine",
    "tv",
    "air_conditioner",
    "computer",
    "water_heater",
    "range_hood",
    "stove",
    "phone",
    "tablet",
]
MATERIAL = ["scrap_steel", "nonferrous", "paper", "plastic"]
STREETS = ["建设路", "胜利路", "长青路", "钻石路", "明德街", "东升路", "新华街", "育才路", "朝阳路", "迎宾路"]
DEMO_CARS_PER_YEAR = 400  # = monitoring.BASELINES["scrapped-cars-collected-growth"]
DEMO_APPLIANCES_PER_YEAR = 86000  # = monitoring.BASELINES["appliances-collected-growth"]


def _recycler_user(org: Organisation, username: str, n: int) -> User:
    username = username or f"hs-{n}"
    user = User.objects.filter(username=username).first()
    return (
        user
        or core_services.create_user(
            actor=None,
            username=username,
            password=DEMO_PASSWORD if username else None,  # the extra recyclers' staff do not sign in
            role=Role.RECYCLER,
            organisation=org,
            display_name=f"{org.name[:6]}业务员",
        )
    )


def build(stdout: TextIO | OutputWrapper) -> None:
    call_command("recycling", "townships", stdout=stdout)
    services.ensure_default_tax_rule()
    if Site.objects.exists():
        return
    plan = Plan.objects.get(code="zhangjiakou-2024")
    rng = random.Random(2025)  # noqa: S311 - demo data, not security
    now = timezone.now()
    today = timezone.localdate()
    boss = User.objects.get(username="zhuanban")
    with transaction.atomic():  # one transaction: the demo is written in seconds, not minutes
        clerks: dict[int, User] = {}
        orgs: list[Organisation] = []
        for n, (name, county, username) in enumerate(RECYCLERS, start=1):
            org = Organisation.objects.filter(name=name).first() or core_services.create_organisation(
                actor=None, name=name, kind=Organisation.Kind.RECYCLER, region=Region.objects.get(code=county)
            )
            orgs.append(org)
            clerks[org.pk] = _recycler_user(org, username, n)
        sites = _sites(orgs, clerks, boss, plan, rng)
        _certificates(sites, clerks, plan, today, rng)
        _intake(sites, clerks, plan, today, rng)
        bookings = _bookings(sites, clerks, now, rng)
        _proxy_entry(sites, boss, today)
    invoices = create_invoices(
        sites=[s for s in sites if s.kind in (Site.Kind.POINT, Site.Kind.SORTING_CENTRE)],
        clerk_for=lambda org: clerks[org.pk],
        today=today,
        rng=rng,
    )
    stdout.write(
        f"回收网络演示数据：{len(sites)} 个站点，{bookings} 个上门预约，"
        f"{Certificate.objects.count()} 份证明，{invoices} 张反向开票\n"
    )


def _proxy_entry(sites: list[Site], boss: User, today: dt.date) -> None:
    """One 收旧凭证 the task force entered on a recycler's behalf (代录), so the certificate page and its verification
    show how such an entry reads. Its own random source: the rest of the demo stays as it was."""
    rng = random.Random("proxy-entry")  # noqa: S311 - demo data, not security
    site = next(
        s
        for s in sites
        if s.status == Site.Status.OPERATING and s.kind == Site.Kind.POINT and "refrigerator" in s.categories
    )
    services.issue_certificate(
        actor=boss,
        kind=Certificate.Kind.TAKE_BACK,
        site=site,
        category=Category.REFRIGERATOR,
        owner_name=identities.name(rng),
        issued_on=today - dt.timedelta(days=3),
        on_behalf_reason="站点收银系统故障停用三天，企业书面申请",
    )


def _point(county: str, rng: random.Random) -> tuple[Decimal, Decimal]:
    lng, lat = CENTRES[county]
    return (
        Decimal(str(round(lng + rng.uniform(-0.12, 0.12), 6))),
        Decimal(str(round(lat + rng.uniform(-0.08, 0.08), 6))),
    )


def _sites(orgs: list[Organisation], clerks: dict[int, User], boss: User, plan: Plan, rng: random.Random) -> list[Site]:
    """Points in the townships (coverage with gaps), sorting centres opening one by one since the plan began,
    dismantlers, second-hand markets and a public institutions' warehouse."""
    sites: list[Site] = []

    def add(org: Organisation, county: str, name: str, kind: str, categories: list[str], **extra: Any) -> None:
        lng, lat = _point(county, rng)
        region = Region.objects.get(code=county)
        street = rng.choice(STREETS)
        sites.append(
            services.save_site(
                actor=clerks[org.pk],
                organisation=org,
                name=name,
                kind=kind,
                region=region,
                address=f"{region.name}{extra.pop('place', '')}{street}{rng.randrange(1, 300)}号",
                longitude=lng,
                latitude=lat,
                categories=categories,
                opening_hours=str(extra.pop("hours", "周一至周六 8:30-17:30")),
                phone=f"0313-{rng.randrange(2000000, 8999999)}",
                **extra,
            )
        )

    by_county = {org.region.code: org for org in orgs[:6]}
    # recycling points in townships: some townships covered, others still waiting (the coverage page shows them)
    for county, org in (
        ("130722", by_county["130722"]),
        ("130726", by_county["130726"]),
        ("130730", by_county["130730"]),
    ):
        townships = list(Township.objects.filter(region__code=county).order_by("name"))
        for town in rng.sample(townships, k=max(1, len(townships) * 2 // 3)):
            add(
                org,
                county,
                f"{town.name}再生资源回收站",
                Site.Kind.POINT,
                [*rng.sample(HOUSEHOLD, k=4), "scrap_steel"],
                township=town,
                place=town.name,
                is_sorting_point=rng.random() < 0.4,
                offers_pickup=rng.random() < 0.5,
                opened_on=plan.issued_on - dt.timedelta(days=rng.randrange(0, 900)),
            )
    for county, org in (("130702", by_county["130702"]), ("130705", orgs[0]), ("130723", by_county["130723"])):
        for n in range(1, 4):
            add(
                org,
                county,
                f"{Region.objects.get(code=county).name}社区回收点{n}号",
                Site.Kind.POINT,
                [*HOUSEHOLD, "paper", "plastic"],
                offers_pickup=True,
                is_sorting_point=n == 1,
                hours="每天 8:00-20:00",
            )
    # sorting centres: the plan's 19 by 2027; ten run now, two are being built
    centre_counties = [
        "130705",
        "130702",
        "130722",
        "130726",
        "130730",
        "130731",
        "130728",
        "130708",
        "130727",
        "130723",
        "130732",
        "130725",
    ]
    for n, county in enumerate(centre_counties):
        org = by_county.get(county, orgs[0])
        opened = plan.issued_on + dt.timedelta(days=120 * n - 300)
        planned = n >= 10
        add(
            org,
            county,
            f"{Region.objects.get(code=county).name}再生资源分拣中心",
            Site.Kind.SORTING_CENTRE,
            HOUSEHOLD + MATERIAL,
            status=Site.Status.PLANNED if planned else Site.Status.OPERATING,
            opened_on=None if planned else opened,
            offers_pickup=county in ("130705", "130702"),
            hours="周一至周六 8:00-18:00",
        )
    # vehicle dismantlers, each with its qualification
    for n, (org, county) in enumerate(
        ((orgs[6], "130705"), (orgs[7], "130731"), (by_county["130722"], "130722"), (by_county["130730"], "130730"))
    ):
        add(
            org,
            county,
            f"{org.name[:-6] if org.name.endswith('有限公司') else org.name}拆解厂",
            Site.Kind.DISMANTLER,
            ["car"],
            qualification_no=f"冀商报废资{2020 + n}0{n + 7}号",
            hours="周一至周五 8:30-17:00",
        )
    add(orgs[0], "130703", "张家口二手商品交易市场", Site.Kind.SECOND_HAND, ["phone", "tablet", "computer", "tv"])
    add(
        orgs[0],
        "130703",
        "张家口市行政事业单位公物仓",
        Site.Kind.PUBLIC_WAREHOUSE,
        ["computer", "tv", "air_conditioner"],
        hours="工作日 9:00-16:00",
    )
    # pickup slots: the coming two weeks, mornings and afternoons
    today = timezone.localdate()
    for site in sites:
        if site.offers_pickup and site.status == Site.Status.OPERATING:
            services.open_slots(
                actor=clerks[site.organisation_id],
                site=site,
                first_day=today,
                last_day=today + dt.timedelta(days=13),
                windows=[(dt.time(9), dt.time(12)), (dt.time(14), dt.time(17))],
                capacity=6,
            )
    return sites


def _months(start: dt.date, end: dt.date) -> list[dt.date]:
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def _quarters(start: dt.date, end: dt.date) -> list[dt.date]:
    return [m for m in _months(start.replace(month=(start.month - 1) // 3 * 3 + 1), end) if m.month in (1, 4, 7, 10)]


def _path(plan: Plan, day: dt.date, pace: float) -> float:
    """How far above the 2023 baseline the yearly rate is on `day`: the target growth reached by the deadline,
    scaled by the demo's pace."""
    span = (plan.deadline - plan.issued_on).days
    return 1 + max(0.0, (day - plan.issued_on).days / span) * pace


def _certificates(sites: list[Site], clerks: dict[int, User], plan: Plan, today: dt.date, rng: random.Random) -> None:
    """Scrapping certificates at the dismantlers month by month since the plan began: short of the path to
    doubling (pace 0.9), so the dashboard has a target to chase."""
    dismantlers = [s for s in sites if s.kind == Site.Kind.DISMANTLER]
    shares = [0.45, 0.2, 0.2, 0.15]
    fuels = [("petrol", 70), ("diesel", 18), ("nev", 7), ("other", 5)]
    for month in _months(plan.issued_on, today):
        last = min((month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1), today)
        count = round(DEMO_CARS_PER_YEAR / 12 * _path(plan, month, 0.9 * 1.0) * rng.uniform(0.85, 1.15))
        count = round(count * ((last - month).days + 1) / 30.5)
        for _ in range(count):
            site = rng.choices(dismantlers, weights=shares)[0]
            fuel = rng.choices([f for f, _ in fuels], weights=[w for _, w in fuels])[0]
            day = month + dt.timedelta(days=rng.randrange(0, (last - month).days + 1))
            services.issue_certificate(
                actor=clerks[site.organisation_id],
                kind=Certificate.Kind.VEHICLE,
                site=site,
                category=Category.CAR,
                owner_name=identities.name(rng),
                owner_id=identities.resident_id(rng),
                vin=identities.vin(rng),
                plate=identities.plate(rng),
                vehicle_type=rng.choice(["小型普通客车", "小型普通客车", "小型轿车", "轻型普通货车", "中型普通客车"]),
                fuel=fuel,
                emission_standard=rng.choice(["国二", "国三", "国三", "国四", "国五"]) if fuel != "nev" else "",
                registered_on=dt.date(rng.randrange(2003, 2016), rng.randrange(1, 13), rng.randrange(1, 29)),
                issued_on=day,
                today=day,
            )


def _intake(sites: list[Site], clerks: dict[int, User], plan: Plan, today: dt.date, rng: random.Random) -> None:
    """The quarterly intake returns of the sites that file them (as the recyclers upload them): appliances on the path
    to +30% (pace 1.1), and scrap materials."""
    # township points deliver to their county's sorting centre, which files the return; community points and the
    # 公物仓 file their own
    taking = [
        s
        for s in sites
        if s.kind in (Site.Kind.SORTING_CENTRE, Site.Kind.PUBLIC_WAREHOUSE)
        or (s.kind == Site.Kind.POINT and not s.township_id)
    ]
    weights = {s.pk: (6.0 if s.kind == Site.Kind.SORTING_CENTRE else 1.0) for s in taking}
    kg_per_unit = {
        "refrigerator": 50,
        "washing_machine": 35,
        "tv": 18,
        "air_conditioner": 40,
        "computer": 9,
        "water_heater": 20,
        "stove": 8,
        "range_hood": 15,
    }
    for quarter in _quarters(plan.issued_on, today):
        month = max(quarter, plan.issued_on)
        next_quarter = (
            dt.date(quarter.year + 1, 1, 1) if quarter.month == 10 else quarter.replace(month=quarter.month + 3)
        )
        last = min(next_quarter - dt.timedelta(days=1), today)
        open_sites = [
            s for s in taking if s.status == Site.Status.OPERATING and (s.opened_on is None or s.opened_on <= last)
        ]
        total_weight = sum(weights[s.pk] for s in open_sites)
        units_this_quarter = (
            DEMO_APPLIANCES_PER_YEAR / 12 * _path(plan, month, 0.3 * 1.1) * ((last - month).days + 1) / 30.5
        )
        for site in open_sites:
            clerk = clerks[site.organisation_id]
            share = units_this_quarter * weights[site.pk] / total_weight
            appliances = [c for c in site.categories if c in APPLIANCES]
            for category in appliances:
                units = max(1, round(share / len(appliances) * rng.uniform(0.7, 1.3)))
                services.record_collection(
                    actor=clerk,
                    site=site,
                    received_on=last,
                    source="enterprise",
                    category=category,
                    units=units,
                    weight_kg=Decimal(units * kg_per_unit[category]),
                    price_fen=units * rng.randrange(2000, 9000),
                    seller_org="个人交售月度汇总",
                    external_ref=f"季报-{site.pk}-{quarter:%Y%m}-{category}",
                    today=last,
                )
            for category in [c for c in site.categories if c in MATERIAL]:
                kg = Decimal(round(rng.uniform(2400, 36000) * weights[site.pk], 1))
                services.record_collection(
                    actor=clerk,
                    site=site,
                    received_on=last,
                    source="enterprise",
                    category=category,
                    weight_kg=kg,
                    price_fen=int(kg * rng.randrange(80, 260)),
                    seller_org="个人交售月度汇总",
                    external_ref=f"季报-{site.pk}-{quarter:%Y%m}-{category}",
                    today=last,
                )


def _bookings(sites: list[Site], clerks: dict[int, User], now: dt.datetime, rng: random.Random) -> int:
    """Two months of pickups: most completed (with take-back and data-wipe certificates), some no-shows and
    cancellations; this week's bookings waiting or accepted, a few left past their deadline."""
    pickup = [s for s in sites if s.offers_pickup and s.status == Site.Status.OPERATING]
    citizens = [User.objects.get(username="jumin")] + [
        User.objects.filter(username=f"jm-{n}").first()
        or core_services.create_user(
            actor=None,
            username=f"jm-{n}",
            password=None,
            role=Role.CITIZEN,
            display_name=identities.name(rng),
            check_password=False,
        )
        for n in range(1, 13)
    ]
    merchant = User.objects.get(username="shanghu")
    made = 0
    for days_ago in range(60, -1, -1):
        for _ in range(rng.randrange(1, 5)):
            site = rng.choice(pickup)
            clerk = clerks[site.organisation_id]
            booked_at = now - dt.timedelta(days=days_ago, hours=rng.randrange(1, 10))
            day = timezone.localtime(booked_at).date() + dt.timedelta(days=rng.randrange(1, 4))
            start = timezone.make_aware(dt.datetime.combine(day, rng.choice([dt.time(9), dt.time(14)])))
            slot = PickupSlot.objects.filter(site=site, starts_at=start).first() or PickupSlot.objects.create(
                site=site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=6
            )
            if slot.booked >= slot.capacity:
                continue
            booker = merchant if rng.random() < 0.2 else rng.choice(citizens)
            categories = [c for c in site.categories if c in HOUSEHOLD]
            chosen = rng.sample(categories, k=min(len(categories), rng.choice([1, 1, 1, 2])))
            booking = services.book_pickup(
                actor=booker,
                slot=slot,
                region=site.region,
                township=site.township,
                items=[services.ItemIn(c, 1) for c in chosen],
                contact_name=identities.name(rng),
                phone=identities.phone(rng),
                address=f"{site.region.name}{rng.choice(STREETS)}{rng.randrange(1, 40)}号院{rng.randrange(1, 12)}号楼"
                f"{rng.randrange(1, 6)}单元{rng.randrange(1, 7)}0{rng.randrange(1, 4)}",
                note=rng.choice(["", "", "", "没有电梯，在四楼", "请提前电话联系", "旧冰箱还能用"]),
                now=booked_at,
            )
            made += 1
            _progress(booking, clerk, slot, now, rng)
    return made


def _progress(booking: Booking, clerk: User, slot: PickupSlot, now: dt.datetime, rng: random.Random) -> None:
    accept_at = booking.created_at + dt.timedelta(hours=rng.choice([1, 2, 3, 5, 20, 30]))
    if accept_at > now or (rng.random() < 0.04 and slot.starts_at < now):
        return  # not yet accepted (or left lying: overdue)
    if rng.random() < 0.06:
        services.cancel_booking(actor=booking.created_by, booking=booking, reason="已自行处理", now=accept_at)
        return
    services.accept_booking(actor=clerk, booking=booking, now=min(accept_at, slot.starts_at))
    done_at = slot.starts_at + dt.timedelta(minutes=rng.randrange(10, 170))
    if done_at > now or rng.random() < 0.03:
        return  # the visit is still to come (or overdue)
    if rng.random() < 0.07:
        services.mark_no_show(actor=clerk, booking=booking, note="电话无人接听，敲门无人", now=done_at)
        return
    kg = {
        "refrigerator": 50,
        "washing_machine": 35,
        "tv": 18,
        "air_conditioner": 40,
        "computer": 9,
        "water_heater": 20,
        "stove": 8,
        "range_hood": 15,
        "phone": Decimal("0.2"),
        "tablet": Decimal("0.5"),
    }
    lines = [
        services.LineIn(
            item.category,
            item.count,
            Decimal(str(kg[item.category])) * item.count,
            rng.randrange(500, 12000)
            if item.category in ("refrigerator", "air_conditioner")
            else rng.randrange(0, 5000),
        )
        for item in booking.items.all()
    ]
    booking = services.complete_booking(actor=clerk, booking=booking, lines=lines, now=done_at)
    for item in booking.items.all():
        kind = (
            Certificate.Kind.DATA_WIPE
            if item.category in ("phone", "tablet", "computer")
            else Certificate.Kind.TAKE_BACK
        )
        services.issue_certificate(
            actor=clerk,
            kind=kind,
            site=booking.site,
            category=item.category,
            owner_name=booking.contact_name,
            serial=f"SN{rng.randrange(10**9, 10**10)}"
            if kind == Certificate.Kind.DATA_WIPE or rng.random() < 0.6
            else "",
            wipe_method="恢复出厂设置并覆写三次" if kind == Certificate.Kind.DATA_WIPE else "",
            booking=booking,
            issued_on=timezone.localdate(done_at),
            today=timezone.localdate(done_at),
        )
