"""The OpenAPI document is correct: one model per component name, and the error statuses an operation declares are
ones it really gives — shown by a real request for each, over a sample of operations."""

from __future__ import annotations

import json
import typing
from collections import defaultdict
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder
from pydantic import BaseModel

from huanxin.api import api
from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.retry import Busy
from huanxin.core.roles import Role
from huanxin.core.schemas import ERROR_STATUSES
from huanxin.recycling import services as recycling
from huanxin.subsidies import api as subsidies_api
from huanxin.subsidies import rules
from tests.factories import UserFactory, task_force
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db

# as served: through JSON, so status codes are the strings an OpenAPI reader sees
DOCUMENT = json.loads(json.dumps(api.get_openapi_schema(), cls=NinjaJSONEncoder))


def _models(annotation: Any) -> typing.Iterator[type[BaseModel]]:
    """Every pydantic model an annotation refers to, through lists, unions and the models' own fields."""
    seen: set[type] = set()
    stack = [annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, type) and issubclass(item, BaseModel):
            if item in seen:
                continue
            seen.add(item)
            yield item
            stack.extend(field.annotation for field in item.model_fields.values())
        else:
            stack.extend(typing.get_args(item))


def _operations() -> typing.Iterator[Any]:
    for _, router in api._routers:
        for path_view in router.path_operations.values():
            yield from path_view.operations


def test_no_two_models_share_a_component_name() -> None:
    by_name: dict[str, set[str]] = defaultdict(set)
    for operation in _operations():
        roots = [m.__annotations__["response"] for m in operation.response_models.values() if m]
        roots += [field.annotation for model in operation.models for field in model.model_fields.values()]
        for root in roots:
            for model in _models(root):
                by_name[model.__name__].add(f"{model.__module__}.{model.__qualname__}")
    clashes = {name: where for name, where in by_name.items() if len(where) > 1}
    assert not clashes
    components = DOCUMENT["components"]["schemas"]
    assert set(components) <= set(by_name)


def _ref(schema: dict[str, Any]) -> str:
    return schema["$ref"].rsplit("/", 1)[-1]


def test_bookings_and_applications_have_their_own_item_schemas() -> None:
    components = DOCUMENT["components"]["schemas"]
    booking = components["BookingOut"]["properties"]["items"]["items"]
    assert set(components[_ref(booking)]["properties"]) == {"category", "count"}
    body = DOCUMENT["paths"]["/api/v1/subsidies/applications"]["post"]["requestBody"]
    application_in = components[_ref(body["content"]["application/json"]["schema"])]
    item = components[_ref(application_in["properties"]["items"]["items"])]
    assert "invoice_no" in item["properties"]


def test_every_operation_declares_its_refusals() -> None:
    for path, methods in DOCUMENT["paths"].items():
        for method, operation in methods.items():
            statuses = {int(s) for s in operation["responses"]}
            errors = {s for s in statuses if s >= 400}
            assert errors <= set(ERROR_STATUSES), (method, path)
            assert {400, 429} <= errors, (method, path)
            if operation.get("security"):
                assert 401 in errors, (method, path)
            else:
                assert 401 not in errors, (method, path)
            if operation.get("parameters") or operation.get("requestBody"):
                assert 422 in errors, (method, path)
            for status in errors:
                content = operation["responses"][str(status)]["content"]["application/json"]["schema"]
                assert _ref(content) == ("InvalidOut" if status == 422 else "ErrorOut")


# --- a real request for each declared error of a sample of operations ------------------------------------------


def documented(method: str, path: str, *, rate: bool = False) -> set[int]:
    """The error statuses declared; the API rate's 429, which every operation shares, only when asked for (it is
    shown in tests/core/test_throttle_api.py)."""
    statuses = {int(s) for s in DOCUMENT["paths"][path][method]["responses"] if int(s) >= 400}
    return statuses if rate else statuses - {429}


def bearer(user: Any) -> Client:
    _, key = tokens.issue_token(actor=user, name="接口")
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(url, data, content_type="application/json", **headers)


@pytest.fixture
def recycler(plan: Any) -> Any:
    recycling.ensure_default_tax_rule()
    zhangbei = Region.objects.get(code="130722")
    org = Organisation.objects.create(name="张北县绿源再生资源回收有限公司", kind="recycler", region=zhangbei)
    user = UserFactory(role=Role.RECYCLER, organisation=org)
    site = recycling.save_site(
        actor=user, organisation=org, name="张北镇回收站", kind="point", region=zhangbei,
        address="张北县张北镇新村路12号", categories=["refrigerator", "scrap_steel"],
    )  # fmt: skip
    return user, site


