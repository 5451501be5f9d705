"""A real browser (Playwright driving Debian's Chromium) through a trade-in subsidy from start to finish: a citizen
on a phone applies (an ineligible grade is refused with the check's reason and nothing is saved), anyone follows
it logged out by number and phone tail, a reviewer approves it from the queue, a finance officer makes a payment
batch, downloads the bank file and uploads the bank's answer; the money ends up paid and the ledger verifies.
Screenshots land in test-artifacts/. Skips without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules
from huanxin.subsidies.models import Application, Claim, Payment
from huanxin.subsidies.selectors import balances, check_ledger
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import UserFactory, user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.subsidies.accounts import BANK, BANK_CODE, CARD
from tests.subsidies.conftest import make_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

NAME = "林芳"
PHONE = "13912345678"
PHONE_SCREEN = 390, 844


def new_page(browser_page, *, width: int = 1280, height: int = 900, mobile: bool = False):
    """A fresh browser context (its own cookies) for the next person."""
    context = browser_page.context.browser.new_context(
        viewport={"width": width, "height": height}, locale="zh-CN", is_mobile=mobile, has_touch=mobile
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def fill_application(page, *, grade: str) -> None:
    """The goods and the account; the applicant is the citizen's verified identity (实名), shown, never typed."""
    item = page.get_by_role("group", name="第1件商品", exact=True)
    item.get_by_label("品类").select_option(label="冰箱")
    item.get_by_label("品牌型号").fill("海尔BCD-501")
    item.get_by_label("序列号/IMEI").fill("HR2025SN0001")
    item.get_by_label("能效（水效）等级").select_option(label=grade)
    item.get_by_label("发票号码").fill("044002500111")
    item.get_by_label("开票日期").fill(timezone.localdate().isoformat())
    item.get_by_label("成交价（元）").fill("4999.00")
    account = page.get_by_role("group", name=re.compile("补贴收款账户"))  # filing alone, the citizen is paid
    account.get_by_label("户名").fill(NAME)
    account.get_by_label("银行卡号").fill(CARD)
    account.get_by_label("开户行").fill(BANK)
    account.get_by_label("联行号").fill(BANK_CODE)


