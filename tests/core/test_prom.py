"""`/metrics` (core/prom.py): requests by route name (never the raw path), the figures read from the database at
scrape time — jobs by state, applications by status, money left per programme from the ledger — and access for the
monitoring network only."""

from __future__ import annotations

import random

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.jobs import services as jobs
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application
from tests import clock
from tests.factories import task_force, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def scrape(client: Client | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = (client or Client(**LOCAL)).get("/metrics")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_requests_are_counted_by_route_name_method_and_status_class(plan) -> None:
    before = scrape()
    key = ("huanxin_http_requests_total", (("method", "GET"), ("status", "2xx"), ("view", "recycling:sites")))
    client = Client()
    for county in ("130722", "130723"):  # the query string and path parameters never become labels
        assert client.get(f"/recycling/sites/?region={county}").status_code == 200
    assert client.get("/no-such-page/13800000000").status_code == 404
    after = scrape()
    assert after[key] - before.get(key, 0) == 2
    unmatched = ("huanxin_http_requests_total", (("method", "GET"), ("status", "4xx"), ("view", "unmatched")))
    assert after[unmatched] - before.get(unmatched, 0) == 1
    count = ("huanxin_http_request_duration_seconds_count", (("method", "GET"), ("view", "recycling:sites")))
    assert after[count] - before.get(count, 0) == 2
    labels = {value for (_, pairs) in after for _, value in pairs}
    assert not any("13800000000" in label or "130722" in label for label in labels)


def test_jobs_applications_and_money_left_come_from_the_database(plan, monkeypatch) -> None:
    clock.freeze(monkeypatch)  # the programme's dates and the invoice's are read again by the service
    today = timezone.localdate()
    boss = task_force()
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=10_000_00)
    samples = scrape()
    assert value(samples, "huanxin_database_up") == 1
    assert value(samples, "huanxin_programme_available_fen", programme=programme.code) == 10_000_00
    for status in Application.Status.values:
        assert value(samples, "huanxin_applications", status=status) == 0

    merchant = user_with_role(Role.MERCHANT)
    item = ItemIn(
        kind="refrigerator", invoice_no="INV1", invoice_date=today, price_fen=4_999_00, grade="1",
        brand_model="海尔BCD-501", serial="SN1",
    )  # fmt: skip
    application = submit_application(
        actor=merchant, programme=programme, items=[item], applicant_name="林芳",
        applicant_id=identities.resident_id(random.Random(1)), phone="13912345678", **payee("林芳"),
    )  # fmt: skip
    jobs.start(actor=boss, kind="audit_verify", title="审计日志校验")
    samples = scrape()
    assert value(samples, "huanxin_applications", status=application.status) == 1
    # the available accounts' balances, as the ledger keeps them: the budget less what the application reserved
    assert value(samples, "huanxin_programme_available_fen", programme=programme.code) == 10_000_00 - (
        application.amount_fen
    )
    assert value(samples, "huanxin_jobs", state="queued") == 1
    assert value(samples, "huanxin_jobs", state="failed") == 0
    assert value(samples, "huanxin_workers_seen") == 0
    # no personal data anywhere in the exposition
    text = Client(**LOCAL).get("/metrics").content.decode()
    assert "林芳" not in text and "13912345678" not in text and application.number not in text


def test_only_the_monitoring_network_may_scrape(settings) -> None:
    assert Client(REMOTE_ADDR="203.0.113.5").get("/metrics").status_code == 403
    assert Client(REMOTE_ADDR="::1").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="::ffff:127.0.0.1").get("/metrics").status_code == 200  # dual-stack socket
    settings.HUANXIN_METRICS_ALLOW = ["10.20.0.0/16"]
    assert Client(REMOTE_ADDR="10.20.3.4").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403
    # through a proxy that is not trusted the sender is unknown: refused, whatever the header says
    assert Client(REMOTE_ADDR="10.20.3.4", HTTP_X_FORWARDED_FOR="10.20.3.5").get("/metrics").status_code == 403
    # behind a trusted proxy the sender is the hop before it
    settings.TRUSTED_PROXIES = ["192.0.2.10"]
    via = {"REMOTE_ADDR": "192.0.2.10"}
    assert Client(**via, HTTP_X_FORWARDED_FOR="10.20.9.9").get("/metrics").status_code == 200
    assert Client(**via, HTTP_X_FORWARDED_FOR="10.20.9.9, 203.0.113.5").get("/metrics").status_code == 403
    assert Client(**via, HTTP_X_FORWARDED_FOR="not-an-address").get("/metrics").status_code == 403
    # no login needed, and the answer is never cached
    response = Client(REMOTE_ADDR="10.20.3.4").get("/metrics")
    assert "no-store" in response["Cache-Control"]


def test_multiprocess_mode_sums_the_files_of_every_process(tmp_path, monkeypatch) -> None:
    """With PROMETHEUS_MULTIPROC_DIR the scrape reads every process's files (prometheus-client's multiprocess
    collector); values written by another process appear in this one's answer."""
    import subprocess
    import sys

    script = (
        "from prometheus_client import Counter;"
        "Counter('huanxin_http_requests', 'x', ['view', 'method', 'status']).labels('elsewhere', 'GET', '2xx').inc(3)"
    )
    subprocess.run([sys.executable, "-c", script], env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = scrape()
    key = (("method", "GET"), ("status", "2xx"), ("view", "elsewhere"))
    assert samples[("huanxin_http_requests_total", key)] == 3
    assert value(samples, "huanxin_database_up") == 1
