"""On a phone (390×844 in Chromium) the citizen's home, 我的申请 and the public site list fit the screen: no page is
wider than the viewport (lists are cards there, table.stack in app.css), a site's name is not wrapped two
characters a line, and the frame's footer is on each. Screenshots land in test-artifacts/frame-*.png."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.recycling import services as recycling
from huanxin.recycling.models import PickupSlot, Site
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import UserFactory, task_force
from tests.recycling.conftest import book
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def world(plan: Any) -> None:
    """A citizen with two applications and a booking; operating sites with long names and addresses."""
    programme = make_programme(task_force(), parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0})
    citizen = UserFactory(username="jumin-frame", password=PASSWORD, role=Role.CITIZEN, display_name="林芳")
    for n, kind in enumerate(("refrigerator", "tv")):
        item = ItemIn(kind=kind, invoice_no=f"F-{n}", invoice_date=timezone.localdate(), price_fen=4_999_00, grade="1")
        submit_application(
            actor=citizen, programme=programme, applicant_name="", applicant_id="", phone="", items=[item], **payee()
        )
    county = Region.objects.get(code="130722")
    org = Organisation.objects.create(name="张北县绿源再生资源回收利用有限责任公司", kind="recycler", region=county)
    clerk = UserFactory(role=Role.RECYCLER, organisation=org)
    sites = [
        recycling.save_site(
            actor=clerk,
            organisation=org,
            name=f"张北县张北镇幸福社区再生资源回收服务站{n}号",
            kind=Site.Kind.POINT,
            region=county,
            address="张北县张北镇新村路与兴华街交叉口东北角绿源再生资源回收大院12号",
            categories=["refrigerator", "washing_machine", "tv", "air_conditioner", "phone", "paper"],
            offers_pickup=True,
            opening_hours="周一至周日 8:30-17:30",
        )
        for n in range(1, 4)
    ]
    start = timezone.now() + dt.timedelta(days=1)
    slot = PickupSlot.objects.create(site=sites[0], starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=2)
    book(citizen, slot, now=timezone.now())


def test_the_citizen_pages_and_the_site_list_fit_a_phone(browser_page: Any, live_server: Any, plan: Any) -> None:
    world(plan)
    context = browser_page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/recycling/sites/")
    assert page.evaluate(FITS), "the public site list is wider than the phone"
    name = page.get_by_role("link", name="张北县张北镇幸福社区再生资源回收服务站1号")
    box = name.bounding_box()
    assert box is not None and box["width"] > 200  # a card's full width, not a squeezed column
    assert page.locator(".site-footer").is_visible()
    page.screenshot(path=str(ARTIFACTS / "frame-phone-sites.png"), full_page=True)

    login(page, live_server, "jumin-frame")
    assert page.get_by_role("link", name="申请补贴").first.is_visible()
    assert page.get_by_role("link", name="预约回收").first.is_visible()
    assert page.locator("#my-applications li").count() == 2
    assert page.locator("#my-bookings li").count() == 1
    assert page.evaluate(FITS), "the citizen's home is wider than the phone"
    page.screenshot(path=str(ARTIFACTS / "frame-phone-citizen-home.png"), full_page=True)

    page.goto(f"{live_server.url}/subsidies/")
    assert page.evaluate(FITS), "我的申请 is wider than the phone"
    status = page.locator("#my-applications tbody tr").first.locator("td[data-label=状态]")
    assert status.is_visible()
    box = status.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # the status is on the screen
    page.screenshot(path=str(ARTIFACTS / "frame-phone-mine.png"), full_page=True)

    page.goto(f"{live_server.url}/recycling/bookings/")
    assert page.evaluate(FITS), "我的回收预约 is wider than the phone"
    page.goto(f"{live_server.url}/no-such-page/")
    assert page.get_by_role("heading", name="页面不存在（404）").is_visible() and page.evaluate(FITS)
    context.close()
