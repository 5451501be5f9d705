"""Every chart drawn with hostile names runs no script (Chromium, under the real Content-Security-Policy).

A recycling site, a reporting department, a county and a subsidy programme are named with HTML that would run
script if a tooltip put it into the page as markup. Each page that draws an ECharts chart is opened, every data
point's tooltip is shown, and the page must have run nothing: window.__xss unset, no injected <img> in the DOM,
no `securitypolicyviolation` event (the CSP would block the handler, but a violation means markup got through).
Skips without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from huanxin.core.models import Region
from huanxin.core.roles import Role
from huanxin.core.services import create_user
from huanxin.monitoring import services as monitoring
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Department, Indicator
from huanxin.recycling import services as recycling
from huanxin.recycling.models import Site
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import UserFactory, department_org
from tests.recycling.conftest import recycler_org
from tests.subsidies.conftest import make_programme

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

PAYLOAD = '<img src=x onerror="window.__xss=1">'
SITE_NAME = f"{PAYLOAD}回收站"
DEPARTMENT_NAME = f"{PAYLOAD}住建局"
COUNTY_NAME = f"{PAYLOAD}张北县"
PROGRAMME_NAME = f"{PAYLOAD}家电补贴"

# Registered before any page script: every CSP violation of the page is kept for the test to read.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});
"""

# Shows the tooltip of every data point of every series of the chart in #id; returns each tooltip's text.
SHOW_EVERY_TIP = """
async (id) => {
  const chart = window.echarts.getInstanceByDom(document.getElementById(id));
  const texts = [];
  chart.getOption().series.forEach((series, seriesIndex) => {
    (series.data || []).forEach((_, dataIndex) => {
      chart.dispatchAction({ type: "showTip", seriesIndex, dataIndex });
      texts.push(chart.getDom().textContent);
    });
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  return texts;
}
"""

INJECTED = "() => document.querySelectorAll('img[src=x], img[src$=\"/x\"]').length"


def show_every_tip(page: Any, chart_id: str) -> list[str]:
    page.locator(f"#{chart_id} canvas").wait_for()
    texts: list[str] = page.evaluate(SHOW_EVERY_TIP, chart_id)
    assert texts, f"{chart_id} drew no data point"
    return texts


def assert_nothing_ran(page: Any) -> None:
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate(INJECTED) == 0
    assert page.evaluate("() => window.__violations") == []


@pytest.fixture
def watched_page(browser_page: Any) -> Any:
    browser_page.add_init_script(WATCH)
    return browser_page


def test_the_public_site_map_shows_a_hostile_site_name_as_text(plan, live_server, watched_page) -> None:
    county = Region.objects.get(code="130722")
    recycler = UserFactory(role=Role.RECYCLER, organisation=recycler_org(county))
    recycling.save_site(
        actor=recycler,
        organisation=recycler.organisation,
        name=SITE_NAME,
        kind=Site.Kind.POINT,
        region=county,
        address="张北县张北镇新村路12号",
        categories=["refrigerator", "tv"],
        latitude=Decimal("41.158"),
        longitude=Decimal("114.715"),
    )
    # a county renamed in the back office: the map still finds its outline (by code) and shows the name as text
    Region.objects.filter(pk=county.pk).update(name=COUNTY_NAME)
    page = watched_page
    page.goto(f"{live_server.url}/recycling/sites/")  # public: no login
    texts = show_every_tip(page, "site-map")  # the county outlines (map series) and the sites (scatter series)
    page.locator("#site-map").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "xss-site-map.png"), full_page=False)
    assert_nothing_ran(page)
    assert any(SITE_NAME in text for text in texts)  # the name reached the tooltip, as text
    assert any(COUNTY_NAME in text and "运营站点 1 个" in text for text in texts)


