"""The projects API: an enterprise's system declares with a token (a retry declares once), adds equipment and
gets each item's energy-efficiency finding, submits; bad input comes back with stable codes; scoping holds."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from huanxin.core import tokens
from huanxin.core.models import Organisation
from huanxin.core.roles import Role
from huanxin.projects.models import Project
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BODY = {
    "title": "空压站节能改造",
    "field": "industry",
    "total_investment_fen": 2_000_000_000,
    "equipment_investment_fen": 1_200_000_000,
    "starts_on": "2025-05-01",
    "ends_on": "2026-04-30",
    "annual_energy_tce": "15000",
}


def post(client: Client, url: str, body: dict, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_an_enterprise_system_declares_adds_items_and_submits(owner, enterprise, county) -> None:
    _, key = tokens.issue_token(actor=owner, name="ERP")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client = Client(enforce_csrf_checks=True)
    first = post(client, "/api/v1/projects", BODY, HTTP_IDEMPOTENCY_KEY="erp-1", **auth)
    assert first.status_code == 201, first.content
    code = first.json()["code"]
    assert post(client, "/api/v1/projects", BODY, HTTP_IDEMPOTENCY_KEY="erp-1", **auth).json()["code"] == code
    assert Project.objects.count() == 1
    item = {"name": "空压机", "quantity": 2, "unit_price_fen": 30_000_000, "category": "air_compressor", "grade": "3级"}
    added = post(client, f"/api/v1/projects/{code}/items", item, **auth).json()
    assert added["rule_applies"] is True
    assert "低于节能水平" in added["items"][0]["below_energy_saving"]
    unknown = post(client, f"/api/v1/projects/{code}/items", {**item, "grade": "0级"}, **auth)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_grade"
    submitted = post(client, f"/api/v1/projects/{code}/submit", {}, **auth)
    assert submitted.status_code == 200 and submitted.json()["status"] == "submitted"
    county_client = Client()
    county_client.force_login(county)
    assert [p["code"] for p in county_client.get("/api/v1/projects").json()["items"]] == [code]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"equipment_investment_fen": 3_000_000_000}, "equipment_above_total"),
        ({"total_investment_fen": -1}, "invalid_investment"),
        ({"ends_on": "2024-01-01"}, "dates_reversed"),
    ],
)
def test_bad_declarations_come_back_with_a_stable_code(owner, enterprise, change, code) -> None:
    client = Client()
    client.force_login(owner)
    response = post(client, "/api/v1/projects", {**BODY, **change})
    assert response.status_code == 422 and response.json()["code"] == code
    assert not Project.objects.exists()


def test_only_enterprises_in_the_register_declare_and_see_their_own(owner, enterprise, xuanhua) -> None:
    stranger = UserFactory(
        role=Role.ENTERPRISE,
        organisation=Organisation.objects.create(name="名录外企业", kind="enterprise", region=xuanhua),
    )
    client = Client()
    client.force_login(stranger)
    refused = post(client, "/api/v1/projects", BODY)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    mine = Client()
    mine.force_login(owner)
    code = post(mine, "/api/v1/projects", BODY).json()["code"]
    assert client.get(f"/api/v1/projects/{code}").status_code == 404
    assert Client().get("/api/v1/projects").status_code == 401
