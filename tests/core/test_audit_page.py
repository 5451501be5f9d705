"""The auditor's 审计日志 page: auditors only; search by actor, object, action (exact or prefix) and date range; a page
at a time with the filters kept; changes shown as logged (personal data masked); the chains' status from the last
`audit_verify` job and a verification started on the page as a background job; the filtered events as Excel."""

from __future__ import annotations

import datetime as dt
import io
import random
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huanxin.core import audit, audit_views
from huanxin.core.identity import verify_identity
from huanxin.core.models import AuditCheckpoint, AuditEvent, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.jobs.models import Job
from tests.core.test_exports_inert import HOSTILE, carried, inert_xlsx
from tests.factories import UserFactory, user_with_role
from tests.jobs.helpers import run_queued_jobs

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def note(actor: User | None, action: str, object_id: str, **changes: Any) -> None:
    with transaction.atomic():
        audit.record(actor=actor, action=action, object_type="tests.thing", object_id=object_id, changes=changes)


@pytest.fixture
def auditor(db: Any) -> User:
    return user_with_role(Role.AUDITOR, display_name="审计员甲")


@pytest.fixture
def clerk(db: Any) -> User:
    return user_with_role(Role.TASK_FORCE, username="zhangsan", display_name="张三")


def test_only_auditors_open_it(auditor, clerk) -> None:
    assert logged_in(auditor).get("/audit/").status_code == 200
    for role in (Role.TASK_FORCE, Role.REVIEWER, Role.CITIZEN):
        response = logged_in(user_with_role(role)).get("/audit/")
        assert response.status_code == 403
    assert logged_in(clerk).post("/audit/").status_code == 403
    assert not Job.objects.exists()
    assert Client().get("/audit/").status_code == 302  # to the log-in page


def test_search_by_actor_object_action_and_date(auditor, clerk) -> None:
    other = user_with_role(Role.REVIEWER, username="lisi", display_name="李四")
    note(clerk, "tests.made", "1")
    note(clerk, "tests.changed", "2")
    note(other, "tests.changed", "1")
    note(None, "tests.swept", "3")
    client = logged_in(auditor)

    def rows(**asked: Any) -> list[tuple[str, str]]:
        return [(e.action, e.object_id) for e in audit_views.events(auditor, audit_views.AuditFilter(**asked))]

    assert rows(actor="zhangsan") == [("tests.changed", "2"), ("tests.made", "1")]
    assert rows(actor="张三") == rows(actor="zhangsan")  # by name as well
    assert rows(actor="李四") == [("tests.changed", "1")]
    assert ("tests.swept", "3") in rows(actor="系统")
    assert rows(object_type="tests.thing", object_id="1") == [("tests.changed", "1"), ("tests.made", "1")]
    assert rows(action="tests.changed") == [("tests.changed", "1"), ("tests.changed", "2")]
    everything = {("tests.made", "1"), ("tests.changed", "2"), ("tests.changed", "1"), ("tests.swept", "3")}
    assert set(rows(action="tests.*")) == everything == set(rows(action="tests."))
    today = timezone.localdate()
    assert len(rows(since=today, until=today, object_type="tests.thing")) == 4
    assert rows(until=today - dt.timedelta(days=1), object_type="tests.thing") == []
    assert rows(since=today + dt.timedelta(days=1)) == []
    assert rows() and not audit_views.events(clerk, audit_views.AuditFilter()).exists()  # scoped: auditors only

    page = client.get("/audit/", {"actor": "zhangsan", "action": "tests.*"}).content.decode()
    assert "tests.made" in page and "tests.swept" not in page
    assert 'value="zhangsan"' in page and 'value="tests.*"' in page
    junk = client.get("/audit/", {"since": "2025-13-45", "until": "<script>", "page": "x"})
    assert junk.status_code == 200  # a date that is none is no filter


