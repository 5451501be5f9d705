"""Returned goods (退货): the merchant reports it on the page or over the API, once; an unpaid subsidy is released,
a paid one clawed back; the invoice and the person's per-person place are free again; everything audited."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from huanxin.core import tokens
from huanxin.core.models import AuditEvent, Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import ledger, refunds, rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Entry, Refund
from tests.factories import UserFactory, user_with_role
from tests.subsidies.conftest import YUAN, make_programme

pytestmark = pytest.mark.django_db
RESIDENT = identities.resident_id(random.Random(31))


@pytest.fixture
def programme(boss: Any) -> Any:
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000 * YUAN)


@pytest.fixture
def merchant(plan: Any) -> Any:
    store = Organisation.objects.create(name="退货商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


def sell(merchant: Any, programme: Any, invoice: str = "RF-1", kind: str = "refrigerator") -> Application:
    return submit_application(
        actor=merchant,
        programme=programme,
        applicant_name="林芳",
        applicant_id=RESIDENT,
        phone="13912345678",
        items=[
            ItemIn(
                kind=kind,
                invoice_no=invoice,
                invoice_date=timezone.localdate(),
                price_fen=4_000 * YUAN,
                grade="1",
                serial=f"SN-{kind}",
            )
        ],
    )


def test_a_return_before_payment_releases_the_money_and_frees_invoice_and_place(merchant, programme) -> None:
    sold = sell(merchant, programme)
    refund = refunds.report_refund(actor=merchant, application=sold, reason="顾客七日无理由退货")
    sold.refresh_from_db()
    assert sold.status == Application.Status.REFUNDED and not refund.clawed_back
    assert refund.amount_fen == sold.amount_fen == 800 * YUAN
    assert Entry.objects.filter(programme=programme, kind="release", reference=sold.number).count() == 1
    assert selectors.balances(programme).reserved_fen == 0
    assert not Claim.objects.filter(application=sold, active=True).exists()
    # the same person may buy a refrigerator again, with the same serial sold anew under a new invoice
    again = sell(merchant, programme, invoice="RF-2")
    assert again.status == Application.Status.RESERVED
    event = AuditEvent.objects.get(action="subsidies.application_refunded")
    assert event.changes["status"] == ["reserved", "refunded"] and event.changes["claims_released"] == 2
    assert RESIDENT not in str(event.changes) and "林芳" not in str(event.changes)
    assert selectors.check_ledger(programme).problems == []


def test_reporting_the_same_return_again_acts_once(merchant, programme) -> None:
    sold = sell(merchant, programme)
    first = refunds.report_refund(actor=merchant, application=sold, reason="退货")
    second = refunds.report_refund(actor=merchant, application=sold, reason="退货（重复提交）")
    assert first.pk == second.pk and Refund.objects.count() == 1
    assert Entry.objects.filter(kind="release", reference=sold.number).count() == 1
    assert AuditEvent.objects.filter(action="subsidies.application_refunded").count() == 1


def test_a_return_after_payment_claws_the_subsidy_back(merchant, programme) -> None:
    sold = sell(merchant, programme)
    ledger.pay(actor=None, programme=programme, reference=sold.number)
    Application.objects.filter(pk=sold.pk).update(status=Application.Status.PAID)
    refund = refunds.report_refund(actor=merchant, application=sold, reason="质量问题退货")
    assert refund.clawed_back
    assert Entry.objects.filter(kind="clawback", reference=sold.number).count() == 1
    balances = selectors.balances(programme)
    assert balances.paid_fen == 0 and balances.clawed_back_fen == sold.amount_fen
    assert selectors.check_ledger(programme).problems == []


def test_only_the_selling_merchant_reports_and_only_what_can_be_returned(merchant, programme) -> None:
    sold = sell(merchant, programme)
    other = UserFactory(
        role=Role.MERCHANT,
        organisation=Organisation.objects.create(name="别家", kind="merchant", region=merchant.organisation.region),
    )
    for who in (other, user_with_role(Role.CITIZEN), user_with_role(Role.FINANCE_OFFICER)):
        with pytest.raises(PermissionDenied):
            refunds.report_refund(actor=who, application=sold, reason="退货")
    with pytest.raises(ValidationError) as empty:
        refunds.report_refund(actor=merchant, application=sold, reason="  ")
    assert empty.value.error_list[0].code == "reason_required"
    Application.objects.filter(pk=sold.pk).update(status=Application.Status.REJECTED)
    with pytest.raises(ValidationError) as rejected:
        refunds.report_refund(actor=merchant, application=sold, reason="退货")
    assert rejected.value.error_list[0].code == "not_refundable" and "未通过" in rejected.value.messages[0]


def test_the_merchant_reports_a_return_on_the_page_and_over_the_api(merchant, programme) -> None:
    sold, other = sell(merchant, programme), sell(merchant, programme, invoice="RF-API", kind="tv")
    page = Client()
    page.force_login(merchant)
    detail = page.get(f"/subsidies/applications/{sold.number}/").content.decode()
    assert "报告退货" in detail and "退货原因" in detail
    done = page.post(f"/subsidies/applications/{sold.number}/refund/", {"reason": "顾客退货"}, follow=True)
    assert "已登记退货，补贴额度已释放" in done.content.decode() and "已退货" in done.content.decode()

    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    till = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/subsidies/applications/{other.number}/refund"
    answer = till.post(url, json.dumps({"reason": "顾客退货"}), content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "refunded" and answer.json()["clawed_back"] is False
    assert till.post(url, json.dumps({"reason": "重试"}), content_type="application/json").status_code == 200
    bad = till.post(url.replace(other.number, sold.number), json.dumps({"reason": ""}), content_type="application/json")
    assert bad.status_code == 422 and bad.json()["code"] == "reason_required"
    assert Refund.objects.count() == 2
