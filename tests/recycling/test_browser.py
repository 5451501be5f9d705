"""A real browser (Playwright driving Debian's Chromium) through the recycling network: a citizen books a pickup,
the recycler accepts and completes it and issues a 收旧凭证 that anyone can verify while logged out; a dismantler
issues a 报废机动车回收证明 and cannot issue a second for the same VIN. Screenshots land in test-artifacts/. Skips
without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling.models import Booking, Certificate, CollectionRecord, PickupSlot
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import UserFactory, task_force
from tests.recycling.conftest import recycler_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

PHONE = "13812345678"


def logout(page) -> None:
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()


def test_a_citizen_books_a_recycler_completes_and_the_certificate_verifies(
    zhangbei, site, live_server, browser_page
) -> None:
    start = timezone.now() + dt.timedelta(days=1)
    PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=5)
    UserFactory(username="jumin-e2e", password=PASSWORD, role=Role.CITIZEN, display_name="李明")
    UserFactory(
        username="huishou-e2e",
        password=PASSWORD,
        role=Role.RECYCLER,
        organisation=recycler_org(zhangbei),
        display_name="回收员王强",
    )
    task_force(username="zhuanban-e2e", password=PASSWORD, display_name="王建国")
    page = browser_page

    # the citizen chooses county and items, finds a slot and books it
    login(page, live_server, "jumin-e2e")
    page.goto(f"{live_server.url}/recycling/book/")
    page.get_by_label("所在县区").select_option(label="张北县")
    page.locator("input[name=categories][value=refrigerator]").check()
    page.locator("input[name=categories][value=tv]").check()
    page.get_by_role("button", name="查找可预约时段").click()
    page.locator("input[name=slot]").first.check()
    page.get_by_label("联系人").fill("李明")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_label("上门地址").fill("张北县张北镇幸福小区3号楼2单元501")
    page.get_by_label("备注").fill("冰箱在三楼，无电梯")
    page.screenshot(path=str(ARTIFACTS / "recycling-book.png"), full_page=True)
    page.get_by_role("button", name="提交预约").click()
    page.wait_for_url(re.compile(r"/recycling/bookings/[^/]+/$"))
    booking = Booking.objects.get()
    assert page.url.endswith(f"/recycling/bookings/{booking.number}/")
    page.get_by_text(f"预约成功，预约号 {booking.number}").wait_for()
    assert page.get_by_text(PHONE).first.is_visible()  # the booker sees her own phone

    # …and finds it in her list
    page.goto(f"{live_server.url}/recycling/bookings/")
    assert page.get_by_role("link", name=booking.number).is_visible()
    logout(page)

    # an official sees the booking, the phone masked
    login(page, live_server, "zhuanban-e2e")
    page.goto(f"{live_server.url}/recycling/bookings/{booking.number}/")
    page.get_by_role("heading", name=re.compile(booking.number)).wait_for()
    assert page.get_by_text("138****5678").is_visible()
    assert PHONE not in page.content()
    logout(page)

    # the recycler sees the phone in full, accepts and completes the pickup
    login(page, live_server, "huishou-e2e")
    page.goto(f"{live_server.url}/recycling/bookings/{booking.number}/")
    assert page.get_by_text(PHONE).is_visible()
    page.get_by_role("button", name="接单").click()
    page.get_by_text("已接单").first.wait_for()
    page.screenshot(path=str(ARTIFACTS / "recycling-booking-accepted.png"), full_page=True)
    page.get_by_label("冰箱重量").fill("52.5")
    page.get_by_label("冰箱支付金额").fill("80")
    page.get_by_label("电视机重量").fill("18")
    page.get_by_label("电视机支付金额").fill("30")
    page.get_by_role("button", name="确认完成").click()
    page.get_by_text("已完成回收，回收记录已入账").wait_for()
    page.screenshot(path=str(ARTIFACTS / "recycling-booking.png"), full_page=True)

    # …and issues the 收旧凭证 for the refrigerator
    page.get_by_role("link", name="为冰箱出具收旧凭证").click()
    page.wait_for_url(re.compile(r"/recycling/certificates/new/take_back/\?booking="))
    assert page.get_by_label("品类").input_value() == "refrigerator"
    page.get_by_label("品牌型号").fill("海尔 BCD-215")
    page.get_by_role("button", name="出具", exact=True).click()
    number = page.locator("#cert-number").inner_text()
    code = page.locator("#cert-code").inner_text()
    page.screenshot(path=str(ARTIFACTS / "recycling-certificate.png"), full_page=True)
    logout(page)

    # anyone, logged out, checks it
    page.goto(f"{live_server.url}/recycling/verify/")
    assert "/accounts/login/" not in page.url
    page.get_by_label("证明编号").fill(number)
    page.get_by_label("校验码").fill(code.lower())
    page.get_by_role("button", name="核验").click()
    page.locator("#verify-result").wait_for()
    assert "证明有效" in page.locator("#verify-result").inner_text()
    assert "海尔 BCD-215" in page.locator("#verify-result").inner_text()
    page.screenshot(path=str(ARTIFACTS / "recycling-verify.png"), full_page=True)

    # a wrong code finds nothing
    page.get_by_label("校验码").fill("WRONG123")
    page.get_by_role("button", name="核验").click()
    page.get_by_text("未找到匹配的证明").wait_for()

    # the public site list, filtered
    page.goto(f"{live_server.url}/recycling/sites/")
    page.locator("select[name=region]").select_option(label="张北县")
    page.get_by_label("回收品类").select_option(label="冰箱")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name="张北镇回收站").wait_for()
    page.screenshot(path=str(ARTIFACTS / "recycling-sites.png"), full_page=True)

    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    assert CollectionRecord.objects.filter(booking=booking).count() == 2
    certificate = Certificate.objects.get()
    assert (certificate.number, certificate.verify_code) == (number, code)
    assert certificate.booking == booking and certificate.kind == Certificate.Kind.TAKE_BACK


def test_a_second_scrap_certificate_for_a_vin_is_refused_in_the_browser(
    zhangbei, dismantler, rng, live_server, browser_page
) -> None:
    UserFactory(
        username="chaijie-e2e",
        password=PASSWORD,
        role=Role.RECYCLER,
        organisation=recycler_org(zhangbei),
        display_name="拆解员赵刚",
    )
    vin = identities.vin(rng)
    page = browser_page
    login(page, live_server, "chaijie-e2e")

    def fill(vin: str) -> None:
        page.goto(f"{live_server.url}/recycling/certificates/new/vehicle/")
        page.get_by_label("车辆识别代号（VIN）").fill(vin)
        page.get_by_label("号牌号码").fill("冀G12345")
        page.get_by_label("车辆类型").fill("小型普通客车")
        page.get_by_label("燃料类型").select_option(label="汽油")
        page.get_by_label("排放标准").fill("国三")
        page.get_by_label("初次登记日期").fill("2010-05-01")
        page.get_by_label("机动车所有人").fill("赵建国")
        page.get_by_label("证件号码").fill(identities.resident_id(rng))
        page.get_by_role("button", name="出具", exact=True).click()

    fill(vin)
    page.locator("#cert-number").wait_for()
    assert page.get_by_text(vin).is_visible()
    page.screenshot(path=str(ARTIFACTS / "recycling-scrap-certificate.png"), full_page=True)

    fill(vin.lower())  # the same car, however it is typed
    page.get_by_text("已出具过报废机动车回收证明").wait_for()
    assert page.get_by_text("证明未出具，请按提示修改").is_visible()
    vin_input = page.get_by_label("车辆识别代号（VIN）")
    assert vin_input.get_attribute("aria-invalid") == "true"
    assert "已出具过" in page.locator(f"#{vin_input.get_attribute('aria-describedby')}").inner_text()
    page.screenshot(path=str(ARTIFACTS / "recycling-scrap-refused.png"), full_page=True)

    wrong = vin[:8] + ("X" if vin[8] != "X" else "0") + vin[9:]
    fill(wrong)
    page.get_by_text("校验位不正确").wait_for()
    assert page.get_by_label("车辆识别代号（VIN）").input_value() == wrong

    assert Certificate.objects.count() == 1
    assert Certificate.objects.get().vin == vin
