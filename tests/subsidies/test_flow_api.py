"""The whole subsidy flow over the API where it exists: a merchant's till submits with a token and an
Idempotency-Key, every check's refusal comes back as 422 with its code and leaves nothing behind, anyone follows
the application anonymously by number and phone tail; review and payment run through the services (no API for
them yet); the application reads paid over the API and the ledger verifies."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import payments, review, rules
from huanxin.subsidies.models import Application, Claim, Entry, Payment, PaymentBatch
from huanxin.subsidies.selectors import balances, check_ledger
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import BANK, BANK_CODE
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db

URL = "/api/v1/subsidies/applications"
PHONE = "13912345678"
NAMED = {  # each refusal names its check (docs/subsidies.md)
    "invalid_resident_id": "身份核验：",
    "invalid_phone": "身份核验：",
    "grade_not_eligible": "补贴标准：",
    "kind_not_eligible": "补贴范围：",
    "invoice_outside_window": "开票日期：",
    "invoice_after_application": "开票日期：",
    "per_person_limit": "每人限额：",
    "invoice_already_used": "凭证唯一：",
    "serial_already_used": "凭证唯一：",
    "budget_exhausted": "本批次补贴额度已用完",
}


@pytest.fixture
def programme(boss):
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 100}, budget_fen=100_000_00)


@pytest.fixture
def till(plan):
    """A merchant's till: a client sending the merchant's API token."""
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    merchant = UserFactory(role=Role.MERCHANT, organisation=store)
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {key}")
    client.merchant = merchant
    return client


def person(seed: int) -> str:
    return identities.resident_id(random.Random(seed))


def body(programme, **changes):
    item = {
        "kind": "refrigerator",
        "invoice_no": "044002500111",
        "invoice_date": timezone.localdate().isoformat(),
        "price_fen": 4_999_00,
        "brand_model": "海尔BCD-501",
        "serial": "HR2025SN0001",
        "grade": "1",
    }
    item.update(changes.pop("item", {}))
    return {
        "programme": programme.code,
        "applicant_name": "林芳",
        "applicant_id": person(41),
        "phone": PHONE,
        "items": [item],
        **changes,
    }


def post(client, payload, key):
    return client.post(URL, json.dumps(payload), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_apply_check_review_pay_and_verify_over_the_api(plan, programme, till, boss) -> None:
    # the till submits: accepted, sampled into review, the money reserved
    first = post(till, body(programme), "till-0001")
    assert first.status_code == 201, first.content
    created = first.json()
    assert created["status"] == "in_review" and created["status_label"] == "人工审核中"
    assert created["amount_fen"] == 999_80 and created["risk_reasons"] == ["随机抽查"]
    number = created["number"]
    again = post(till, body(programme), "till-0001")  # the till retries
    assert again.status_code == 201 and again.json()["number"] == number
    assert Application.objects.count() == 1 and balances(programme).reserved_fen == 999_80

    # every check refuses with its code, and a refusal leaves nothing behind
    today = timezone.localdate()
    other = {"applicant_id": person(42), "phone": "13800001111"}
    new_item = {"invoice_no": "044002500222", "serial": "HR2025SN0002"}
    refusals = {
        "invalid_resident_id": body(programme, applicant_id=person(43)[:17] + "X", item=new_item),
        "invalid_phone": body(programme, **{**other, "phone": "1391234"}, item=new_item),
        "grade_not_eligible": body(programme, **other, item={**new_item, "grade": "3"}),
        "kind_not_eligible": body(programme, **other, item={**new_item, "kind": "electric_bike"}),
        "invoice_outside_window": body(
            programme,
            **other,
            item={**new_item, "invoice_date": (programme.opens_on - dt.timedelta(days=1)).isoformat()},
        ),
        "per_person_limit": body(programme, item=new_item),  # the same person, a second refrigerator
        "invoice_already_used": body(programme, **other, item={"serial": "HR2025SN0002"}),
        "serial_already_used": body(programme, **other, item={"invoice_no": "044002500222"}),
    }
    assert person(43)[:17] + "X" != person(43)
    future = body(programme, **other, item={**new_item, "invoice_date": (today + dt.timedelta(days=1)).isoformat()})
    tiny = make_programme(
        boss,
        code="appliance-tiny",
        name="2025年家电以旧换新补贴（尾款）",
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0},
        budget_fen=100_00,
        stripes=1,
    )
    cases = [
        *refusals.items(),
        ("invoice_after_application", future),
        ("budget_exhausted", body(tiny, **other, item=new_item)),
    ]
    entries = Entry.objects.count()
    for n, (code, payload) in enumerate(cases):
        refused = post(till, payload, f"till-bad-{n}")
        assert refused.status_code == 422, (code, refused.content)
        assert refused.json()["code"] == code, (code, refused.json())
        assert refused.json()["message"].startswith(NAMED[code]), refused.json()
    assert Application.objects.count() == 1 and Claim.objects.count() == 2
    assert Entry.objects.count() == entries and balances(tiny).reserved_fen == 0
    assert balances(programme).reserved_fen == 999_80

    # anyone follows it with the number and the phone's last four digits — and finds nothing otherwise
    anonymous = Client()
    public = anonymous.get("/api/v1/subsidies/status", {"number": number.lower(), "phone4": PHONE[-4:]})
    assert public.status_code == 200
    assert public.json()["status"] == "in_review" and public.json()["amount_fen"] == 999_80
    assert "林芳" not in public.content.decode() and PHONE not in public.content.decode()
    for query in (
        {"number": number, "phone4": "0000"},
        {"number": number, "phone4": PHONE[-3:]},
        {"number": "BT0000000000000", "phone4": PHONE[-4:]},
    ):
        missing = anonymous.get("/api/v1/subsidies/status", query)
        assert missing.status_code == 404 and missing.json()["code"] == "application_not_found"
    assert anonymous.get(f"{URL}/{number}").status_code == 401  # the application itself is not public
    stranger = Client()
    stranger.force_login(UserFactory(role=Role.CITIZEN))
    assert stranger.get(f"{URL}/{number}").status_code == 404

    # review and payment: services only, no API yet
    application = Application.objects.get(number=number)
    review.decide(actor=user_with_role(Role.REVIEWER), application=application, decision="approve")
    assert till.get(f"{URL}/{number}").json()["status"] == "approved"
    finance = user_with_role(Role.FINANCE_OFFICER)
    # sold at the merchant's till, so the merchant is reimbursed: its settlement account, set over the API
    assert till.get("/api/v1/subsidies/merchant-account").json()["code"] == "merchant_account_not_set"
    account = {
        "account_name": "焕新家电商行",
        "account_no": "1234 5678 9012 3456 789",
        "bank": BANK,
        "bank_code": BANK_CODE,
    }
    saved = till.put("/api/v1/subsidies/merchant-account", json.dumps(account), content_type="application/json")
    assert saved.status_code == 200 and saved.json()["account_no"] == "1234***********6789"
    batch = payments.create_batch(actor=finance, programme=programme)
    bank_file = payments.export_bank_file(actor=finance, batch=batch, fmt="csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(bank_file)))
    paid_to = [(r["收款账号"], r["收款户名"], r["金额（元）"], r["用途/附言"]) for r in rows]
    assert paid_to == [("1234567890123456789", "焕新家电商行", "999.80", f"以旧换新补贴{number}")]
    answer = f"申请编号,结果,银行流水号,失败原因\r\n{number},成功,BANK-20250001,\r\n".encode()
    results = payments.import_bank_result(actor=finance, batch=batch, data=answer)
    assert [(r.ref, r.ok, r.changed) for r in results] == [(number, True, True)]
    repeated = payments.import_bank_result(actor=finance, batch=batch, data=answer)  # the same file twice
    assert [(r.ok, r.changed) for r in repeated] == [(True, False)]

    # paid, over the API too; the ledger agrees
    paid = till.get(f"{URL}/{number}")
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid" and paid.json()["status_label"] == "已发放"
    public = anonymous.get("/api/v1/subsidies/status", {"number": number, "phone4": PHONE[-4:]})
    assert public.json()["status"] == "paid"
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.SETTLED
    assert Payment.objects.get().status == Payment.Status.PAID
    assert check_ledger(programme).problems == [] and check_ledger(tiny).problems == []
    money = balances(programme)
    assert money.paid_fen == 999_80 and money.reserved_fen == 0 and money.available_fen == 100_000_00 - 999_80
    assert Entry.objects.filter(reference=number, kind=Entry.Kind.PAY).count() == 1
    call_command("ledger", "verify")
