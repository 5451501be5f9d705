"""Who sees which supervision rows: one matrix over the roles, through each model's `visible_to`."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser

from huanxin.core.roles import Role
from huanxin.supervision import services
from huanxin.supervision.models import Milestone, Notice, NoticeCounter, NoticeMessage, ProgressReport
from tests.factories import officer, task_force, user_with_role
from tests.supervision.conftest import COMMERCE, HOUSING, issue

pytestmark = pytest.mark.django_db

VIEWERS = {
    "anonymous": lambda: AnonymousUser(),
    "citizen": lambda: user_with_role(Role.CITIZEN),
    "merchant": lambda: user_with_role(Role.MERCHANT),
    "county officer": lambda: user_with_role(Role.COUNTY_OFFICER),
    "other department": lambda: officer(COMMERCE),
    "own department": lambda: officer(HOUSING),
    "task force": lambda: task_force(),
    "auditor": lambda: user_with_role(Role.AUDITOR),
}
# what each viewer sees of: a draft report, a submitted report, a milestone, a notice, its answer, the counter
EXPECTED = {
    "anonymous": (0, 0, 0, 0, 0, 0),
    "citizen": (0, 0, 0, 0, 0, 0),
    "merchant": (0, 0, 0, 0, 0, 0),
    "county officer": (0, 1, 1, 0, 0, 0),
    "other department": (0, 1, 1, 0, 0, 0),
    "own department": (1, 1, 1, 1, 1, 0),
    "task force": (0, 1, 1, 1, 1, 1),
    "auditor": (0, 1, 1, 1, 1, 1),
}


@pytest.fixture
def rows(measure, housing, clerk, boss):
    draft = services.save_report(
        actor=clerk, measure=measure, period="2025-M06", text="草稿", today=dt.date(2025, 7, 1)
    )
    submitted = services.save_report(
        actor=clerk, measure=measure, period="2025-M05", text="已报送", submit=True, today=dt.date(2025, 7, 1)
    )
    milestone = services.add_milestone(
        actor=boss, measure=measure, department=housing, title="计划下达", due_on=dt.date(2025, 3, 31)
    )
    notice = issue(boss, measure)
    answer = services.answer_notice(actor=clerk, notice=notice, text="答复")
    counter = NoticeCounter.objects.get()
    return draft, submitted, milestone, notice, answer, counter


@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_the_visibility_matrix(rows, viewer) -> None:
    user = VIEWERS[viewer]()
    draft, submitted, milestone, notice, answer, counter = rows
    seen = (
        ProgressReport.objects.visible_to(user).filter(pk=draft.pk).count(),
        ProgressReport.objects.visible_to(user).filter(pk=submitted.pk).count(),
        Milestone.objects.visible_to(user).filter(pk=milestone.pk).count(),
        Notice.objects.visible_to(user).filter(pk=notice.pk).count(),
        NoticeMessage.objects.visible_to(user).filter(pk=answer.pk).count(),
        NoticeCounter.objects.visible_to(user).filter(pk=counter.pk).count(),
    )
    assert seen == EXPECTED[viewer]


def test_a_department_sees_only_the_notices_addressed_to_it(measure, boss) -> None:
    from huanxin.core.models import Department

    to_housing = issue(boss, measure)
    to_police = issue(boss, measure, department=Department.objects.resolve("市公安局"))
    assert list(Notice.objects.visible_to(officer(HOUSING))) == [to_housing]
    assert list(Notice.objects.visible_to(officer("市公安局"))) == [to_police]
    assert Notice.objects.visible_to(task_force()).count() == 2


def test_an_inactive_user_sees_nothing(rows) -> None:
    user = officer(HOUSING, is_active=False)
    for model in (ProgressReport, Milestone, Notice, NoticeMessage, NoticeCounter):
        assert not model.objects.visible_to(user).exists()  # type: ignore[attr-defined]
