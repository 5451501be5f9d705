"""What the README's flows need beyond the rest of the demo, so each can be walked by the account it names:

- 林芳 (`jumin`) scrapped her old car at 宏达's dismantling yard (`chaijie` issued the 报废机动车回收证明), so she can
  apply for the 汽车报废更新 subsidy in her own name — an amount above the two-person limit;
- two car applications approved once by `shenhe`, waiting for the second reviewer (`shenhe2`, 待复核).

Idempotent: each part is written once, through the services. Every figure is invented for the demo."""

from __future__ import annotations

import datetime as dt
import random
from typing import TextIO

from django.core.management.base import OutputWrapper
from django.db import transaction
from django.utils import timezone

from huanxin.core.models import User
from huanxin.demo import identities
from huanxin.recycling import services as recycling
from huanxin.recycling.categories import Category
from huanxin.recycling.models import Certificate, Site
from huanxin.subsidies import review
from huanxin.subsidies.models import Application, ReviewDecision

DISMANTLER = "张家口宏达报废汽车回收拆解有限公司"


def jumin_car_vin() -> str:
    """The VIN of 林芳's scrapped car: drawn from a source of its own, the same on every run."""
    return identities.vin(random.Random("jumin-car"))  # noqa: S311 - demo data, not security


def build(stdout: TextIO | OutputWrapper) -> None:
    with transaction.atomic():
        certificate = _jumin_car()
        waiting = _first_approvals()
    if certificate is not None:
        stdout.write(
            f"演示流程：林芳（jumin）的旧车已报废，报废机动车回收证明 {certificate.number}，VIN {certificate.vin}；"
            f"{waiting} 份汽车报废更新申请待第二名审核员（shenhe2）复核\n"
        )


def _jumin_car() -> Certificate | None:
    citizen = User.objects.filter(username="jumin", identity_verified_at__isnull=False).first()
    clerk = User.objects.filter(username="chaijie").first()
    site = Site.objects.filter(
        organisation__name=DISMANTLER, kind=Site.Kind.DISMANTLER, status=Site.Status.OPERATING
    ).first()
    if citizen is None or clerk is None or site is None:
        return None
    vin = jumin_car_vin()
    existing = Certificate.objects.filter(vin=vin).first()
    if existing is not None:
        return existing
    today = timezone.localdate()
    return recycling.issue_certificate(
        actor=clerk,
        kind=Certificate.Kind.VEHICLE,
        site=site,
        category=Category.CAR,
        owner_name=citizen.verified_name,
        owner_id=citizen.verified_resident_id,
        vin=vin,
        plate="冀G7L2F9",
        vehicle_type="小型轿车",
        fuel="petrol",
        emission_standard="国四",
        registered_on=dt.date(2011, 9, 16),  # a petrol car registered before the cut-off (June 2012)
        issued_on=today - dt.timedelta(days=3),
        today=today,
    )


def _first_approvals() -> int:
    """Two car applications above the two-person limit, approved once by 周婷: 韩雪 finds them 待复核."""
    reviewer = User.objects.filter(username="shenhe").first()
    if reviewer is None or not User.objects.filter(username="shenhe2").exists():
        return 0
    cars = Application.objects.filter(programme__category="car_scrap")
    if ReviewDecision.objects.filter(application__in=cars, actor=reviewer).exists():
        return cars.filter(status=Application.Status.IN_REVIEW).count()
    candidates = [
        a
        for a in cars.filter(status=Application.Status.RESERVED).order_by("created_at", "pk")[:20]
        if a.amount_fen > review.two_person_above_fen(a)
    ]
    for application in candidates[:2]:
        review.decide(actor=reviewer, application=application, decision="approve")
    return len(candidates[:2])