def test_a_collection_record_gives_each_declared_error(recycler: Any) -> None:
    user, site = recycler
    url = "/api/v1/recycling/records"
    today = timezone.localdate().isoformat()
    good = {"site": site.pk, "received_on": today, "source": "person", "category": "scrap_steel", "weight_kg": "12.5"}
    till = bearer(user)
    seen = {
        400: post(till, url, "{not json"),
        401: post(Client(), url, good),
        403: post(bearer(UserFactory(role=Role.MERCHANT)), url, good),
        404: post(till, url, {**good, "site": site.pk + 1000}),
        422: post(till, url, {**good, "weight_kg": "0.001"}),
    }
    assert {status: r.status_code for status, r in seen.items()} == {s: s for s in seen}
    assert set(seen) == documented("post", url)
    assert seen[400].json()["code"] == "malformed_body"
    assert seen[422].json()["errors"][0]["type"] == "decimal_max_places"
    assert post(till, url, good).status_code == 201


def test_a_plan_read_gives_each_declared_error(plan: Any) -> None:
    url = "/api/v1/plans/{code}"
    officer = Client()
    officer.force_login(task_force())
    seen = {
        400: officer.get(f"/api/v1/plans/{plan.code}", {"q": "\x00"}),
        401: Client().get(f"/api/v1/plans/{plan.code}"),
        404: officer.get("/api/v1/plans/no-such-plan"),
        422: officer.get("/api/v1/plans/" + "x" * 65),
    }
    assert {status: r.status_code for status, r in seen.items()} == {s: s for s in seen}
    assert set(seen) == documented("get", url)
    assert seen[400].json()["code"] == "invalid_characters"


def test_monitoring_status_is_refused_to_those_who_are_not_officials(plan: Any) -> None:
    url = "/api/v1/monitoring/status"
    citizen = Client()
    citizen.force_login(UserFactory(role=Role.CITIZEN))
    official = Client()
    official.force_login(task_force())
    seen = {
        400: official.get(url, {"plan": "\x01"}),
        401: Client().get(url, {"plan": plan.code}),
        403: citizen.get(url, {"plan": plan.code}),
        404: official.get(url, {"plan": "no-such-plan"}),
        422: official.get(url),
    }
    assert {status: r.status_code for status, r in seen.items()} == {s: s for s in seen}
    assert set(seen) == documented("get", url)


@pytest.fixture
def merchant(plan: Any) -> Any:
    store = Organisation.objects.create(
        name="张北县国美电器", kind="merchant", region=Region.objects.get(code="130722")
    )
    return UserFactory(role=Role.MERCHANT, organisation=store)


def application(programme: Any, **item: Any) -> dict[str, Any]:
    return {
        "programme": programme.code,
        "applicant_name": "王芳",
        "applicant_id": "11010519491231002X",
        "phone": "13900001111",
        "items": [
            {
                "kind": "refrigerator",
                "invoice_no": "INV001",
                "invoice_date": timezone.localdate().isoformat(),
                "price_fen": 300_000,
                "grade": "1",
                "brand_model": "海尔BCD-501",
                "serial": "SN001",
                **item,
            }
        ],
    }


def test_submitting_an_application_gives_each_declared_error(merchant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "/api/v1/subsidies/applications"
    programme = make_programme(
        task_force(), parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, payee="merchant"
    )
    till = bearer(merchant)
    first = post(till, url, application(programme), HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    session = Client(enforce_csrf_checks=True)
    session.force_login(UserFactory(role=Role.CITIZEN))
    seen = {
        400: post(till, url, "[1, 2"),
        401: post(Client(), url, application(programme)),
        403: post(session, url, application(programme)),  # a session without its CSRF token
        404: post(till, url, {**application(programme), "programme": "no-such-programme"}),
        409: post(till, url, application(programme, serial="SN002"), HTTP_IDEMPOTENCY_KEY="k-1"),
        422: post(till, url, application(programme, invoice_date="9999-12-31")),
    }
    with monkeypatch.context() as patched:

        def busy(**_: Any) -> None:
            raise Busy()

        patched.setattr(subsidies_api, "submit_application", busy)
        seen[503] = post(till, url, application(programme, serial="SN003"))
    assert {status: r.status_code for status, r in seen.items()} == {s: s for s in seen}
    assert set(seen) == documented("post", url)
    assert seen[403].json()["code"] == "csrf_failed"
    assert seen[409].json()["code"] == "idempotency_key_reused"
    assert seen[503]["Retry-After"]


def test_the_public_status_look_up_gives_each_declared_error(merchant: Any) -> None:
    url = "/api/v1/subsidies/status"
    anonymous = Client()
    seen = {
        400: anonymous.get(url, {"number": "BT\x00", "phone4": "1111"}),
        404: anonymous.get(url, {"number": "BT0", "phone4": "1111"}),
        422: anonymous.get(url, {"number": "BT0"}),
    }
    for _ in range(30):
        answer = anonymous.get(url, {"number": "BT0", "phone4": "0000"})
        if answer.status_code == 429:
            break
    seen[429] = answer
    assert {status: r.status_code for status, r in seen.items()} == {s: s for s in seen}
    assert set(seen) == documented("get", url, rate=True)
    assert seen[429]["Retry-After"]
