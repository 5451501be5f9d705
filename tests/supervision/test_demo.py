"""The demo history is built through the services, covers every state, and is built once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.utils import timezone

from huanxin.core.models import Department
from huanxin.core.roles import Role
from huanxin.demo import supervision as demo
from huanxin.supervision import selectors
from huanxin.supervision.models import Milestone, Notice, NoticeMessage, ProgressReport
from tests.factories import UserFactory, department_org, task_force

pytestmark = pytest.mark.django_db


def test_the_demo_shows_every_state_and_runs_once(plan) -> None:
    for department in Department.objects.all():
        department_org(department.name)  # the demo command creates these; the clerks are made on demand
    UserFactory(username="zhuanban", role=Role.TASK_FORCE, organisation=department_org("市发展和改革委员会"))
    out = StringIO()
    demo.build(out)
    assert "8 份督办单" in out.getvalue()
    today = timezone.localdate()
    assert set(Notice.objects.values_list("status", flat=True)) == {"issued", "answered", "returned", "closed"}
    assert Notice.objects.overdue(today).exists() and NoticeMessage.objects.filter(kind="return").exists()
    assert set(Milestone.objects.values_list("status", flat=True)) == {"open", "done", "cancelled"}
    assert selectors.overdue_milestones(user=task_force(), today=today).exists()
    assert set(ProgressReport.objects.values_list("status", flat=True)) == {"draft", "submitted"}
    assert selectors.missing_reports(user=task_force(), today=today)  # some months were missed
    counts = (ProgressReport.objects.count(), Milestone.objects.count(), Notice.objects.count())
    demo.build(StringIO())
    assert (ProgressReport.objects.count(), Milestone.objects.count(), Notice.objects.count()) == counts
