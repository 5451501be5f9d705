"""Applying on the web and over the API (a merchant's till with a token), the public status page, the officials'
money view; refusals show the check's reason; retries submit once; personal data stays masked."""

from __future__ import annotations

import json
import random

import pytest
from django.test import Client
from django.utils import timezone

from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules
from huanxin.subsidies.models import Application
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(boss):
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000_00)


@pytest.fixture
def merchant(plan):
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def form(**kwargs):
    rng = random.Random(1)
    values = {
        "token": "f-1",
        "applicant_name": "林芳",
        "applicant_id": identities.resident_id(rng),
        "phone": "13912345678",
        "kind_0": "refrigerator",
        "model_0": "海尔BCD-501",
        "serial_0": "SN001",
        "grade_0": "1",
        "invoice_0": "INV001",
        "date_0": timezone.localdate().isoformat(),
        "price_0": "4999.00",
        **payee("林芳"),  # a citizen filing alone is paid: the account is required
    }
    return {**values, **kwargs}


def citizens_form(**kwargs):
    """What a citizen's page posts: no applicant fields (the applicant is the account's verified identity)."""
    return {k: v for k, v in form(**kwargs).items() if k not in ("applicant_name", "applicant_id", "phone")}


def test_a_citizen_applies_on_the_web_and_follows_it_publicly(plan, programme) -> None:
    citizen = UserFactory(role=Role.CITIZEN, display_name="林芳", verified_name="林芳", verified_phone="13912345678")
    client = Client()
    client.force_login(citizen)
    assert programme.name in client.get("/subsidies/").content.decode()
    page = client.get(f"/subsidies/apply/{programme.code}/").content.decode()
    assert "一级能效" in page and "提交申请" in page
    refused = client.post(f"/subsidies/apply/{programme.code}/", citizens_form(grade_0="3", token="f-0"))
    refused = refused.content.decode()
    assert "补贴标准：" in refused and "不在补贴范围" in refused
    assert 'value="INV001"' in refused and 'value="4999.00"' in refused  # what was typed comes back
    assert not Application.objects.exists()
    done = client.post(f"/subsidies/apply/{programme.code}/", citizens_form())
    application = Application.objects.get()
    assert done["Location"] == f"/subsidies/applications/{application.number}/"
    client.post(f"/subsidies/apply/{programme.code}/", citizens_form())  # a double click
    assert Application.objects.count() == 1
    detail = client.get(done["Location"]).content.decode()
    assert "999.80" in detail and "1级能效，按售价20%补贴" in detail
    public = Client().get("/subsidies/status/", {"number": application.number, "phone4": "5678"}).content.decode()
    assert application.number in public and "林芳" not in public and "139" not in public
    wrong = Client().get("/subsidies/status/", {"number": application.number, "phone4": "0000"}).content.decode()
    assert "未找到" in wrong
    api = Client().get("/api/v1/subsidies/status", {"number": application.number, "phone4": "5678"})
    assert api.status_code == 200 and api.json()["amount_fen"] == 999_80


def test_a_merchants_till_submits_over_the_api_with_a_token(merchant, programme) -> None:
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_IDEMPOTENCY_KEY": "till-42"}
    body = {
        "programme": programme.code,
        "applicant_name": "王强",
        "applicant_id": identities.resident_id(random.Random(2)),
        "phone": "13800001111",
        "items": [
            {
                "kind": "tv",
                "invoice_no": "T-1",
                "invoice_date": timezone.localdate().isoformat(),
                "price_fen": 300000,
                "grade": "2",
            }
        ],
    }
    client = Client(enforce_csrf_checks=True)
    first = client.post("/api/v1/subsidies/applications", json.dumps(body), content_type="application/json", **auth)
    assert first.status_code == 201, first.content
    assert first.json()["amount_fen"] == 450_00
    again = client.post("/api/v1/subsidies/applications", json.dumps(body), content_type="application/json", **auth)
    assert again.json()["number"] == first.json()["number"] and Application.objects.count() == 1
    other_person = {**body, "applicant_id": identities.resident_id(random.Random(3))}  # the same invoice again
    twice = client.post(
        "/api/v1/subsidies/applications",
        json.dumps(other_person),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_IDEMPOTENCY_KEY="till-43",
    )
    assert twice.status_code == 422 and twice.json()["code"] == "invoice_already_used"
    application = Application.objects.get()
    assert application.channel == "merchant" and application.merchant == merchant.organisation


def test_officials_see_the_money_and_others_do_not(plan, programme, boss) -> None:
    client = Client()
    client.force_login(boss)
    page = client.get("/subsidies/").content.decode()
    assert "按当前速度用完" in page and "100,000.00" in page
    assert client.get(f"/subsidies/programmes/{programme.code}/").status_code == 200
    listed = client.get("/api/v1/subsidies/programmes").json()
    assert listed[0]["available_fen"] == 100_000_00
    citizen = Client()
    citizen.force_login(UserFactory(role=Role.CITIZEN))
    assert citizen.get(f"/subsidies/programmes/{programme.code}/").status_code == 403
    assert citizen.get("/api/v1/subsidies/programmes").json()[0]["available_fen"] is None
    recycler = Client()
    recycler.force_login(user_with_role(Role.RECYCLER))
    assert recycler.get(f"/subsidies/apply/{programme.code}/").status_code == 403
