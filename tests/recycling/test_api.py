"""The recycling API: public sites and certificate check; bookings over a session; a recycler's own system
issuing certificates and recording intakes with an API token; retries act once; refusals carry stable codes."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from django.test import Client

from huanxin.core import tokens
from huanxin.demo import identities
from huanxin.recycling.models import Booking, Certificate, CollectionRecord

pytestmark = pytest.mark.django_db


def bearer(user) -> dict[str, str]:
    _, key = tokens.issue_token(actor=user, name="回收系统")
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def post(client: Client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body, default=str), content_type="application/json", **headers)


def test_sites_and_verification_are_public(site, recycler, dismantler) -> None:
    anonymous = Client()
    response = anonymous.get("/api/v1/recycling/sites", {"region": "130722", "category": "refrigerator"})
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["items"]] == [site.name]
    assert response.json()["items"][0]["kind_label"] == "回收网点"
    missing = anonymous.get("/api/v1/recycling/certificates/verify", {"number": "BF2025000001", "code": "XXXX"})
    assert missing.status_code == 404 and missing.json()["code"] == "certificate_not_found"


def test_a_recyclers_system_issues_a_certificate_with_a_token_and_a_retry_acts_once(recycler, dismantler) -> None:
    rng = random.Random(3)
    client = Client(enforce_csrf_checks=True)  # a token caller needs no CSRF token
    body = {
        "kind": "vehicle",
        "site": dismantler.pk,
        "owner_name": "赵建国",
        "owner_id": identities.resident_id(rng),
        "vin": identities.vin(rng),
        "plate": "冀G12345",
        "fuel": "nev",
        "registered_on": "2018-05-01",
    }
    auth = bearer(recycler)
    first = post(client, "/api/v1/recycling/certificates", body, HTTP_IDEMPOTENCY_KEY="req-1", **auth)
    assert first.status_code == 201, first.content
    again = post(client, "/api/v1/recycling/certificates", body, HTTP_IDEMPOTENCY_KEY="req-1", **auth)
    assert again.status_code == 201 and again.json()["number"] == first.json()["number"]
    assert Certificate.objects.count() == 1
    twin = post(client, "/api/v1/recycling/certificates", body, HTTP_IDEMPOTENCY_KEY="req-2", **auth)
    assert twin.status_code == 422
    assert twin.json()["code"] == "vin_already_certified"
    assert "已出具过" in twin.json()["message"]
    data = first.json()
    checked = Client().get(
        "/api/v1/recycling/certificates/verify", {"number": data["number"], "code": data["verify_code"]}
    )
    assert checked.status_code == 200
    assert checked.json()["valid"] is True and checked.json()["owner_masked"] == "赵**"
    assert body["vin"] not in checked.content.decode()  # masked: last six only
    assert checked.json()["vin_masked"].endswith(body["vin"][-6:])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"vin": "LFV2A21K8G3050010"}, "vin_check_digit"),
        ({"owner_id": "130722199001011234"}, "invalid_owner_id"),
        ({"kind": "nonsense"}, "invalid_kind"),
    ],
)
def test_bad_certificates_come_back_with_a_stable_code(recycler, dismantler, change, code) -> None:
    rng = random.Random(5)
    body = {
        "kind": "vehicle",
        "site": dismantler.pk,
        "owner_name": "赵建国",
        "owner_id": identities.resident_id(rng),
        "vin": identities.vin(rng),
        "plate": "冀G12345",
        "fuel": "petrol",
        "registered_on": "2010-05-01",
        **change,
    }
    response = post(Client(), "/api/v1/recycling/certificates", body, **bearer(recycler))
    assert response.status_code == 422 and response.json()["code"] == code
    assert not Certificate.objects.exists()


def test_records_over_the_api_are_idempotent_by_reference(recycler, site) -> None:
    body = {
        "site": site.pk,
        "received_on": dt.date.today().isoformat(),
        "source": "enterprise",
        "category": "scrap_steel",
        "weight_kg": "1250.5",
        "price_fen": 312625,
        "seller_org": "张北县农机厂",
        "external_ref": "ERP-0001",
    }
    auth = bearer(recycler)
    first = post(Client(), "/api/v1/recycling/records", body, **auth)
    assert first.status_code == 201 and first.json()["created"] is True
    again = post(Client(), "/api/v1/recycling/records", body, **auth)
    assert again.status_code == 200 and again.json()["created"] is False
    negative = post(Client(), "/api/v1/recycling/records", {**body, "external_ref": "ERP-2", "weight_kg": "-3"}, **auth)
    assert negative.status_code == 422 and negative.json()["code"] == "negative_weight"
    assert CollectionRecord.objects.count() == 1


def test_a_recycler_cannot_write_at_another_recyclers_site(site, zhangbei) -> None:
    from huanxin.core.roles import Role
    from tests.factories import UserFactory
    from tests.recycling.conftest import recycler_org

    stranger = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei, "别家回收"))
    body = {"site": site.pk, "received_on": "2025-06-01", "source": "person", "category": "tv", "units": 1}
    response = post(Client(), "/api/v1/recycling/records", body, **bearer(stranger))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not CollectionRecord.objects.exists()


def test_a_citizen_books_over_the_api_and_the_recycler_completes(citizen, recycler, slot) -> None:
    client = Client()
    client.force_login(citizen)
    body = {
        "slot": slot.pk,
        "region": "130722",
        "items": [{"category": "refrigerator", "count": 1}],
        "contact_name": "李明",
        "phone": "13812345678",
        "address": "张北县张北镇幸福小区3号楼2单元501",
    }
    from django.utils import timezone

    if slot.starts_at <= timezone.now():  # the fixture's slot is dated for the service tests; move it ahead
        slot.starts_at = timezone.now() + dt.timedelta(days=1)
        slot.ends_at = slot.starts_at + dt.timedelta(hours=3)
        slot.save()
    created = post(client, "/api/v1/recycling/bookings", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    assert created.json()["phone"] == "138****5678"
    assert post(client, "/api/v1/recycling/bookings", body, HTTP_IDEMPOTENCY_KEY="k1").json()["number"] == number
    assert Booking.objects.count() == 1
    outside = post(client, "/api/v1/recycling/bookings", {**body, "region": "130723"})
    assert outside.status_code == 422 and outside.json()["code"] == "outside_area"
    auth = bearer(recycler)
    accepted = post(Client(), f"/api/v1/recycling/bookings/{number}/accept", {}, **auth)
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    lines = {"lines": [{"category": "refrigerator", "units": 1, "weight_kg": "48.5", "price_fen": 8000}]}
    done = post(Client(), f"/api/v1/recycling/bookings/{number}/complete", lines, **auth)
    assert done.status_code == 200 and done.json()["paid_fen"] == 8000
    listed = client.get("/api/v1/recycling/bookings").json()
    assert [b["number"] for b in listed["items"]] == [number]
    assert Client().get("/api/v1/recycling/bookings").status_code == 401