def test_the_monitoring_charts_show_hostile_department_and_county_names_as_text(
    plan, live_server, watched_page
) -> None:
    call_command("monitoring", "setup", stdout=StringIO())
    clerk = create_user(
        actor=None,
        username="clerk-x",
        password=PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=department_org("市住房和城乡建设局"),
    )
    boss = create_user(
        actor=None,
        username="boss-x",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
    )
    gas = Indicator.objects.select_related("setting").get(plan=plan, code="gas-pipeline-renewed-km")
    county = Region.objects.get(code="130722")
    for code, amount in [("2025-Q1", "30"), ("2025-Q2", "40")]:
        value = monitoring.save_value(
            actor=clerk,
            indicator=gas,
            period=monitoring.ensure_period(ref=PeriodRef.parse(code)),
            region=county,
            value=amount,
            today=dt.date(2025, 7, 1),
        )
        monitoring.submit_values(actor=clerk, values=[value])
        monitoring.approve_value(actor=boss, value=value)
    # names as an administrator could type them in the back office
    Department.objects.filter(pk=gas.setting.reporting_department_id).update(name=DEPARTMENT_NAME)
    Region.objects.filter(pk=county.pk).update(name=COUNTY_NAME)

    page = watched_page
    login(page, live_server, "boss-x")
    page.goto(f"{live_server.url}/monitoring/")
    show_every_tip(page, "overview-chart")
    texts = show_every_tip(page, "reporting-chart")
    assert_nothing_ran(page)
    assert any(DEPARTMENT_NAME in text for text in texts)

    page.goto(f"{live_server.url}/monitoring/indicators/{plan.code}/{gas.code}/")
    show_every_tip(page, "path-chart")
    texts = show_every_tip(page, "county-chart")
    assert_nothing_ran(page)
    assert any(COUNTY_NAME in text for text in texts)


def test_the_programme_burn_chart_runs_nothing_under_a_hostile_programme_name(plan, live_server, watched_page) -> None:
    boss = create_user(
        actor=None,
        username="boss-b",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
    )
    programme = make_programme(boss, name=PROGRAMME_NAME)
    page = watched_page
    login(page, live_server, "boss-b")
    page.goto(f"{live_server.url}/subsidies/programmes/{programme.code}/")
    page.get_by_role("heading", name=PROGRAMME_NAME).wait_for()
    show_every_tip(page, "burn-chart")
    assert_nothing_ran(page)


def test_the_api_docs_work_under_the_policy(plan, live_server, watched_page) -> None:
    """Swagger UI is django-ninja's own static files: it draws the operations without any inline script."""
    page = watched_page
    page.goto(f"{live_server.url}/api/v1/docs")
    page.locator(".opblock").first.wait_for()
    assert page.evaluate("() => window.__violations") == []


def test_the_page_behaviours_work_without_inline_handlers(plan, live_server, watched_page) -> None:
    """The 全选 box and the period select are data- attributes handled by app.js (the CSP blocks onclick=)."""
    call_command("monitoring", "setup", stdout=StringIO())
    clerk = create_user(
        actor=None,
        username="clerk-h",
        password=PASSWORD,
        role=Role.DEPARTMENT_OFFICER,
        organisation=department_org("市住房和城乡建设局"),
    )
    create_user(
        actor=None,
        username="boss-h",
        password=PASSWORD,
        role=Role.TASK_FORCE,
        organisation=department_org("市发展和改革委员会"),
    )
    gas = Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km")
    for code in ("2025-Q1", "2025-Q2"):
        value = monitoring.save_value(
            actor=clerk,
            indicator=gas,
            period=monitoring.ensure_period(ref=PeriodRef.parse(code)),
            region=Region.objects.get(code="130722"),
            value="10",
            today=dt.date(2025, 7, 1),
        )
        monitoring.submit_values(actor=clerk, values=[value])
    page = watched_page

    login(page, live_server, "clerk-h")
    page.goto(f"{live_server.url}/monitoring/report/")
    period = page.locator("select[name=period]")
    other = period.locator("option:not([selected])").first.get_attribute("value")
    period.select_option(other)
    page.wait_for_url(f"**/monitoring/report/?period={other}")
    assert_nothing_ran(page)
    page.get_by_role("button", name="退出").click()
    page.wait_for_load_state()

    login(page, live_server, "boss-h")
    page.goto(f"{live_server.url}/monitoring/review/?status=submitted")
    boxes = page.locator("input[name=ids]")
    assert boxes.count() == 2
    page.get_by_label("全选").check()
    assert all(boxes.nth(i).is_checked() for i in range(2))
    page.get_by_label("全选").uncheck()
    assert not any(boxes.nth(i).is_checked() for i in range(2))
    assert_nothing_ran(page)
