"""Each role's home page (工作台) shows its own work (huanxin/homes.py): a citizen's applications, bookings and what
it can apply for; a merchant's sales awaiting settlement; a recycler's pickups of today and tomorrow and its
certificates; an enterprise's projects; a reviewer's queue; an auditor's checks. Officials keep the plan cards and
待办. The clock is pinned, so "today" and "tomorrow" never depend on when the test runs."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.jobs import schedule
from huanxin.projects import services as project_services
from huanxin.recycling import services as recycling
from huanxin.recycling.models import PickupSlot, Site
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Programme
from tests.clock import freeze
from tests.factories import UserFactory, task_force, user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.projects.conftest import credit_code, declare
from tests.recycling.conftest import book, recycler_org
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
NOW = timezone.make_aware(dt.datetime(2025, 6, 10, 9, 0))  # Asia/Shanghai


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    return freeze(monkeypatch, NOW)


def page(user: Any, path: str = "/") -> str:
    client = Client()
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def fridge(n: int, on: dt.date | None = None) -> ItemIn:
    day = on or NOW.date()
    return ItemIn(kind="refrigerator", invoice_no=f"H-{n}", invoice_date=day, price_fen=4_999_00, grade="1")


@pytest.fixture
def programme(plan: Any) -> Programme:
    return make_programme(task_force(), parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0})


def test_the_citizen_home_is_apply_book_and_my_applications(programme: Programme) -> None:
    citizen = UserFactory(role=Role.CITIZEN)
    application = submit_application(
        actor=citizen, programme=programme, applicant_name="", applicant_id="", phone="", items=[fridge(1)], **payee()
    )
    html = page(citizen)
    for words in ("申请补贴", "预约回收", "我的申请", 'id="identity-status"', "已实名认证"):
        assert words in html
    assert f'href="/subsidies/apply/{programme.code}/"' in html and 'href="/recycling/book/"' in html
    assert application.number in html and application.get_status_display() in html
    assert "基准年" not in html and "查看方案" not in html  # not the officials' plan cards
    assert "<table" not in html  # a phone's lists are cards


def test_a_merchant_home_shows_the_sales_awaiting_settlement(programme: Programme) -> None:
    store = Organisation.objects.create(
        name="张家口焕新家电商行", kind="merchant", region=Region.objects.get(code="130702")
    )
    merchant = UserFactory(role=Role.MERCHANT, organisation=store)
    sales = [
        submit_application(
            actor=merchant,
            programme=programme,
            applicant_name="林芳",
            applicant_id=identities.resident_id(random.Random(700 + n)),
            phone="13912345678",
            items=[fridge(n, on=(NOW - dt.timedelta(days=days)).date())],
            now=NOW - dt.timedelta(days=days),
        )
        for n, days in ((1, 6), (2, 2))
    ]
    html = page(merchant)
    assert "待结算的销售" in html and 'id="pending-claims"' in html
    assert all(s.number in html for s in sales)
    assert "<b>2</b>笔待结算" in html and "<b>6</b>最久已等（天）" in html
    total = sum(s.amount_fen for s in sales)
    assert f"<b>{total / 100:,.2f}</b>待结算金额" in html
    assert "为顾客申请" in html and "基准年" not in html


def test_a_recycler_home_lists_pickups_of_today_and_tomorrow_and_its_certificates(plan: Any) -> None:
    zhangbei = Region.objects.get(code="130722")
    clerk = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei))
    site = recycling.save_site(
        actor=clerk,
        organisation=clerk.organisation,
        name="张北镇回收站",
        kind=Site.Kind.POINT,
        region=zhangbei,
        address="张北县张北镇新村路12号",
        categories=["refrigerator", "tv"],
        offers_pickup=True,
    )
    citizen = UserFactory(role=Role.CITIZEN)
    bookings = {}
    for label, start in (
        ("today", NOW + dt.timedelta(hours=3)),
        ("tomorrow", NOW + dt.timedelta(days=1)),
        ("later", NOW + dt.timedelta(days=3)),
    ):
        slot = PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=2), capacity=2)
        bookings[label] = book(citizen, slot, now=NOW, token=label)
    recycling.accept_booking(actor=clerk, booking=bookings["tomorrow"], now=NOW)
    certificate = recycling.issue_certificate(
        actor=clerk, kind="take_back", site=site, category="refrigerator", owner_name="李明", today=NOW.date()
    )
    html = page(clerk)
    today, tomorrow = html.index('id="pickups-today"'), html.index('id="pickups-tomorrow"')
    certificates = html.index("回收证明</h2>")
    assert today < html.index(bookings["today"].number) < tomorrow
    assert tomorrow < html.index(bookings["tomorrow"].number) < certificates
    assert bookings["later"].number not in html  # the day after tomorrow is not on the home page
    assert certificate.number in html[certificates:]
    assert "待接单" in html and "已接单" in html
    assert "报废机动车回收证明" not in html  # no dismantling site: the button would only be refused


def test_an_enterprise_home_lists_its_projects_and_their_state(plan: Any) -> None:
    xuanhua = Region.objects.get(code="130705")
    org = Organisation.objects.create(name="宣化装备制造有限公司", kind=Organisation.Kind.ENTERPRISE, region=xuanhua)
    enterprise, _ = project_services.register_enterprise(
        actor=task_force(),
        uscc=credit_code(1),
        name=org.name,
        region=xuanhua,
        field="industry",
        industry="C34 通用设备制造业",
        above_designated_size=True,
        organisation=org,
    )
    owner = UserFactory(role=Role.ENTERPRISE, organisation=org)
    project = declare(owner, enterprise)
    html = page(owner)
    assert project.code in html and project.title in html and "完善后提交县区审核" in html
    assert 'class="tag pj-draft">草稿' in html and "申报设备更新项目" in html
    assert "基准年" not in html


def test_a_reviewer_home_is_its_queue(programme: Programme) -> None:
    citizen = UserFactory(role=Role.CITIZEN)
    application = submit_application(
        actor=citizen, programme=programme, applicant_name="", applicant_id="", phone="", items=[fridge(9)], **payee()
    )
    html = page(user_with_role(Role.REVIEWER))
    assert 'id="review-queue"' in html and application.number in html and "打开审核队列" in html
    assert "基准年" not in html


def test_an_auditor_home_shows_the_periodic_checks_and_the_plans(plan: Any) -> None:
    schedule.start_due(NOW)
    run_queued_jobs()
    html = page(user_with_role(Role.AUDITOR))
    assert 'id="audit-checks"' in html and "审计日志" in html
    assert 'href="/jobs/checks/"' in html
    assert plan.title in html  # officials keep the plan cards


def test_officials_keep_the_plan_cards_and_their_inbox(plan: Any) -> None:
    for user in (task_force(), user_with_role(Role.FINANCE_OFFICER)):
        html = page(user)
        assert plan.title in html and "待办" in html and "基准年" in html
