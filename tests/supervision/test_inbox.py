"""待办 from supervision, for a department and for the task force."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core import inbox
from huanxin.core.roles import Role
from huanxin.supervision import selectors, services
from huanxin.supervision.inbox import supervision_items
from tests.factories import officer, user_with_role
from tests.supervision.conftest import COMMERCE, issue

pytestmark = pytest.mark.django_db


def items(user) -> dict[str, inbox.Item]:
    return {item.title: item for item in supervision_items(user)}


def test_a_departments_items(measure, housing, boss, clerk) -> None:
    today = timezone.localdate()
    mine = items(clerk)
    assert mine["待答复的督办单"].count == 0 and mine["逾期未完成的里程碑"].count == 0
    owed = sum(len(m.months) for m in selectors.missing_reports(user=clerk, today=today, department=housing))
    assert owed > 0 and mine["逾期未报送的月度进展报告"].count == owed  # nothing reported since 2024
    assert mine["逾期未报送的月度进展报告"].tone == "bad"

    issue(boss, measure)
    waiting = items(clerk)["待答复的督办单"]
    assert (waiting.count, waiting.tone) == (1, "warn")
    assert waiting.url == reverse("supervision:notices") + "?status=awaiting"
    issue(boss, measure, due_on=dt.date(2025, 1, 10), today=dt.date(2025, 1, 2))  # past its date
    assert (items(clerk)["待答复的督办单"].count, items(clerk)["待答复的督办单"].tone) == (2, "bad")

    services.add_milestone(
        actor=boss, measure=measure, department=housing, title="计划下达", due_on=dt.date(2025, 3, 1)
    )
    assert items(clerk)["逾期未完成的里程碑"].count == 1
    month = selectors.due_months(plan=measure.plan, today=today)[-1]
    services.save_report(actor=clerk, measure=measure, period=month.code, text="x", submit=True)
    assert items(clerk)["逾期未报送的月度进展报告"].count == owed - 1
    assert items(officer(COMMERCE))["待答复的督办单"].count == 0  # not theirs


def test_the_task_forces_items(measure, boss, clerk) -> None:
    assert {i.title: i.count for i in supervision_items(boss)} == {"已答复待办结的督办单": 0, "逾期未答复的督办单": 0}
    late = issue(boss, measure, due_on=dt.date(2025, 1, 10), today=dt.date(2025, 1, 2))
    answered = issue(boss, measure)
    services.answer_notice(actor=clerk, notice=answered, text="已答复")
    mine = items(boss)
    assert (mine["已答复待办结的督办单"].count, mine["逾期未答复的督办单"].count) == (1, 1)
    assert mine["逾期未答复的督办单"].tone == "bad"
    services.answer_notice(actor=clerk, notice=late, text="迟到的答复")
    assert items(boss)["逾期未答复的督办单"].count == 0
    assert "逾期未报送的月度进展报告" not in mine  # the task force reports nothing itself


def test_others_get_no_items(measure, boss) -> None:
    issue(boss, measure)
    for user in [user_with_role(Role.CITIZEN), user_with_role(Role.AUDITOR), user_with_role(Role.COUNTY_OFFICER)]:
        assert supervision_items(user) == []


def test_the_home_page_shows_them(client: Client, measure, boss, clerk) -> None:
    issue(boss, measure)
    client.force_login(clerk)
    html = client.get(reverse("home")).content.decode()
    assert "<b>1</b> 待答复的督办单" in html and "逾期未报送的月度进展报告" in html
    client.force_login(boss)
    assert "已答复待办结的督办单" not in client.get(reverse("home")).content.decode()  # zero items are hidden
