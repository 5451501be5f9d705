"""In Chromium, at an official's 1366 px: the review queue filtered through its form (the filters land in the URL
and the table fits the screen); the auditor's audit log, searched, with a verification started from it; a
certificate's printable page, which prints on one A4 page without the site's navigation. Screenshots and the PDF
land in test-artifacts/. Skips without /usr/bin/chromium, except in CI (HUANXIN_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.core.services import create_user
from huanxin.demo import identities
from huanxin.jobs.models import Job
from huanxin.recycling import services as recycling
from huanxin.recycling.models import Site
from huanxin.subsidies.models import Application
from tests.browser import ARTIFACTS, PASSWORD, browser_page, login, skip_without_chromium
from tests.factories import task_force
from tests.subsidies.test_review import appliance_programme, apply

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
skip_without_chromium()
__all__ = ["browser_page"]  # the fixture, used by name

DESKTOP = {"width": 1366, "height": 900}


def fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_review_queue_is_filtered_from_its_form(plan, live_server, browser_page) -> None:
    region = Region.objects.get(code="130702")
    programme = appliance_programme(task_force())
    stores = []
    for name in ("北门家电城", "南城数码广场"):
        org = Organisation.objects.create(name=name, kind="merchant", region=region)
        stores.append(
            create_user(actor=None, username=f"s{len(stores)}", password=PASSWORD, role=Role.MERCHANT, organisation=org)
        )
    made = [
        apply(stores[n % 2], programme, applicant_id=identities.resident_id(random.Random(300 + n))) for n in range(8)
    ]
    Application.objects.filter(pk__in=[a.pk for a in made[:4]]).update(risk_score=80, status="in_review")
    Application.objects.filter(pk=made[0].pk).update(risk_reasons=["价格明显高于同类商品均价（抽样）"])
    create_user(actor=None, username="shenhe-b", password=PASSWORD, role=Role.REVIEWER)

    page = browser_page
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "shenhe-b")
    page.goto(f"{live_server.url}/subsidies/review/")
    assert "待审核申请 8 份" in page.locator("#review-count").inner_text()
    page.get_by_label("商户").fill("北门")
    page.get_by_label("风险").select_option("high")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"merchant=.*risk=high"))
    assert "符合条件的申请 2 份" in page.locator("#review-count").inner_text()
    assert page.get_by_label("商户").input_value() == "北门"  # the form shows what was asked
    assert fits(page)
    page.screenshot(path=str(ARTIFACTS / "review-queue-filtered-1366.png"), full_page=True)
    tail = made[1].applicant_id[-6:]
    page.goto(f"{live_server.url}/subsidies/review/?q={tail}")
    assert made[1].number in page.locator("table.review-queue").inner_text()
    page.screenshot(path=str(ARTIFACTS / "review-queue-id-tail-1366.png"), full_page=True)


def test_the_auditor_searches_the_log_and_starts_a_verification(plan, live_server, browser_page) -> None:
    create_user(actor=None, username="shenji-b", password=PASSWORD, role=Role.AUDITOR)
    page = browser_page
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "shenji-b")
    page.goto(f"{live_server.url}/audit/")
    assert "尚无校验记录" in page.locator("#audit-chain").inner_text()
    page.get_by_label("动作").fill("user.*")
    page.get_by_role("button", name="查找").click()
    page.wait_for_url(re.compile(r"action=user\.\*"))
    assert page.locator("table.audit-log tbody tr").count() >= 1
    assert fits(page)
    page.screenshot(path=str(ARTIFACTS / "audit-log-1366.png"), full_page=True)
    page.get_by_role("button", name="立即校验").click()
    page.wait_for_url(re.compile(r"/jobs/\d+/"))
    assert Job.objects.filter(kind="audit_verify", owner__username="shenji-b").count() == 1


def test_a_certificate_prints_on_one_a4_page(plan, live_server, browser_page) -> None:
    county = Region.objects.get(code="130722")
    org = Organisation.objects.create(name="张北县绿源再生资源回收有限公司", kind="recycler", region=county)
    clerk = create_user(actor=None, username="huishou-b", password=PASSWORD, role=Role.RECYCLER, organisation=org)
    dismantler = recycling.save_site(
        actor=clerk,
        organisation=org,
        name="张北县报废机动车回收拆解中心",
        kind=Site.Kind.DISMANTLER,
        region=county,
        address="张北县工业园区纬三路8号",
        categories=["car"],
        qualification_no="冀报废回收（张）001",
    )
    rng = random.Random(10)
    certificate = recycling.issue_certificate(
        actor=clerk,
        kind="vehicle",
        site=dismantler,
        category="car",
        owner_name="赵建国",
        owner_id=identities.resident_id(rng),
        vin=identities.vin(rng),
        plate="冀G12345",
        vehicle_type="小型普通客车",
        brand_model="捷达 FV7160",
        fuel="petrol",
        emission_standard="国三",
        registered_on=dt.date(2010, 5, 1),
    )
    page = browser_page
    page.set_viewport_size(DESKTOP)
    login(page, live_server, "huishou-b")
    page.goto(f"{live_server.url}/recycling/certificates/{certificate.number}/")
    page.get_by_role("link", name=re.compile("打印证明")).click()
    page.wait_for_url(re.compile(r"/print/$"))
    assert page.locator(".cert-qr svg").is_visible()
    page.screenshot(path=str(ARTIFACTS / "certificate-print-screen-1366.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()  # no navigation on paper
    assert not page.locator(".print-toolbar").is_visible()
    page.screenshot(path=str(ARTIFACTS / "certificate-print-media.png"), full_page=True)
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "certificate-print.pdf").write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
    assert pages == 1, f"the certificate printed on {pages} pages"
