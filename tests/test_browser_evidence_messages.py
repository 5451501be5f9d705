"""In Chromium: a citizen on a 390×844 phone applies with a photo of the invoice and of the old fridge, sees them on
the application's page and the 已受理 message in 消息; a reviewer at 1366×900 sees the photos beside the
application. No page is wider than the phone's screen. Screenshots land in test-artifacts/."""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from django.utils import timezone
from PIL import Image

from huanxin.core.roles import Role
from huanxin.subsidies import rules
from huanxin.subsidies.models import Application, Evidence
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import UserFactory, task_force, user_with_role
from tests.subsidies.accounts import BANK, BANK_CODE, CARD
from tests.subsidies.conftest import make_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

PHONE_SCREEN = {"width": 390, "height": 844}


# every evidence image on the page has arrived and decoded (a broken or refused one has no natural width)
LOADED = "[...document.querySelectorAll('#evidence img')].every(i => i.complete && i.naturalWidth > 0)"


def wait_loaded(page: Any) -> None:
    """Until every evidence image has decoded. Polled from here: `wait_for_function` evaluates its predicate with
    eval inside the page, which the site's CSP (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + 15
    while not page.evaluate(LOADED):
        assert time.monotonic() < deadline, "the evidence images did not load"
        page.wait_for_timeout(100)


def photo(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(out, "JPEG")
    return out.getvalue()


def page_for(browser_page, viewport, mobile: bool):
    context = browser_page.context.browser.new_context(
        viewport=viewport, locale="zh-CN", is_mobile=mobile, has_touch=mobile
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return page


def fits(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_evidence_and_messages_on_a_phone(plan, live_server, browser_page, settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path
    programme = make_programme(task_force(), parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0})
    citizen = UserFactory(role=Role.CITIZEN, username="linfang", verified_name="林芳", verified_phone="13912345678")
    citizen.set_password(PASSWORD)
    citizen.save()
    phone = page_for(browser_page, PHONE_SCREEN, mobile=True)
    login(phone, live_server, "linfang")
    phone.goto(f"{live_server.url}/subsidies/apply/{programme.code}/")
    item = phone.get_by_role("group", name="第1件商品", exact=True)
    item.get_by_label("品类").select_option(label="冰箱")
    item.get_by_label("品牌型号").fill("海尔BCD-501")
    item.get_by_label("序列号/IMEI").fill("HR2025SN0001")
    item.get_by_label("能效（水效）等级").select_option(value="1")
    item.get_by_label("发票号码").fill("044002500111")
    item.get_by_label("开票日期").fill(timezone.localdate().isoformat())
    item.get_by_label("成交价（元）").fill("4999.00")
    account = phone.get_by_role("group", name=re.compile("补贴收款账户"))
    account.get_by_label("户名").fill("林芳")
    account.get_by_label("银行卡号").fill(CARD)
    account.get_by_label("开户行").fill(BANK)
    account.get_by_label("联行号").fill(BANK_CODE)
    files = phone.get_by_role("group", name=re.compile("申请材料"))
    files.get_by_label(re.compile("购买发票")).set_input_files(
        [{"name": "发票.jpg", "mimeType": "image/jpeg", "buffer": photo((240, 240, 230))}]
    )
    files.get_by_label(re.compile("旧物照片")).set_input_files(
        [{"name": "旧冰箱.jpg", "mimeType": "image/jpeg", "buffer": photo((90, 120, 160))}]
    )
    files.scroll_into_view_if_needed()
    fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-apply-evidence.png"))
    phone.get_by_role("button", name="提交申请").click()
    phone.wait_for_url(re.compile(r"/subsidies/applications/BT"))
    application = Application.objects.get()
    assert Evidence.objects.filter(application=application).count() == 2
    section = phone.locator("#evidence")
    assert section.locator("img").count() == 2
    section.scroll_into_view_if_needed()  # the images load lazily: in view, then every one decoded
    wait_loaded(phone)
    fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-application-evidence.png"), full_page=True)

    phone.goto(f"{live_server.url}/messages/")
    assert "已受理" in phone.locator(".notice-list").inner_text()
    assert phone.locator(".notice-new").count() == 1
    fits(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-messages.png"), full_page=True)

    reviewer = user_with_role(Role.REVIEWER, username="shenhe")
    reviewer.set_password(PASSWORD)
    reviewer.save()
    desk = page_for(browser_page, {"width": 1366, "height": 900}, mobile=False)
    login(desk, live_server, "shenhe")
    desk.goto(f"{live_server.url}/subsidies/applications/{application.number}/")
    assert desk.locator("#evidence img").count() == 2
    desk.locator("#evidence").scroll_into_view_if_needed()
    wait_loaded(desk)
    desk.screenshot(path=str(ARTIFACTS / "desk-review-evidence.png"), full_page=True)
