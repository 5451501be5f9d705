"""Milestones: set by the task force or the lead department, marked done by the responsible department, never
deleted (cancelled with a reason), overdue when their date has passed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from huanxin.core.models import AuditEvent, Department
from huanxin.core.roles import Role
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone
from tests.factories import officer, task_force, user_with_role
from tests.supervision.conftest import COMMERCE, HOUSING, MARKET, POLICE

pytestmark = pytest.mark.django_db
DUE = dt.date(2025, 3, 31)


def add(actor, measure, department, title="年度改造计划下达", due_on=DUE, **kw) -> Milestone:
    return services.add_milestone(actor=actor, measure=measure, department=department, title=title, due_on=due_on, **kw)


NOT_A_LEAD = "里程碑由工作专班或牵头单位设置"
OTHER_CLAUSE = "只能为本单位牵头的分工条款设置里程碑"


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        ("task_force", ""),
        (HOUSING, ""),
        (POLICE, OTHER_CLAUSE),  # 公安局 leads the second clause; 住建局 answers under the first
        (MARKET, NOT_A_LEAD),
        (COMMERCE, NOT_A_LEAD),
        ("auditor", NOT_A_LEAD),
    ],
)
def test_the_task_force_and_the_clauses_lead_set_milestones(measure, housing, who, refusal) -> None:
    if who == "task_force":
        actor = task_force()
    elif who == "auditor":
        actor = user_with_role(Role.AUDITOR)
    else:
        actor = officer(who)
    if not refusal:
        assert add(actor, measure, housing).created_by == actor
    else:
        with pytest.raises(PermissionDenied, match=refusal):
            add(actor, measure, housing)


def test_the_lead_of_one_clause_leaves_another_clauses_milestones_alone(measure, housing) -> None:
    police = Department.objects.resolve(POLICE)
    market = Department.objects.resolve(MARKET)
    housing_lead, police_lead = officer(HOUSING), officer(POLICE)
    assert services.plannable_departments(police_lead, measure) == {police.pk}
    assert services.plannable_departments(housing_lead, measure) == {housing.pk, market.pk} | {
        Department.objects.resolve("市城市管理综合行政执法局").pk
    }
    theirs = add(housing_lead, measure, market)
    ours = add(police_lead, measure, police, title="视频监控设备更新")
    with pytest.raises(PermissionDenied, match="只能取消本单位牵头的分工条款下的里程碑"):
        services.cancel_milestone(actor=police_lead, milestone=theirs, reason="x")
    with pytest.raises(PermissionDenied):
        services.cancel_milestone(actor=housing_lead, milestone=ours, reason="x")
    assert services.cancel_milestone(actor=police_lead, milestone=ours, reason="并入年度计划").status == "cancelled"
    assert services.cancel_milestone(actor=task_force(), milestone=theirs, reason="调整").status == "cancelled"


@pytest.mark.parametrize(
    ("department", "title", "due_on", "field", "message"),
    [
        (COMMERCE, "x", DUE, "department", "该单位不是本举措的责任单位"),
        (None, "x", DUE, "department", "请选择责任单位"),
        (HOUSING, " ", DUE, "title", "请填写里程碑名称"),
        (HOUSING, "长" * 121, DUE, "title", "不超过120字"),
        (HOUSING, "x", None, "due_on", "请填写计划完成日期"),
        (HOUSING, "x", dt.date(2024, 1, 1), "due_on", "计划完成日期应在方案实施期内"),
        (HOUSING, "x", dt.date(2028, 1, 1), "due_on", "计划完成日期应在方案实施期内"),
    ],
)
def test_bad_milestones_are_refused(measure, boss, department, title, due_on, field, message) -> None:
    dept = Department.objects.resolve(department) if department else None
    with pytest.raises(ValidationError) as exc:
        add(boss, measure, dept, title=title, due_on=due_on)
    assert message in exc.value.message_dict[field][0]
    assert not Milestone.objects.exists()


def test_a_double_click_adds_one_milestone(measure, housing, boss) -> None:
    first = add(boss, measure, housing, token="form-1")
    assert add(boss, measure, housing, token="form-1").pk == first.pk
    assert add(boss, measure, housing, token="form-2").pk != first.pk
    with pytest.raises(ValidationError, match="表单已失效"):
        add(task_force(), measure, housing, token="form-1")  # someone else's form token
    assert Milestone.objects.count() == 2


def test_the_responsible_department_marks_it_done_and_it_stops_being_overdue(measure, housing, boss, clerk) -> None:
    milestone = add(boss, measure, housing)
    assert milestone.is_overdue(dt.date(2025, 4, 1)) and not milestone.is_overdue(DUE)
    assert list(selectors.overdue_milestones(user=boss, today=dt.date(2025, 4, 1))) == [milestone]
    assert list(selectors.overdue_milestones(user=boss, today=dt.date(2025, 4, 1), department=housing)) == [milestone]
    for outsider in [boss, officer(POLICE), officer(COMMERCE)]:
        with pytest.raises(PermissionDenied, match="由里程碑的责任单位标记完成"):
            services.complete_milestone(actor=outsider, milestone=milestone, done_on=DUE)
    with pytest.raises(ValidationError, match="完成日期不能晚于今天"):
        services.complete_milestone(
            actor=clerk, milestone=milestone, done_on=dt.date(2025, 4, 2), today=dt.date(2025, 4, 1)
        )
    with pytest.raises(ValidationError, match="请填写实际完成日期"):
        services.complete_milestone(actor=clerk, milestone=milestone, done_on=None)
    done = services.complete_milestone(
        actor=clerk, milestone=milestone, done_on=dt.date(2025, 4, 3), note="计划已印发", today=dt.date(2025, 4, 5)
    )
    assert (done.status, done.done_on, done.note, done.closed_by) == ("done", dt.date(2025, 4, 3), "计划已印发", clerk)
    assert done.late and not done.is_overdue(dt.date(2025, 5, 1))
    assert not selectors.overdue_milestones(user=boss, today=dt.date(2025, 5, 1)).exists()
    again = services.complete_milestone(actor=clerk, milestone=milestone, done_on=dt.date(2025, 4, 4))
    assert again.done_on == dt.date(2025, 4, 3)  # marked twice: the first date stands


def test_milestones_are_cancelled_with_a_reason_never_deleted(measure, housing, boss, clerk) -> None:
    milestone = add(clerk, measure, housing)
    with pytest.raises(PermissionDenied):
        services.cancel_milestone(actor=officer(MARKET), milestone=milestone, reason="x")
    with pytest.raises(ValidationError) as exc:
        services.cancel_milestone(actor=boss, milestone=milestone, reason="  ")
    assert exc.value.message_dict == {"reason": ["取消里程碑请写明原因"]}
    cancelled = services.cancel_milestone(actor=boss, milestone=milestone, reason="并入年度计划统筹推进")
    assert (cancelled.status, cancelled.cancel_reason) == ("cancelled", "并入年度计划统筹推进")
    assert not cancelled.is_overdue(dt.date(2026, 1, 1))
    with pytest.raises(ValidationError, match="该里程碑已取消"):
        services.complete_milestone(actor=clerk, milestone=milestone, done_on=DUE)
    assert Milestone.objects.filter(pk=milestone.pk).exists()
    done = services.complete_milestone(actor=clerk, milestone=add(boss, measure, housing), done_on=DUE)
    with pytest.raises(ValidationError, match="已完成的里程碑不能取消"):
        services.cancel_milestone(actor=boss, milestone=done, reason="x")
    history = list(
        AuditEvent.objects.filter(object_type="supervision.milestone").order_by("id").values_list("action", flat=True)
    )
    assert history == ["milestone.added", "milestone.cancelled", "milestone.added", "milestone.done"]


def test_every_official_sees_milestones_the_public_none(measure, housing, boss) -> None:
    milestone = add(boss, measure, housing)
    for official in [officer(COMMERCE), user_with_role(Role.AUDITOR), user_with_role(Role.COUNTY_OFFICER)]:
        assert Milestone.objects.visible_to(official).filter(pk=milestone.pk).exists()
    for outsider in [user_with_role(Role.CITIZEN), user_with_role(Role.MERCHANT)]:
        assert not Milestone.objects.visible_to(outsider).exists()
