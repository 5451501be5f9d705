"""Demo equipment-renewal data: an enterprise register across the counties (industrial enterprises above
designated size with yearly surveys since 2023, 专精特新 recognitions accumulating towards the plan's 300),
and a project library in every state — some flagged by the energy-efficiency rule, some exempted, approved ones
with quarterly investment and bank loans.

Every figure is invented for the demo. The plan's 专精特新, digital-tool, NC and benchmark indicators are
derived from it."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import TextIO

from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone
from stdnum.cn import uscc as uscc_lib

from huanxin.core import services as core_services
from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.monitoring.periods import PeriodRef
from huanxin.projects import reference, services
from huanxin.projects.models import Enterprise, Project

DEMO_PASSWORD = "huanxin-demo-2024"  # noqa: S105 - demo accounts only
PLACES = [
    "宣钢",
    "塞北",
    "京张",
    "坝上",
    "桑洋",
    "洋河",
    "清水河",
    "长城",
    "冬奥",
    "大境门",
    "云顶",
    "草原",
    "燕山",
    "赐儿山",
    "泥河湾",
]
TRADES = {
    "industry": [
        ("装备制造", "C34 通用设备制造业"),
        ("精密铸造", "C33 金属制品业"),
        ("汽车零部件", "C36 汽车制造业"),
        ("新材料", "C30 非金属矿物制品业"),
        ("食品", "C14 食品制造业"),
        ("钢铁", "C31 黑色金属冶炼和压延加工业"),
        ("风电装备", "C38 电气机械和器材制造业"),
        ("化工", "C26 化学原料和化学制品制造业"),
    ],
    "agriculture": [("现代农业", "A01 农业"), ("农机服务", "A05 农林牧渔专业及辅助性活动")],
    "construction": [("建设集团", "E47 房屋建筑业"), ("市政工程", "E48 土木工程建筑业")],
    "transport": [("公交", "G54 道路运输业"), ("物流", "G58 多式联运和运输代理业")],
    "education": [("职业技术学院", "P83 教育")],
    "culture_tourism": [("文旅集团", "R88 文化艺术业"), ("滑雪场", "R89 体育")],
    "health": [("人民医院", "Q84 卫生"), ("中医医院", "Q84 卫生")],
}
COUNTIES = [
    "130705",
    "130702",
    "130703",
    "130708",
    "130709",
    "130722",
    "130726",
    "130730",
    "130731",
    "130728",
    "130727",
]
# (field, title, items: (name, category, good grade, unit price 元, quantity))
PROJECTS = [
    (
        "industry",
        "智能化生产线改造",
        [
            ("数控加工中心", "unlabelled", "", 2_600_000, 4),
            ("永磁同步电机", "motor", "1级", 85_000, 20),
            ("螺杆空气压缩机", "air_compressor", "2级", 320_000, 3),
        ],
    ),
    (
        "industry",
        "高效节能电机系统改造",
        [("高效电机", "motor", "2级", 60_000, 40), ("变频风机", "fan", "2级", 150_000, 8)],
    ),
    (
        "industry",
        "工业锅炉节能改造",
        [("燃气蒸汽锅炉", "industrial_boiler", "2级", 1_800_000, 2), ("循环水泵", "pump", "节能评价值", 95_000, 6)],
    ),
    ("industry", "配电系统变压器更新", [("非晶合金变压器", "transformer", "1级", 420_000, 6)]),
    ("industry", "感应熔炼设备更新", [("中频感应电炉", "induction_furnace", "2级", 2_200_000, 2)]),
    (
        "agriculture",
        "高标准农田农机装备更新",
        [("大马力拖拉机", "unlabelled", "", 680_000, 6), ("智能播种机", "unlabelled", "", 180_000, 8)],
    ),
    (
        "construction",
        "老旧供热管网换热站改造",
        [("换热机组循环泵", "pump", "节能评价值", 120_000, 12), ("变频风机", "fan", "2级", 90_000, 10)],
    ),
    (
        "transport",
        "新能源公交车及充电设施更新",
        [("纯电动公交车", "unlabelled", "", 1_350_000, 30), ("充电桩配电变压器", "transformer", "2级", 380_000, 4)],
    ),
    (
        "education",
        "职业院校实训设备更新",
        [("工业机器人实训台", "unlabelled", "", 420_000, 10), ("教学服务器", "server", "2级", 95_000, 12)],
    ),
    (
        "culture_tourism",
        "滑雪场造雪及索道设备更新",
        [("造雪机", "unlabelled", "", 560_000, 20), ("索道驱动电机", "motor", "1级", 380_000, 4)],
    ),
    (
        "health",
        "医学影像设备更新",
        [("CT", "unlabelled", "", 9_800_000, 2), ("冷水机组", "chiller", "2级", 1_200_000, 2)],
    ),
]


def _code(n: int, region: str) -> str:
    body = f"91{region}MA0{n:05d}"[:16] + "X"
    return body + uscc_lib.calc_check_digit(body)


def build(stdout: TextIO | OutputWrapper) -> None:
    if Enterprise.objects.exists():
        return
    rng = random.Random(2027)  # noqa: S311 - demo data, not security
    boss = User.objects.get(username="zhuanban")
    today = timezone.localdate()
    with transaction.atomic():
        enterprises = _register(boss, rng, today)
        projects = _projects(enterprises, rng, today)
    stdout.write(f"设备更新演示数据：{len(enterprises)} 家企业，{projects} 个项目\n")


def _register(boss: User, rng: random.Random, today: dt.date) -> list[Enterprise]:
    enterprises: list[Enterprise] = []
    names: set[str] = set()
    qiye = User.objects.get(username="qiye")
    for n in range(1, 261):
        field = rng.choices(list(TRADES), weights=[60, 8, 8, 6, 3, 3, 4])[0]
        trade, industry = rng.choice(TRADES[field])
        county = rng.choice(COUNTIES)
        region = Region.objects.get(code=county)
        name = f"张家口{rng.choice(PLACES)}{trade}有限公司" if n > 1 else qiye.organisation.name  # type: ignore[union-attr]
        suffix = 2
        while name in names:  # the same place and trade twice: number the second one
            name = f"张家口{name[3:].split('有限公司')[0].rstrip('0123456789')}{suffix}有限公司"
            suffix += 1
        names.add(name)
        organisation = qiye.organisation if n == 1 else None
        if n == 1:
            region = qiye.organisation.region  # type: ignore[union-attr]
            field, industry = "industry", "C34 通用设备制造业"
        enterprise, _ = services.register_enterprise(
            actor=boss,
            uscc=_code(n, region.code),
            name=name,
            region=region,
            field=field,
            industry=industry,
            above_designated_size=field == "industry" and (n == 1 or rng.random() < 0.55),
            organisation=organisation,
        )
        enterprises.append(enterprise)
        # 专精特新: recognised year by year, more each year (the plan wants 300 provincial or municipal by 2027)
        if field == "industry" and rng.random() < 0.72:
            year = rng.choices([2021, 2022, 2023, 2024, 2025, 2026], weights=[8, 10, 14, 18, 22, 20])[0]
            if year <= today.year:
                level = rng.choices(["municipal", "provincial", "national"], weights=[6, 3, 1])[0]
                services.add_recognition(actor=boss, enterprise=enterprise, level=level, year=year)
        if enterprise.above_designated_size:
            base_nc, digital = rng.uniform(55, 80), rng.random() < 0.7
            capacity = Decimal(rng.randrange(10, 500))
            for year in range(2023, today.year):
                progress = year - 2023
                services.save_survey(
                    actor=boss,
                    enterprise=enterprise,
                    year=year,
                    digital_rd_tools=digital or rng.random() < 0.15 * progress,
                    nc_rate=Decimal(str(round(min(98, base_nc + progress * rng.uniform(1, 5)), 1))),
                    capacity=capacity,
                    benchmark_capacity=(
                        capacity * Decimal(str(min(0.9, 0.18 + 0.05 * progress + rng.uniform(-0.05, 0.1))))
                    ).quantize(Decimal("0.01")),
                    capacity_unit="万吨" if "钢铁" in name or "化工" in name else "万件",
                )
    return enterprises


def _owner(enterprise: Enterprise, n: int) -> User:
    """The enterprise's account (qiye for the demo's own enterprise; others act only in the demo)."""
    if enterprise.organisation is None:
        org = Organisation.objects.filter(name=enterprise.name).first() or core_services.create_organisation(
            actor=None, name=enterprise.name, kind=Organisation.Kind.ENTERPRISE, region=enterprise.region
        )
        enterprise.organisation = org
        enterprise.save(update_fields=["organisation"])
    user = User.objects.filter(organisation=enterprise.organisation, role=Role.ENTERPRISE).first()
    return user or core_services.create_user(
        actor=None,
        username=f"qy-{n}",
        password=None,
        role=Role.ENTERPRISE,
        organisation=enterprise.organisation,
        display_name=f"{enterprise.name[:8]}经办人",
    )


def _county_officer(region: Region) -> User:
    existing = User.objects.filter(role=Role.COUNTY_OFFICER, organisation__region=region).first()
    if existing:
        return existing
    org = Organisation.objects.get(region=region, kind=Organisation.Kind.COUNTY_GOVERNMENT)
    return core_services.create_user(
        actor=None,
        username=f"xq-{region.code}",
        password=None,
        role=Role.COUNTY_OFFICER,
        organisation=org,
        display_name=f"{region.name}经办人",
    )


def _department_officer(field: str) -> User:
    code = reference.fields()[field].department
    department = Department.objects.get(code=code)
    existing = User.objects.filter(role=Role.DEPARTMENT_OFFICER, organisation__department=department).first()
    if existing:
        return existing
    return core_services.create_user(
        actor=None,
        username=f"tb-{code}",
        password=DEMO_PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=Organisation.objects.get(department=department),
        display_name=f"{department.short_name or department.name}填报员",
    )


def _projects(enterprises: list[Enterprise], rng: random.Random, today: dt.date) -> int:
    by_field: dict[str, list[Enterprise]] = {}
    for e in enterprises:
        by_field.setdefault(e.field, []).append(e)
    states = (
        ["approved"] * 18
        + ["county_approved"] * 4
        + ["submitted"] * 5
        + ["returned"] * 2
        + ["draft"] * 3
        + ["rejected"]
    )
    made = 0
    for n, state in enumerate(states):
        field, title, items = PROJECTS[n % len(PROJECTS)]
        enterprise = enterprises[0] if n in (0, 12, 26) else rng.choice(by_field[field])  # the demo account qiye
        if n == 24:  # a submitted project in 张北 for the demo's county officer (zhangbei)
            enterprise = next((e for e in by_field["industry"] if e.region.code == "130722"), enterprise)
        owner = _owner(enterprise, n)
        starts = dt.date(2024, 6, 1) + dt.timedelta(days=rng.randrange(0, 700))
        equipment = sum(price * qty for _, _, _, price, qty in items) * 100
        low_item = state in ("submitted", "returned") or (state == "approved" and n % 6 == 0)
        big = low_item or (field == "industry" and rng.random() < 0.5)  # low items matter where the rule applies
        project = services.save_project(
            actor=owner,
            enterprise=enterprise,
            title=f"{enterprise.name[3:7]}{title}",
            summary="更新改造主要生产设备，提升能效和数字化水平。",
            field=field,
            total_investment_fen=int(equipment * rng.uniform(1.3, 2.2)),
            equipment_investment_fen=int(equipment * rng.uniform(1.0, 1.15)),
            starts_on=starts,
            ends_on=starts + dt.timedelta(days=rng.randrange(240, 720)),
            annual_energy_tce=Decimal(rng.randrange(12000, 60000) if big else rng.randrange(200, 8000)),
            seeks_central_funds=rng.random() < 0.3,
            seeks_loan=rng.random() < 0.5,
            loan_wanted_fen=int(equipment * rng.uniform(0.3, 0.7)),
        )
        made += 1
        for k, (name, category, grade, price, qty) in enumerate(items):
            kind = reference.efficiency()[category]
            if low_item and k == len(items) - 1 and kind.labelled:
                grade = kind.grades[kind.grades.index(kind.energy_saving) + 1]  # one step below the energy-saving level
            services.save_item(
                actor=owner,
                project=project,
                name=name,
                model=f"{rng.choice('ABHKMTX')}{rng.randrange(10, 999)}",
                quantity=qty,
                unit_price_fen=price * 100,
                category=category,
                grade=grade,
            )
        if state == "draft":
            continue
        services.submit_project(actor=owner, project=project)
        county = _county_officer(project.region)
        if state == "submitted":
            continue
        if state == "returned":
            services.review_project(
                actor=county,
                project=project,
                decision="return",
                reason="设备能效低于节能水平，请更换为2级及以上产品后重新提交",
            )
            continue
        if state == "rejected":
            services.review_project(
                actor=county, project=project, decision="reject", reason="项目不属于设备更新范围（以新建厂房为主）"
            )
            continue
        from huanxin.projects import rules

        if rules.flags(project):
            services.exempt_project(
                actor=county, project=project, reason="该规格设备暂无达到节能水平的国产同类产品，企业已提交三家厂商说明"
            )
        services.review_project(actor=county, project=project, decision="approve")
        if state == "county_approved":
            continue
        project = services.review_project(actor=_department_officer(field), project=project, decision="approve")
        _progress(project, owner, rng, today)
    return made


def _progress(project: Project, owner: User, rng: random.Random, today: dt.date) -> None:
    ref = PeriodRef.parse(f"{project.starts_on.year}-Q{(project.starts_on.month - 1) // 3 + 1}")
    remaining = project.total_investment_fen
    while ref.end < today and remaining > 0:
        completed = min(remaining, int(project.total_investment_fen * rng.uniform(0.08, 0.3)))
        share = project.equipment_investment_fen / project.total_investment_fen
        services.report_investment(
            actor=owner,
            project=project,
            period=ref.code,
            completed_fen=completed,
            equipment_fen=int(completed * share),
            today=today,
        )
        remaining -= completed
        ref = ref.next()
    if project.seeks_loan and project.loan_wanted_fen:
        granted = min(today, project.starts_on + dt.timedelta(days=rng.randrange(10, 120)))
        services.record_loan(
            actor=owner,
            project=project,
            bank=rng.choice(
                [
                    "中国银行张家口分行",
                    "中国工商银行张家口分行",
                    "河北银行张家口分行",
                    "张家口银行",
                    "中国农业银行张家口分行",
                ]
            ),
            amount_fen=project.loan_wanted_fen,
            rate_bp=rng.choice([285, 300, 315, 345]),
            term_months=rng.choice([24, 36, 60]),
            granted_on=granted,
            relending=rng.random() < 0.5,
        )
