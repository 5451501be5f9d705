"""Real parallel connections on PostgreSQL: a VIN gets one scrapping certificate however many dismantlers'
clerks press the button at once, and a slot never takes more bookings than its capacity."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services
from huanxin.recycling.models import Booking, Certificate, PickupSlot
from tests.conftest import postgres_only
from tests.factories import UserFactory

pytestmark = [postgres_only, pytest.mark.django_db(transaction=True)]


def race(workers: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(len(workers))
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(work: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(work())
        except BaseException as exc:  # collected and checked by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(work,)) for work in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def test_parallel_requests_for_one_vin_issue_one_certificate(recycler, dismantler) -> None:
    rng = random.Random(7)
    vin = identities.vin(rng)
    clerks = [UserFactory(role=Role.RECYCLER, organisation=recycler.organisation) for _ in range(8)]

    def issue(clerk: Any) -> Callable[[], Certificate]:
        return lambda: services.issue_certificate(
            actor=clerk,
            kind="vehicle",
            site=dismantler,
            category="car",
            owner_name="赵建国",
            owner_id=identities.resident_id(random.Random(clerk.pk)),
            vin=vin,
            plate="冀G12345",
            fuel="diesel",
            registered_on=dt.date(2012, 3, 1),
        )

    results, errors = race([issue(clerk) for clerk in clerks])
    assert len(results) == 1, errors
    assert len(errors) == 7
    assert all(
        isinstance(e, ValidationError) and e.error_dict["vin"][0].code == "vin_already_certified" for e in errors
    )
    assert Certificate.objects.filter(vin=vin).count() == 1
    assert AuditEvent.objects.filter(action="recycling.certificate_issued").count() == 1


def test_parallel_bookings_never_overfill_a_slot(site) -> None:
    start = timezone.now() + dt.timedelta(days=1)
    slot = PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=3)
    citizens = [UserFactory(role=Role.CITIZEN) for _ in range(10)]

    def book(citizen: Any) -> Callable[[], Booking]:
        return lambda: services.book_pickup(
            actor=citizen,
            slot=slot,
            region=site.region,
            items=[services.ItemIn("tv", 1)],
            contact_name="居民",
            phone="13900000000",
            address="张北县张北镇幸福小区1号楼",
        )

    results, errors = race([book(c) for c in citizens])
    assert len(results) == 3
    assert len(errors) == 7 and all(e.error_dict["slot"][0].code == "slot_full" for e in errors)  # type: ignore[attr-defined]
    slot.refresh_from_db()
    assert slot.booked == 3 == Booking.objects.filter(slot=slot).count()
    assert len({b.number for b in results}) == 3
