"""The monitoring API: status, scoped values, entering and submitting with stable error codes."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from huanxin.core.roles import Role
from huanxin.monitoring.models import IndicatorValue
from huanxin.monitoring.periods import Frequency
from huanxin.monitoring.selectors import latest_open_period
from huanxin.plans.models import Indicator
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(plan):
    call_command("monitoring", "setup", stdout=StringIO())
    return plan


def post(client: Client, url: str, body: dict) -> tuple[int, dict]:
    response = client.post(url, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_a_clerk_enters_and_submits_over_the_api(client: Client, setup) -> None:
    client.force_login(officer("市住房和城乡建设局"))
    period = latest_open_period(Frequency.QUARTER, timezone.localdate()).code
    body = {
        "plan": setup.code,
        "indicator": "gas-pipeline-renewed-km",
        "period": period,
        "region": "130722",
        "value": "3.5",
    }
    status, data = post(client, "/api/v1/monitoring/values", body)
    assert status == 200 and data["value"] == "3.5" and data["status"] == "draft"
    status, again = post(client, "/api/v1/monitoring/values", body)  # a retry
    assert status == 200 and again["id"] == data["id"] and again["revision"] == 1
    assert IndicatorValue.objects.get().revisions.count() == 1

    for bad, code in [("-1", "value_negative"), ("三点五", "value_not_a_number")]:
        status, error = post(client, "/api/v1/monitoring/values", {**body, "region": "130723", "value": bad})
        assert (status, error["code"]) == (422, code)
        assert error["message"]
    status, error = post(client, "/api/v1/monitoring/values", {**body, "period": "2099-Q1"})
    assert (status, error["code"]) == (422, "period_not_open")
    status, error = post(client, "/api/v1/monitoring/values", {**body, "period": "2025Q1"})
    assert (status, error["code"]) == (422, "period_invalid")
    status, error = post(client, "/api/v1/monitoring/values", {**body, "indicator": "elevators-renewed"})
    assert (status, error["code"]) == (422, "not_monitored")

    assert post(client, "/api/v1/monitoring/values/submit", {"plan": setup.code, "period": period}) == (
        200,
        {"submitted": 1},
    )
    assert post(client, "/api/v1/monitoring/values/submit", {"plan": setup.code, "period": period})[1] == {
        "submitted": 0
    }


def test_other_departments_cannot_write(client: Client, setup) -> None:
    client.force_login(officer("市商务局"))
    period = latest_open_period(Frequency.QUARTER, timezone.localdate()).code
    status, error = post(
        client,
        "/api/v1/monitoring/values",
        {
            "plan": setup.code,
            "indicator": "gas-pipeline-renewed-km",
            "period": period,
            "region": "130722",
            "value": "1",
        },
    )
    assert (status, error["code"]) == (403, "permission_denied")


def test_status_and_values_are_scoped(client: Client, setup) -> None:
    client.force_login(user_with_role(Role.CITIZEN))
    assert client.get("/api/v1/monitoring/status", {"plan": setup.code}).status_code == 403
    client.force_login(task_force())
    rows = client.get("/api/v1/monitoring/status", {"plan": setup.code}).json()
    assert len(rows) == Indicator.objects.filter(plan=setup).count()
    assert {r["status"] for r in rows} == {"no_data"}
    assert client.get("/api/v1/monitoring/values", {"plan": setup.code}).json()["count"] == 0
