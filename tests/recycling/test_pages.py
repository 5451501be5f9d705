"""The recycling pages as people use them: the public list and check, a citizen's booking form, the recycler's
and the officials' views; personal data masked for those who need not see it, and never in the logs."""

from __future__ import annotations

import datetime as dt
import logging
import random

import pytest
from django.test import Client
from django.utils import timezone

from huanxin.core.models import Organisation
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services
from huanxin.recycling.models import Booking, Certificate, PickupSlot
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def future_slot(site) -> PickupSlot:
    start = timezone.now() + dt.timedelta(days=1)
    return PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=4)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_public_finds_sites_and_checks_certificates_without_logging_in(site, dismantler, recycler) -> None:
    client = Client()
    page = client.get("/recycling/sites/", {"region": "130722", "category": "refrigerator"})
    assert page.status_code == 200
    html = page.content.decode()
    assert site.name in html and dismantler.name not in html  # the dismantler takes no fridges
    assert "回收网点查询" in html and "登录" in html
    assert client.get(f"/recycling/sites/{site.pk}/").status_code == 200
    empty = client.get("/recycling/sites/", {"region": "130723"}).content.decode()
    assert "没有符合条件的站点" in empty

    rng = random.Random(9)
    certificate = services.issue_certificate(
        actor=recycler,
        kind="vehicle",
        site=dismantler,
        category="car",
        owner_name="赵建国",
        owner_id=identities.resident_id(rng),
        vin=identities.vin(rng),
        plate="冀G12345",
        fuel="petrol",
        registered_on=dt.date(2010, 1, 1),
    )
    checked = client.get("/recycling/verify/", {"number": certificate.number, "code": certificate.verify_code})
    html = checked.content.decode()
    assert "证明有效" in html and "赵**" in html and "赵建国" not in html and certificate.vin not in html
    wrong = client.get("/recycling/verify/", {"number": certificate.number, "code": "ABCDEFGH"}).content.decode()
    assert "未找到匹配的证明" in wrong
    assert client.get("/recycling/bookings/").status_code == 302  # everything else needs a login


def test_a_citizen_books_through_the_form(citizen, future_slot) -> None:
    client = logged_in(citizen)
    form = client.get("/recycling/book/")
    assert form.status_code == 200 and "查找可预约时段" in form.content.decode()
    found = client.post("/recycling/book/", {"region": "130722", "categories": ["refrigerator"], "find": "1"})
    assert "张北镇回收站" in found.content.decode()
    data = {
        "region": "130722",
        "categories": ["refrigerator"],
        "count_refrigerator": "1",
        "slot": str(future_slot.pk),
        "contact_name": "李明",
        "phone": "1381234",  # too short
        "address": "张北县张北镇幸福小区3号楼2单元501",
        "token": "t-1",
        "submit": "1",
    }
    refused = client.post("/recycling/book/", data)
    assert refused.status_code == 200 and "请填写11位手机号码" in refused.content.decode()
    assert not Booking.objects.exists()
    done = client.post("/recycling/book/", {**data, "phone": "13812345678"})
    booking = Booking.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/recycling/bookings/{booking.number}/"
    again = client.post("/recycling/book/", {**data, "phone": "13812345678"})  # a double click
    assert again["Location"] == done["Location"] and Booking.objects.count() == 1
    detail = client.get(done["Location"]).content.decode()
    assert "13812345678" in detail  # the citizen sees their own number
    listing = client.get("/recycling/bookings/").content.decode()
    assert booking.number in listing and "138****5678" in listing and "13812345678" not in listing


def test_contact_data_is_full_for_the_recycler_and_masked_for_officials(citizen, recycler, future_slot, boss):
    booking = services.book_pickup(
        actor=citizen,
        slot=future_slot,
        region=future_slot.site.region,
        items=[services.ItemIn("tv", 1)],
        contact_name="李明",
        phone="13812345678",
        address="张北县张北镇幸福小区3号楼2单元501",
    )
    url = f"/recycling/bookings/{booking.number}/"
    serving = logged_in(recycler).get(url).content.decode()
    assert "13812345678" in serving and "幸福小区3号楼2单元501" in serving and "accept/" in serving
    official = logged_in(boss).get(url).content.decode()
    assert "138****5678" in official and "13812345678" not in official and "2单元501" not in official
    assert "accept/" not in official  # no accept form for an official
    stranger = UserFactory(role=Role.CITIZEN)
    assert logged_in(stranger).get(url).status_code == 404


