"""督办单: issued → answered → closed, or answered → returned → answered …; who may do what; the messages a
refusal gives; retries that change nothing; numbers per year that never repeat, even under concurrency."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections
from django.utils import timezone

from huanxin.core.models import AuditEvent, Department
from huanxin.core.roles import Role
from huanxin.plans.models import Indicator, Measure
from huanxin.supervision import services
from huanxin.supervision.models import Notice, NoticeCounter, NoticeMessage
from tests.conftest import postgres_only
from tests.factories import officer, task_force, user_with_role
from tests.supervision.conftest import COMMERCE, HOUSING, POLICE, issue

pytestmark = pytest.mark.django_db


def test_a_notice_from_issue_through_a_return_to_close(measure, boss, clerk) -> None:
    notice = issue(boss, measure, token="issue-form")
    assert notice.status == "issued" and notice.awaits_department
    assert notice.number == f"督办〔{timezone.localdate().year}〕1号"
    first = services.answer_notice(actor=clerk, notice=notice, text="已召开专题会，倒排工期", token="a-1")
    notice.refresh_from_db()
    assert (notice.status, notice.answered_at) == ("answered", first.at)
    services.return_notice(actor=boss, notice=notice, reason="请补充分县区计划")
    notice.refresh_from_db()
    assert notice.status == "returned" and notice.awaits_department
    services.answer_notice(actor=clerk, notice=notice, text="分县区计划：张北12公里，怀来8公里", token="a-2")
    notice = services.close_notice(actor=boss, notice=notice, note="措施具体，继续跟踪")
    assert (notice.status, notice.closing_note) == ("closed", "措施具体，继续跟踪") and notice.closed_at
    thread = [(m.kind, m.text) for m in notice.messages.all()]
    assert thread == [
        ("answer", "已召开专题会，倒排工期"),
        ("return", "请补充分县区计划"),
        ("answer", "分县区计划：张北12公里，怀来8公里"),
        ("close", "措施具体，继续跟踪"),
    ]  # every answer is kept
    actions = list(
        AuditEvent.objects.filter(object_type="supervision.notice", object_id=str(notice.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["notice.issued", "notice.answered", "notice.returned", "notice.answered", "notice.closed"]


@pytest.mark.parametrize(
    ("steps", "action", "message"),
    [
        ([], "close", "督办对象答复后方可办结"),
        ([], "return", "只有已答复的督办单可以退回补充"),
        (["answer"], "answer", "已答复待办结，当前无需答复"),
        (["answer", "close"], "answer", "已办结，当前无需答复"),
        (["answer", "close"], "return", "只有已答复的督办单可以退回补充"),
        (["answer", "return"], "close", "督办对象答复后方可办结"),
    ],
)
def test_steps_out_of_order_are_refused(measure, boss, clerk, steps, action, message) -> None:
    notice = issue(boss, measure)

    def do(step: str) -> None:
        if step == "answer":
            services.answer_notice(actor=clerk, notice=notice, text="答复")
        elif step == "close":
            services.close_notice(actor=boss, notice=notice, note="办结")
        else:
            services.return_notice(actor=boss, notice=notice, reason="补充")

    for step in steps:
        do(step)
    before = Notice.objects.get(pk=notice.pk).status
    with pytest.raises(ValidationError, match=message):
        do(action)
    assert Notice.objects.get(pk=notice.pk).status == before


def test_who_may_do_what(measure, boss, clerk) -> None:
    auditor = user_with_role(Role.AUDITOR)
    for outsider in [clerk, auditor, officer(COMMERCE)]:
        with pytest.raises(PermissionDenied, match="只有工作专班可以发出督办单"):
            issue(outsider, measure)
    notice = issue(boss, measure)
    for outsider in [officer(COMMERCE), officer(POLICE), boss, auditor]:
        with pytest.raises(PermissionDenied, match="由督办对象单位答复"):
            services.answer_notice(actor=outsider, notice=notice, text="x")
    services.answer_notice(actor=officer(HOUSING), notice=notice, text="x")  # any clerk of the department
    for outsider in [clerk, auditor]:
        with pytest.raises(PermissionDenied, match="只有工作专班可以退回"):
            services.return_notice(actor=outsider, notice=notice, reason="x")
        with pytest.raises(PermissionDenied, match="只有工作专班可以办结"):
            services.close_notice(actor=outsider, notice=notice, note="x")


def test_an_issue_form_refused_says_why_field_by_field(measure, boss, plan) -> None:
    with pytest.raises(ValidationError) as exc:
        issue(boss, None, department=None, subject=" ", body="", due_on=dt.date(2020, 1, 1))
    assert exc.value.message_dict == {
        "department": ["请选择督办对象"],
        "measure": ["请选择督办的举措或指标（至少一项）"],
        "subject": ["请填写督办事项"],
        "body": ["请填写督办内容"],
        "due_on": ["办理时限不能早于今天"],
    }
    with pytest.raises(ValidationError) as exc:
        issue(boss, measure, department=Department.objects.resolve(COMMERCE), subject="长" * 121, due_on=None)
    assert exc.value.message_dict == {
        "department": ["市商务局不是举措二（二）2的责任单位"],
        "subject": ["督办事项不超过120字"],
        "due_on": ["请填写办理时限（年-月-日）"],
    }
    buses = Indicator.objects.get(plan=plan, code="nev-heavy-trucks")  # 二（三）'s, not 二（二）2's
    with pytest.raises(ValidationError) as exc:
        issue(boss, measure, indicator=buses)
    assert exc.value.message_dict == {"indicator": ["该指标不属于所选举措"]}
    assert not Notice.objects.exists() and not NoticeCounter.objects.filter(last__gt=0).exists()


def test_a_notice_about_an_indicator_alone(boss, plan) -> None:
    scrapped_cars = Indicator.objects.get(plan=plan, code="scrapped-cars-collected-growth")  # overall goal
    notice = issue(boss, None, indicator=scrapped_cars, department=Department.objects.resolve(COMMERCE))
    assert notice.measure is None and notice.indicator == scrapped_cars
    with pytest.raises(ValidationError) as exc:
        issue(boss, None, indicator=scrapped_cars, department=Department.objects.resolve("市教育局"))
    assert exc.value.message_dict == {"department": ["市教育局不是该指标的责任单位"]}
    video = Indicator.objects.get(plan=plan, code="police-video-devices-renewed")  # the second clause's: 公安局
    with pytest.raises(ValidationError, match="不是该指标的责任单位"):
        issue(boss, None, indicator=video)
    assert issue(boss, None, indicator=video, department=Department.objects.resolve(POLICE)).indicator == video


def test_a_double_click_answers_once(measure, boss, clerk) -> None:
    notice = issue(boss, measure)
    first = services.answer_notice(actor=clerk, notice=notice, text="已部署", token="form-7")
    again = services.answer_notice(actor=clerk, notice=notice, text="已部署", token="form-7")
    assert again.pk == first.pk and NoticeMessage.objects.count() == 1
    assert AuditEvent.objects.filter(action="notice.answered").count() == 1
    other = issue(boss, measure)
    with pytest.raises(ValidationError, match="表单已失效"):
        services.answer_notice(actor=clerk, notice=other, text="已部署", token="form-7")  # a stale form's token
    with pytest.raises(ValidationError) as exc:
        services.answer_notice(actor=clerk, notice=other, text="  ", token="form-8")
    assert exc.value.message_dict == {"text": ["请填写答复内容"]}


def test_a_double_click_issues_once_and_uses_one_number(measure, boss) -> None:
    first = issue(boss, measure, token="issue-1")
    assert issue(boss, measure, token="issue-1").pk == first.pk
    assert issue(boss, measure, token="issue-2").sequence == 2
    assert Notice.objects.count() == 2


def test_closing_or_returning_twice_changes_nothing(measure, boss, clerk) -> None:
    notice = issue(boss, measure)
    services.answer_notice(actor=clerk, notice=notice, text="答复")
    services.return_notice(actor=boss, notice=notice, reason="请补充")
    services.return_notice(actor=boss, notice=notice, reason="请补充")  # the same click again
    assert NoticeMessage.objects.filter(kind="return").count() == 1
    services.answer_notice(actor=clerk, notice=notice, text="补充")
    with pytest.raises(ValidationError) as exc:
        services.close_notice(actor=boss, notice=notice, note="")
    assert exc.value.message_dict == {"note": ["请填写办结意见"]}
    services.close_notice(actor=boss, notice=notice, note="同意办结")
    assert services.close_notice(actor=boss, notice=notice, note="再次").closing_note == "同意办结"
    assert NoticeMessage.objects.filter(kind="close").count() == 1


def test_a_return_may_set_a_new_due_date(measure, boss, clerk) -> None:
    today = timezone.localdate()
    notice = issue(boss, measure)
    services.answer_notice(actor=clerk, notice=notice, text="答复")
    with pytest.raises(ValidationError) as exc:
        services.return_notice(actor=boss, notice=notice, reason="", due_on=today - dt.timedelta(days=1))
    assert set(exc.value.message_dict) == {"reason", "due_on"}
    services.return_notice(actor=boss, notice=notice, reason="补充", due_on=today + dt.timedelta(days=30))
    notice.refresh_from_db()
    assert notice.due_on == today + dt.timedelta(days=30)
    assert notice.messages.get(kind="return").due_on == notice.due_on


def test_overdue_means_past_due_and_awaiting_the_department(measure, boss, clerk) -> None:
    issued_on = dt.date(2025, 3, 1)
    notice = issue(boss, measure, due_on=dt.date(2025, 3, 15), today=issued_on)
    assert notice.issued_at.date() == issued_on and notice.year == 2025
    assert not notice.is_overdue(dt.date(2025, 3, 15)) and notice.is_overdue(dt.date(2025, 3, 16))
    assert list(Notice.objects.overdue(dt.date(2025, 3, 16))) == [notice]
    services.answer_notice(actor=clerk, notice=notice, text="答复", today=dt.date(2025, 3, 20))
    notice.refresh_from_db()
    assert not notice.is_overdue(dt.date(2025, 4, 1)) and not Notice.objects.overdue(dt.date(2025, 4, 1)).exists()
    services.return_notice(actor=boss, notice=notice, reason="补充", today=dt.date(2025, 3, 21))
    notice.refresh_from_db()
    assert notice.is_overdue(dt.date(2025, 4, 1))  # returned, and the original date has passed


def test_numbers_run_per_year(measure, boss) -> None:
    in_2025 = [issue(boss, measure, today=dt.date(2025, 12, 30), due_on=dt.date(2026, 1, 10)) for _ in range(2)]
    in_2026 = issue(boss, measure, today=dt.date(2026, 1, 2), due_on=dt.date(2026, 1, 10))
    assert [n.number for n in in_2025] == ["督办〔2025〕1号", "督办〔2025〕2号"]
    assert in_2026.number == "督办〔2026〕1号"
    assert dict(NoticeCounter.objects.values_list("year", "last")) == {2025: 2, 2026: 1}


def test_a_notice_needs_a_measure_or_an_indicator_in_the_database_too(measure, boss) -> None:
    from django.db import IntegrityError, transaction

    notice = issue(boss, measure)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.filter(pk=notice.pk).update(measure=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(
            year=notice.year,
            sequence=notice.sequence,  # the same number twice
            department=notice.department,
            measure=measure,
            subject="x",
            body="x",
            due_on=notice.due_on,
            issued_by=boss,
            issued_at=notice.issued_at,
        )


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_issuers_get_distinct_consecutive_numbers(plan) -> None:
    """Six real connections issue five notices each, all starting at once, the year's counter row not yet there."""
    boss = task_force()
    measure = Measure.objects.get(plan=plan, code="二（二）2")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                issue(boss, measure)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(Notice.objects.values_list("sequence", flat=True)) == list(range(1, 31))
    assert NoticeCounter.objects.get(year=timezone.localdate().year).last == 30


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_same_answer_posted_twice_at_once_is_stored_once(plan) -> None:
    """A double click sends two requests at the same moment with the form's token: one answer results."""
    boss = task_force()
    clerk = officer(HOUSING)
    notice = issue(boss, Measure.objects.get(plan=plan, code="二（二）2"))
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(services.answer_notice(actor=clerk, notice=notice, text="已部署", token="click").pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1 and NoticeMessage.objects.count() == 1
