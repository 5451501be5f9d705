"""The read API: shapes, scoping, stable error codes, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.test import Client

from huanxin.plans.models import Indicator, Measure, Plan
from tests.factories import officer

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client: Client, plan: Plan) -> Client:
    client.force_login(officer("市商务局"))
    return client


def test_plans(api: Client, plan: Plan) -> None:
    body = api.get("/api/v1/plans").json()
    assert body["count"] == 1
    assert body["items"][0]["code"] == plan.code
    assert body["items"][0]["region_code"] == "130700"


def test_measures_are_all_there_with_departments(api: Client, plan: Plan) -> None:
    body = api.get(f"/api/v1/plans/{plan.code}/measures").json()
    assert body["count"] == 27
    first = body["items"][0]
    assert first["code"] == "二（一）1"
    assert first["responsibilities"][0]["role"] == "lead"
    assert all(r["role"] == "cooperating" for r in first["responsibilities"][1:])


def test_measure_detail_with_indicators(api: Client, plan: Plan) -> None:
    body = api.get(f"/api/v1/plans/{plan.code}/measures/2.2.2").json()
    assert body["code"] == "二（二）2"
    assert {r["clause"] for r in body["responsibilities"]} == {1, 2}
    units = sorted(i["unit"] for i in body["indicators"])
    assert units.count("公里") == 4 and "个" in units


def test_measure_search(api: Client, plan: Plan) -> None:
    body = api.get(f"/api/v1/plans/{plan.code}/measures", {"q": "电梯"}).json()
    assert [m["code"] for m in body["items"]] == ["二（二）1"]


def test_indicators_and_filters(api: Client, plan: Plan) -> None:
    body = api.get(f"/api/v1/plans/{plan.code}/indicators").json()
    assert body["count"] == Indicator.objects.filter(plan=plan).count()
    shares = api.get(f"/api/v1/plans/{plan.code}/indicators", {"kind": "share"}).json()
    assert shares["count"] >= 4 and all(i["kind"] == "share" and i["unit"] == "%" for i in shares["items"])


def test_department_with_tasks(api: Client, plan: Plan) -> None:
    body = api.get("/api/v1/departments", {"q": "发展和改革"}).json()
    assert body["count"] == 1
    drc = body["items"][0]
    assert "市发展和改革委" in drc["aliases"]
    detail = api.get(f"/api/v1/departments/{drc['code']}").json()
    lead = Measure.objects.filter(
        clauses__responsibilities__department__code=drc["code"], clauses__responsibilities__role="lead"
    )
    assert sorted(detail["lead_measures"]) == sorted(set(lead.values_list("code", flat=True)))
    assert detail["cooperating_measures"]


def test_errors_have_stable_codes(api: Client, plan: Plan) -> None:
    response = api.get("/api/v1/plans/no-such-plan")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "未找到，或您无权查看"}
    response = api.get("/api/v1/plans", {"page": "abc"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_openapi_schema_and_docs(api: Client) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    for path in ["/api/v1/plans", "/api/v1/plans/{code}/measures/{slug}", "/api/v1/departments/{code}"]:
        assert path in paths
    assert api.get("/api/v1/docs").status_code == 200