def test_a_recycler_works_a_booking_through_the_pages(citizen, recycler, future_slot) -> None:
    booking = services.book_pickup(
        actor=citizen,
        slot=future_slot,
        region=future_slot.site.region,
        items=[services.ItemIn("refrigerator", 1)],
        contact_name="李明",
        phone="13812345678",
        address="张北县张北镇幸福小区3号楼2单元501",
    )
    client = logged_in(recycler)
    base = f"/recycling/bookings/{booking.number}/"
    assert client.post(base + "accept/").status_code == 302
    bad = client.post(base + "complete/", {"units_refrigerator": "1", "kg_refrigerator": "-2"}, follow=True)
    assert "重量不能为负数" in bad.content.decode()
    client.post(base + "complete/", {"units_refrigerator": "1", "kg_refrigerator": "48", "price_refrigerator": "80"})
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED and booking.paid_fen == 8000
    page = client.get(base).content.decode()
    assert "为冰箱出具收旧凭证" in page
    form = client.get("/recycling/certificates/new/take_back/", {"booking": booking.number, "category": "refrigerator"})
    assert "李明" in form.content.decode()  # the owner is filled in from the booking
    issued = client.post(
        "/recycling/certificates/new/take_back/",
        {
            "site": future_slot.site.pk,
            "category": "refrigerator",
            "owner_name": "李明",
            "booking": booking.number,
            "issued_on": timezone.localdate().isoformat(),
            "token": "c-1",
        },
    )
    certificate = Certificate.objects.get()
    assert issued["Location"] == f"/recycling/certificates/{certificate.number}/"
    assert certificate.booking == booking
    assert certificate.verify_code in client.get(issued["Location"]).content.decode()


def test_the_vehicle_form_shows_errors_at_their_fields(recycler, dismantler) -> None:
    client = logged_in(recycler)
    rng = random.Random(4)
    data = {
        "site": dismantler.pk,
        "vin": "LFV2A21K8G3050010",
        "plate": "冀G12345",
        "fuel": "petrol",
        "registered_on": "2010-01-01",
        "owner_name": "赵建国",
        "owner_id": identities.resident_id(rng),
        "issued_on": timezone.localdate().isoformat(),
    }
    page = client.post("/recycling/certificates/new/vehicle/", data).content.decode()
    assert "校验位不正确" in page and 'id="e-vin"' in page
    assert not Certificate.objects.exists()


def test_official_and_recycler_overviews_render(recycler, site, boss, citizen) -> None:
    for user, text in ((recycler, "登记回收"), (boss, "乡镇覆盖情况")):
        page = logged_in(user).get("/recycling/")
        assert page.status_code == 200 and text in page.content.decode()
    assert logged_in(boss).get("/recycling/coverage/").status_code == 200
    assert logged_in(citizen).get("/recycling/").status_code == 302  # citizens go to their bookings
    assert logged_in(citizen).get("/recycling/records/").status_code == 403
    assert logged_in(citizen).get("/recycling/coverage/").status_code == 403
    merchant_org = Organisation.objects.create(name="商户", kind="merchant", region=site.region)
    merchant = UserFactory(role=Role.MERCHANT, organisation=merchant_org)
    assert "为顾客代约" in logged_in(merchant).get("/recycling/book/").content.decode()


def test_records_page_filters_and_exports(recycler, site) -> None:
    services.record_collection(
        actor=recycler, site=site, received_on=timezone.localdate(), source="person", category="tv", units=2
    )
    client = logged_in(recycler)
    page = client.get("/recycling/records/").content.decode()
    assert "电视机" in page
    export = client.get("/recycling/records/", {"format": "xlsx"})
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    assert client.get("/recycling/records/template.xlsx").status_code == 200


def test_personal_data_never_reaches_the_logs(citizen, recycler, dismantler, future_slot, caplog) -> None:
    rng = random.Random(11)
    owner_id = identities.resident_id(rng)
    with caplog.at_level(logging.DEBUG):
        client = logged_in(citizen)
        client.post(
            "/recycling/book/",
            {
                "region": "130722",
                "categories": ["tv"],
                "count_tv": "1",
                "slot": str(future_slot.pk),
                "contact_name": "欧阳建华",
                "phone": "13987654321",
                "address": "张北县张北镇秘密小区9号楼",
                "submit": "1",
            },
        )
        client.post(
            "/recycling/book/",
            {
                "region": "130722",
                "categories": ["tv"],
                "slot": str(future_slot.pk),
                "contact_name": "欧阳建华",
                "phone": "139",
                "address": "张北县张北镇秘密小区9号楼",
                "submit": "1",
            },
        )  # refused: the refusal is not logged with the data either
        logged_in(recycler).post(
            "/recycling/certificates/new/vehicle/",
            {
                "site": dismantler.pk,
                "vin": identities.vin(rng),
                "plate": "冀GZ9999",
                "fuel": "petrol",
                "registered_on": "2010-01-01",
                "owner_name": "欧阳建华",
                "owner_id": owner_id,
            },
        )
    assert Booking.objects.count() == 1 and Certificate.objects.count() == 1
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in ("欧阳建华", "13987654321", "秘密小区", owner_id, "冀GZ9999"):
        assert secret not in text