def test_apply_review_pay_and_verify_in_the_browser(plan, boss, live_server, browser_page, tmp_path: Path) -> None:
    programme = make_programme(
        boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 100}, budget_fen=100_000_00
    )  # every application sampled: it goes to a reviewer
    resident_id = identities.resident_id(random.Random(41))
    UserFactory(  # verified (实名): applies in this identity
        username="jumin-sb", password=PASSWORD, role=Role.CITIZEN, display_name=NAME,
        verified_name=NAME, verified_resident_id=resident_id, verified_phone=PHONE,
    )  # fmt: skip
    user_with_role(Role.REVIEWER, username="shenhe-sb", password=PASSWORD, display_name="审核员周敏")
    user_with_role(Role.FINANCE_OFFICER, username="caiwu-sb", password=PASSWORD, display_name="财务刘洋")

    # the citizen, on a phone, finds the programme and applies
    page = new_page(browser_page, width=PHONE_SCREEN[0], height=PHONE_SCREEN[1], mobile=True)
    login(page, live_server, "jumin-sb")
    page.get_by_role("link", name="补贴", exact=True).click()
    page.wait_for_url(f"{live_server.url}/subsidies/")
    page.get_by_text(programme.name).wait_for()
    page.get_by_role("link", name="申请补贴").click()
    page.wait_for_url(f"{live_server.url}/subsidies/apply/{programme.code}/")

    # the applicant: the verified identity, read-only, the number and the phone masked
    shown = page.locator("#applicant-identity").inner_text()
    assert NAME in shown and pii.mask_resident_id(resident_id) in shown and pii.mask_phone(PHONE) in shown
    assert resident_id not in page.content() and page.locator("input[name=applicant_id]").count() == 0

    # an ineligible grade: refused with the check's reason, nothing saved
    fill_application(page, grade="3级及以下")
    page.screenshot(path=str(ARTIFACTS / "subsidies-apply-mobile.png"), full_page=True)
    page.get_by_role("button", name="提交申请").click()
    error = page.get_by_role("alert")
    error.wait_for()
    assert re.search(r"补贴标准：.*不在补贴范围", error.inner_text())
    page.screenshot(path=str(ARTIFACTS / "subsidies-refused.png"), full_page=True)
    assert not Application.objects.exists() and not Claim.objects.exists()
    assert pii.mask_resident_id(resident_id) in page.locator("#applicant-identity").inner_text()  # still the same

    # corrected: accepted, sent to review (sampled), the amount shown
    fill_application(page, grade="1级（补20%）")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/subsidies/applications/BT\d+/$"))
    application = Application.objects.get()
    assert page.url.endswith(f"/subsidies/applications/{application.number}/")
    assert application.status == Application.Status.IN_REVIEW and application.amount_fen == 999_80
    page.get_by_text(f"申请已提交，申请编号 {application.number}，补贴 999.80 元").wait_for()
    heading = page.get_by_role("heading", level=1)
    assert application.number in heading.inner_text() and "人工审核中" in heading.inner_text()
    assert "999.80" in page.locator(".lede").inner_text()
    assert "1级能效，按售价20%补贴" in page.locator("#items").inner_text()
    page.screenshot(path=str(ARTIFACTS / "subsidies-application.png"), full_page=True)
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()

    # logged out, anyone follows it with the number and the phone's last four digits — no personal data
    def public_status(expected: str) -> None:
        page.goto(f"{live_server.url}/subsidies/status/")
        assert "/accounts/login/" not in page.url
        page.get_by_label("申请编号").fill(application.number.lower())
        page.get_by_label("手机号码后四位").fill(PHONE[-4:])
        page.get_by_role("button", name="查询").click()
        result = page.locator("#status-result")
        result.wait_for()
        text = result.inner_text()
        assert application.number in text and expected in text and "999.80" in text
        content = page.content()
        for personal in (NAME, PHONE, resident_id, resident_id[-4:], "139****"):
            assert personal not in content

    public_status("人工审核中")
    page.get_by_label("手机号码后四位").fill("0000")
    page.get_by_role("button", name="查询").click()
    page.get_by_text("未找到：请核对申请编号和手机号码后四位").wait_for()
    page.context.close()

    # the reviewer: 审核队列 → the application → the checks (随机抽查 flagged) → 通过
    page = new_page(browser_page)
    login(page, live_server, "shenhe-sb")
    page.get_by_role("link", name="补贴", exact=True).click()
    page.get_by_role("link", name="审核队列").click()
    page.wait_for_url(f"{live_server.url}/subsidies/review/")
    queued = page.locator("tr", has=page.get_by_role("link", name=application.number))
    assert "随机抽查" in queued.inner_text()
    page.get_by_role("link", name=application.number).click()
    page.wait_for_url(f"{live_server.url}/subsidies/applications/{application.number}/")
    sampled = page.get_by_role("row", name=re.compile(r"^随机抽查"))  # the check's row in 自动检查
    assert "提示风险" in sampled.inner_text() and "100%" in sampled.inner_text()
    assert NAME not in page.content() and resident_id not in page.content()  # officials see them masked
    page.screenshot(path=str(ARTIFACTS / "subsidies-review.png"), full_page=True)
    page.get_by_role("button", name="通过", exact=True).click()
    page.get_by_text("已提交审核意见：通过").wait_for()
    assert "审核通过" in page.get_by_role("heading", level=1).inner_text()
    application.refresh_from_db()
    assert application.status == Application.Status.APPROVED
    page.context.close()

    # finance: 资金发放 → 生成发放批次 → download the bank file → upload the bank's answer
    page = new_page(browser_page)
    login(page, live_server, "caiwu-sb")
    page.get_by_role("link", name="补贴", exact=True).click()
    page.get_by_role("link", name="资金发放").click()
    page.wait_for_url(f"{live_server.url}/subsidies/payments/")
    page.locator("tr", has_text=programme.name).get_by_role("button", name="生成发放批次").click()
    page.wait_for_url(re.compile(r"/subsidies/payments/FF\d+/$"))
    payment = Payment.objects.select_related("batch").get()
    batch = payment.batch
    page.get_by_text(f"已生成发放批次 {batch.number}").wait_for()
    page.get_by_label("格式").select_option(label="CSV（UTF-8）")
    with page.expect_download() as download_info:
        page.get_by_role("button", name="下载发放文件").click()
    download = download_info.value
    assert download.suggested_filename == f"发放批次-{batch.number}.csv"
    bank_file = Path(download.path()).read_bytes().decode("utf-8-sig")
    assert application.number in bank_file and "999.80" in bank_file and NAME in bank_file and CARD in bank_file
    assert CARD not in page.content()  # on the page only masked
    result = tmp_path / "回单.csv"
    result.write_text(f"申请编号,结果,银行流水号,失败原因\r\n{application.number},成功,BANK-20250001,\r\n", "utf-8")
    page.get_by_label("银行回单文件").set_input_files(result)
    page.get_by_role("button", name="导入", exact=True).click()
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))  # the file goes to a worker; its page shows the progress
    run_queued_jobs()  # the worker, here in the test's process
    page.get_by_text("已到账 1 行").wait_for()  # the page polls until the job has ended
    page.get_by_role("link", name="银行回单导入").click()
    page.wait_for_url(f"{live_server.url}/subsidies/payments/")
    page.get_by_role("link", name=batch.number).click()
    assert "回单共 1 行" in page.locator("#imports").inner_text()
    paid_row = page.locator("tr", has=page.get_by_role("link", name=application.number)).last
    assert "已到账" in paid_row.inner_text() and "BANK-20250001" in paid_row.inner_text()
    assert "已结清" in page.locator(".lede").inner_text()
    page.screenshot(path=str(ARTIFACTS / "subsidies-batch.png"), full_page=True)
    page.context.close()

    # the public page shows every step, paid at the end
    page = new_page(browser_page, width=PHONE_SCREEN[0], height=PHONE_SCREEN[1], mobile=True)
    public_status("已发放")
    page.screenshot(path=str(ARTIFACTS / "subsidies-status.png"), full_page=True)
    page.context.close()

    # the database and the ledger agree
    application.refresh_from_db()
    payment.refresh_from_db()
    assert application.status == Application.Status.PAID
    assert payment.status == Payment.Status.PAID and payment.bank_reference == "BANK-20250001"
    check = check_ledger(programme)
    assert check.problems == []
    money = balances(programme)
    assert money.paid_fen == application.amount_fen == 999_80 and money.reserved_fen == 0
    assert money.available_fen == 100_000_00 - 999_80
    call_command("ledger", "verify")
