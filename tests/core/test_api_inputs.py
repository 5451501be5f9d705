"""API inputs are bounded by their columns (core/schemas.py): each hostile value of issue 16 is a 422 with the
stable code `invalid_request`, the field's error type and a Chinese message, never a 500 or a silent rounding,
and the value given is not echoed back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from huanxin.core import tokens
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.recycling import services as recycling
from huanxin.recycling.models import CollectionRecord
from tests.factories import UserFactory, task_force

pytestmark = pytest.mark.django_db

RECORDS = "/api/v1/recycling/records"


@pytest.fixture
def till(plan: Any) -> tuple[Client, dict[str, Any]]:
    """A recycler's system with its token, and a good collection record for its site."""
    recycling.ensure_default_tax_rule()
    zhangbei = Region.objects.get(code="130722")
    org = Organisation.objects.create(name="张北县绿源再生资源回收有限公司", kind="recycler", region=zhangbei)
    user = UserFactory(role=Role.RECYCLER, organisation=org)
    site = recycling.save_site(
        actor=user, organisation=org, name="张北镇回收站", kind="point", region=zhangbei,
        address="张北县张北镇新村路12号", categories=["refrigerator", "scrap_steel"],
    )  # fmt: skip
    _, key = tokens.issue_token(actor=user, name="回收系统")
    good = {
        "site": site.pk,
        "received_on": timezone.localdate().isoformat(),
        "source": "person",
        "category": "scrap_steel",
        "weight_kg": "12.5",
        "seller_name": "赵建国",
    }
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}"), good


def post(client: Client, url: str, body: str) -> Any:
    return client.post(url, body, content_type="application/json")


def refused(response: Any) -> list[str]:
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "invalid_request" and body["message"] == "请求参数有误"
    assert all(error["msg"] and error["loc"] for error in body["errors"])
    return [error["type"] for error in body["errors"]]


@pytest.mark.parametrize(
    ("field", "raw", "kind"),
    [
        ("weight_kg", '"0.001"', "decimal_max_places"),  # not rounded to 0.00
        ("weight_kg", "0.001", "decimal_max_places"),
        ("weight_kg", '"1e30"', "decimal_max_digits"),
        ("weight_kg", "1e30", "decimal_max_digits"),
        ("weight_kg", '"Infinity"', "finite_number"),
        ("weight_kg", '"NaN"', "finite_number"),
        ("weight_kg", "12345678901234567", "decimal_max_digits"),
        ("price_fen", '"²"', "int_parsing"),  # passes str.isdigit(), fails int()
        ("price_fen", "100000000000000000", "less_than_equal"),
        ("units", "99999999999", "less_than_equal"),
        ("site", "9223372036854775808", "less_than_equal"),
        ("received_on", '"9999-12-31"', "less_than_equal"),
        ("received_on", '"0001-01-01"', "greater_than_equal"),
        ("seller_name", '"\\u200b\\u200b\\u3000"', None),  # only invisible: stripped to "" (no seller), accepted
        ("seller_name", json.dumps("名" * 5000), "string_too_long"),
        ("source", '"\\u200b"', "string_too_short"),
    ],
)
def test_a_hostile_value_is_refused_with_its_fields_error(till: Any, field: str, raw: str, kind: str | None) -> None:
    client, good = till
    body = json.dumps(good)[:-1] + f', "{field}": {raw}}}'
    response = post(client, RECORDS, body)
    if kind is None:
        assert response.status_code == 201, response.content
        assert CollectionRecord.objects.get().seller_name == ""
        return
    assert refused(response) == [kind]
    assert not CollectionRecord.objects.exists()


def test_a_time_without_its_offset_is_refused(plan: Any) -> None:
    staff = Client()
    staff.force_login(task_force())
    url = "/api/v1/recycling/bookings/YY0000/accept"
    assert refused(post(staff, url, '{"visit_at": "2025-06-11T09:00:00"}')) == ["timezone_aware"]
    assert refused(post(staff, url, '{"visit_at": "9999-06-11T09:00:00+08:00"}')) == ["datetime_out_of_range"]


def test_pages_are_bounded(plan: Any) -> None:
    staff = Client()
    staff.force_login(task_force())
    for page in ("99999999999999999999", "0", "²"):
        assert refused(staff.get("/api/v1/plans", {"page": page})), page
    assert refused(staff.get("/api/v1/plans", {"page_size": "1000"})) == ["less_than_equal"]
    assert staff.get("/api/v1/plans", {"page": "100000"}).json()["items"] == []


def test_the_value_given_is_not_echoed(till: Any) -> None:
    client, good = till
    secret = "110105194912310021" * 3
    response = post(client, RECORDS, json.dumps({**good, "seller_name": secret}))
    assert refused(response) == ["string_too_long"]
    assert secret not in response.content.decode() and "110105" not in response.content.decode()
    assert response.json()["errors"][0] == {
        "loc": ["body", "payload", "seller_name"],
        "type": "string_too_long",
        "msg": "不能超过 40 个字符",
    }


def test_a_body_that_is_not_json_is_a_400_with_a_code(till: Any) -> None:
    client, _ = till
    response = post(client, RECORDS, '{"site": ')
    assert response.status_code == 400
    assert response.json() == {"code": "malformed_body", "message": "请求体无法解析：应为 UTF-8 编码的 JSON"}