def test_pages_keep_the_filters(auditor, clerk, monkeypatch) -> None:
    monkeypatch.setattr(audit_views, "PER_PAGE", 5)
    for n in range(7):
        note(clerk, "tests.paged", str(n))
    client = logged_in(auditor)
    first = client.get("/audit/", {"action": "tests.paged"}).content.decode()
    assert "第 1 页" in first and "action=tests.paged&amp;page=2" in first
    assert first.count('<tr id="audit-') == 5
    second = client.get("/audit/", {"action": "tests.paged", "page": 2}).content.decode()
    assert second.count("tests.thing:") == 2 and "下一页" not in second and "上一页" in second


def test_changes_are_shown_as_logged_with_personal_data_masked(auditor) -> None:
    citizen = UserFactory(role=Role.CITIZEN, verified=False)
    number = identities.resident_id(random.Random(7))
    verify_identity(actor=citizen, name="林芳芳", resident_id=number, phone="13912345678")
    page = logged_in(auditor).get("/audit/", {"action": "user.identity_verified"}).content.decode()
    event = AuditEvent.objects.get(action="user.identity_verified")
    assert "user.identity_verified" in page
    assert number not in page and "13912345678" not in page and "林芳芳" not in page
    assert "139****5678" in page and f"{number[:6]}********{number[-4:]}" in page
    assert str(event.changes.get("name", "")) in page


def test_chain_status_and_verifying_now(auditor, clerk) -> None:
    note(clerk, "tests.made", "1")
    client = logged_in(auditor)
    assert "尚无校验记录" in client.get("/audit/").content.decode()
    started = client.post("/audit/")
    job = Job.objects.get(kind="audit_verify")
    assert started.status_code == 302 and started["Location"] == f"/jobs/{job.pk}/"
    assert job.owner == auditor and job.state == Job.State.QUEUED
    again = client.post("/audit/")  # one is already waiting: shown, not another started
    assert again["Location"] == f"/jobs/{job.pk}/" and Job.objects.filter(kind="audit_verify").count() == 1
    assert "正在校验" in client.get("/audit/").content.decode()
    run_queued_jobs()
    page = client.get("/audit/").content.decode()
    assert "校验通过" in page and "手动发起" in page and "立即校验" in page

    client.post("/audit/")  # starting it appends (and signs) an event: the forgery comes after
    AuditCheckpoint.objects.update(signature="0" * 64)  # a forged checkpoint: the verification says so
    run_queued_jobs()
    page = client.get("/audit/").content.decode()
    assert "发现问题" in page and "检查点签名无效" in page


def test_export_is_the_filtered_events_and_inert(auditor, clerk, monkeypatch) -> None:
    with transaction.atomic():  # what a service wrote as the object's name and in its changes
        pending = [audit.Pending("tests.hostile", "tests.thing", str(n), v, {"note": v}) for n, v in enumerate(HOSTILE)]
        audit.record_many(pending, actor=clerk)
    note(clerk, "tests.other", "x")
    client = logged_in(auditor)
    response = client.get("/audit/", {"action": "tests.hostile", "format": "xlsx"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    texts = inert_xlsx(response.content)
    carried(texts, *[v for v in HOSTILE if not v.startswith(("\r", "\n", "\t"))])
    ws = load_workbook(io.BytesIO(response.content)).active
    assert ws is not None
    assert [c.value for c in ws[1]] == audit_views.HEADERS
    assert ws.max_row == 1 + len(HOSTILE)
    assert all(row[2].value == "tests.hostile" for row in ws.iter_rows(min_row=2))
    assert "导出 Excel" in client.get("/audit/", {"action": "tests.hostile"}).content.decode()

    monkeypatch.setattr(audit_views, "EXPORT_LIMIT", 3)
    refused = client.get("/audit/", {"action": "tests.hostile", "format": "xlsx"}, follow=True)
    assert "超过 3 条" in refused.content.decode()
    assert refused.redirect_chain[-1][0] == "/audit/?action=tests.hostile"
