"""Review and payments through the pages: the queue by risk, approving (two people above the threshold),
asking for material and answering it, a payment batch exported, the bank's answer imported, a clawback."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django.utils import timezone

from huanxin.core.roles import Role
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application
from tests.factories import UserFactory, user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_review_then_pay_through_the_pages(plan, boss) -> None:
    programme = make_programme(
        boss,
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0, "two_person_above_fen": 150_000},
        budget_fen=100_000_00,
    )
    citizen = UserFactory(role=Role.CITIZEN, verified_name="林芳")  # verified: applies in their own identity
    big = submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="林芳",
        applicant_id=citizen.verified_resident_id,
        phone="13912345678",
        **payee("林芳"),
        items=[ItemIn(kind="tv", invoice_no="I-1", invoice_date=timezone.localdate(), price_fen=9_000_00, grade="1")],
    )  # 1800 元: above the two-person threshold
    first, second = user_with_role(Role.REVIEWER), user_with_role(Role.REVIEWER)
    queue = logged_in(first).get("/subsidies/review/").content.decode()
    assert big.number in queue
    url = f"/subsidies/applications/{big.number}/"
    assert "须两名审核员分别通过" in logged_in(first).get(url).content.decode()
    logged_in(first).post(url + "approve/")
    again = logged_in(first).post(url + "approve/", follow=True).content.decode()
    assert "须由另一名审核人员复核通过" in again
    big.refresh_from_db()
    assert big.status == Application.Status.IN_REVIEW
    logged_in(second).post(url + "approve/")
    big.refresh_from_db()
    assert big.status == Application.Status.APPROVED

    finance = user_with_role(Role.FINANCE_OFFICER)
    pay = logged_in(finance)
    page = pay.get("/subsidies/payments/").content.decode()
    assert "生成发放批次" in page
    made = pay.post("/subsidies/payments/", {"programme": programme.code})
    batch_url = made["Location"]
    exported = pay.post(batch_url, {"action": "export", "format": "csv"})
    text = exported.content.decode("utf-8-sig")
    assert big.number in text and "1800.00" in text
    result = f"申请编号,结果,银行流水号,失败原因\r\n{big.number},成功,BANK-1,\r\n".encode()
    upload = io.BytesIO(result)
    upload.name = "回单.csv"
    started = pay.post(batch_url, {"action": "import", "file": upload})
    assert started["Location"].startswith("/jobs/")  # applied by a worker, the page shows its progress
    run_queued_jobs()
    big.refresh_from_db()
    assert big.status == Application.Status.PAID
    pay.post(f"/subsidies/applications/{big.number}/clawback/", {"reason": "经核查为虚假交易"})
    big.refresh_from_db()
    assert big.status == Application.Status.CLAWED_BACK
    assert logged_in(citizen).get("/subsidies/payments/").status_code == 403
    assert logged_in(citizen).get("/subsidies/review/").status_code == 403


def test_asking_for_material_and_answering_it(plan, boss) -> None:
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000_00)
    citizen = UserFactory(role=Role.CITIZEN, verified_name="林芳")
    application = submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="林芳",
        applicant_id=citizen.verified_resident_id,
        phone="13912345678",
        **payee("林芳"),
        items=[ItemIn(kind="tv", invoice_no="I-2", invoice_date=timezone.localdate(), price_fen=3_000_00, grade="1")],
    )
    reviewer = user_with_role(Role.REVIEWER)
    url = f"/subsidies/applications/{application.number}/"
    logged_in(reviewer).post(url + "more/", {"reason": "请上传发票照片"})
    page = logged_in(citizen).get(url).content.decode()
    assert "需补充材料" in page and "请上传发票照片" in page and "提交补充材料" in page
    logged_in(citizen).post(url + "supply/", {"note": "已补充发票照片，见附件说明"})
    assert "需补充材料" not in logged_in(citizen).get(url).content.decode()
    logged_in(reviewer).post(url + "reject/", {"reason": "发票与商品不符"})
    application.refresh_from_db()
    assert application.status == Application.Status.REJECTED


def test_the_home_page_lists_subsidy_work(plan, boss) -> None:
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 100}, budget_fen=100_000_00
    )
    citizen = UserFactory(role=Role.CITIZEN, verified_name="林芳")
    submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="林芳",
        applicant_id=citizen.verified_resident_id,
        phone="13912345678",
        **payee("林芳"),
        items=[ItemIn(kind="tv", invoice_no="I-3", invoice_date=timezone.localdate(), price_fen=3_000_00, grade="1")],
    )  # sampled: in review
    home = logged_in(user_with_role(Role.REVIEWER)).get("/").content.decode()
    assert "<b>1</b> 待审核的补贴申请" in home
    assert logged_in(user_with_role(Role.FINANCE_OFFICER)).get("/").status_code == 200
    assert logged_in(citizen).get("/").status_code == 200
