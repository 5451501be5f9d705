"""schemathesis over the whole OpenAPI document: every operation, as each kind of caller, answers without a server
error, whatever the body, query and path hold (generated from the document, valid and not).

The app is called in-process (WSGI) inside the test's transaction, against a small world: the plan, a recycler
with a site, a slot and a booking, an open programme with an application, an enterprise with a project. Part of the
generated cases get a real identifier in place of the generated one, so they reach the services behind the 404s.
Examples are bounded and derandomized so the run is the same every time and takes a couple of minutes.

Run alone: .venv/bin/pytest -q -p no:cacheprovider tests/test_api_schemathesis.py
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterator
from random import Random
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from huanxin.api import api
from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.projects import services as projects
from huanxin.recycling import services as recycling
from huanxin.recycling.models import PickupSlot
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.wsgi import application
from tests.factories import UserFactory, task_force
from tests.projects.conftest import credit_code, declare
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_dict(api.get_openapi_schema())
schema.app = application

CALLERS = ["anonymous", "merchant", "recycler", "enterprise", "task_force", "citizen"]


@pytest.fixture
def world(plan: Any) -> dict[str, Any]:
    """Who calls, and the identifiers worth sending: each made through its service."""
    recycling.ensure_default_tax_rule()
    zhangbei = Region.objects.get(code="130722")
    xuanhua = Region.objects.get(code="130705")
    boss = task_force()
    recycler_org = Organisation.objects.create(name="张北县绿源再生资源回收有限公司", kind="recycler", region=zhangbei)
    recycler = UserFactory(role=Role.RECYCLER, organisation=recycler_org)
    site = recycling.save_site(
        actor=recycler, organisation=recycler_org, name="张北镇回收站", kind="point", region=zhangbei,
        address="张北县张北镇新村路12号", categories=["refrigerator", "tv", "phone", "scrap_steel"], offers_pickup=True,
    )  # fmt: skip
    start = timezone.now() + dt.timedelta(days=1)
    slot = PickupSlot.objects.create(site=site, starts_at=start, ends_at=start + dt.timedelta(hours=3), capacity=50)
    citizen = UserFactory(role=Role.CITIZEN, display_name="李明")
    booking = recycling.book_pickup(
        actor=citizen, slot=slot, region=zhangbei, items=[recycling.ItemIn("refrigerator", 1)],
        contact_name="李明", phone="13812345678", address="张北县张北镇幸福小区3号楼2单元501",
    )  # fmt: skip
    store = Organisation.objects.create(name="张北县国美电器", kind="merchant", region=zhangbei)
    merchant = UserFactory(role=Role.MERCHANT, organisation=store)
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, payee="merchant")
    sold = submit_application(
        actor=merchant, programme=programme, applicant_name="王芳", applicant_id=identities.resident_id(Random(1)),
        phone="13900001111",
        items=[ItemIn(kind="refrigerator", invoice_no="INV001", invoice_date=timezone.localdate(),
                      price_fen=300_000, grade="1", brand_model="海尔BCD-501", serial="SN001")],
    )  # fmt: skip
    enterprise_org = Organisation.objects.create(name="宣化装备制造有限公司", kind="enterprise", region=xuanhua)
    enterprise, _ = projects.register_enterprise(
        actor=boss, uscc=credit_code(1), name="宣化装备制造有限公司", region=xuanhua, field="industry",
        industry="C34 通用设备制造业", above_designated_size=True, organisation=enterprise_org,
    )  # fmt: skip
    owner = UserFactory(role=Role.ENTERPRISE, organisation=enterprise_org)
    project = declare(owner, enterprise)
    return {
        "users": {
            "merchant": merchant,
            "recycler": recycler,
            "enterprise": owner,
            "task_force": boss,
            "citizen": citizen,
        },
        # by the name of the path parameter or body field
        "values": {
            "site": site.pk,
            "slot": slot.pk,
            "region": "130722",
            "programme": programme.code,
            "plan": plan.code,
        },
        "numbers": {
            "/recycling/bookings/": booking.number,
            "/subsidies/applications/": sold.number,
            "/subsidies/status": sold.number,
            "/projects/": project.code,
            "/plans/": plan.code,
        },
    }


@pytest.fixture
def in_process() -> Iterator[None]:
    """Requests run inside the test's transaction, as Django's test client does: a request's end must not close
    the connection the transaction is on."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def unthrottled(settings: Any) -> None:
    """The API's rate per caller (core/throttle.py, tested on its own) would turn most of a run into 429s."""
    settings.API_RATE_ANON = settings.API_RATE_USER = 1_000_000


@pytest.fixture
def credentials(caller: str, world: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(headers, cookies): an API token for the roles that hold one, a session with its CSRF token otherwise."""
    if caller == "anonymous":
        return {}, {}
    user = world["users"][caller]
    if tokens.may_hold_tokens(user):
        _, key = tokens.issue_token(actor=user, name="接口测试")
        return {"Authorization": f"Bearer {key}"}, {}
    browser = Client()
    browser.force_login(user)
    csrf = _get_new_csrf_string()
    cookies = {settings.SESSION_COOKIE_NAME: browser.cookies[settings.SESSION_COOKIE_NAME].value, "csrftoken": csrf}
    return {"X-CSRFToken": csrf}, cookies


def aim(case: Any, world: dict[str, Any]) -> None:
    """Every other case, put real identifiers where the generated ones would only find nothing."""
    if zlib.crc32(repr((case.path_parameters, case.query, case.body)).encode()) % 2:
        return
    values = world["values"]
    if isinstance(case.body, dict):
        for name in ("site", "slot", "region", "programme", "plan"):
            if name in case.body:
                case.body[name] = values[name]
    for prefix, number in world["numbers"].items():
        if case.operation.path.startswith(prefix):
            for name in ("number", "code"):
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = number
            if case.query and "number" in case.query:
                case.query["number"] = number
    if case.query:
        for name in ("plan", "region"):
            if name in case.query:
                case.query[name] = values[name]


@pytest.mark.parametrize("caller", CALLERS)
@schema.parametrize()
@hypothesis_settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_input_makes_a_server_error(
    case: Any,
    caller: str,
    world: dict[str, Any],
    credentials: tuple[dict[str, str], dict[str, str]],
    in_process: None,
    unthrottled: None,
) -> None:
    headers, cookies = credentials
    aim(case, world)
    case.call_and_validate(headers=headers, cookies=cookies, checks=[not_a_server_error])
