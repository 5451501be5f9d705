"""Task supervision (任务调度与督办): the responsible departments' monthly progress reports on their measures,
milestones, and the task force's supervision notices (督办单) with the departments' answers.

Nothing here is deleted: a milestone is cancelled with a reason, a notice is closed; every step is an audit event.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.models import Q

from huanxin.core.models import Department, User
from huanxin.core.roles import is_official, reads_everything
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator, Measure, Plan


def _own_department(user: Any, path: str = "department") -> Q:
    """Rows of the user's own department (a user belongs to a department through its organisation)."""
    if not getattr(user, "organisation_id", None):
        return Q(pk__in=[])
    return Q(**{f"{path}__organisation__users": user})


class ReportQuerySet(models.QuerySet["ProgressReport"]):
    def visible_to(self, user: Any) -> ReportQuerySet:
        """A department sees its own drafts; officials see submitted reports; the public nothing."""
        if not is_official(user):
            return self.none()
        in_plan = Q(measure__plan__in=Plan.objects.visible_to(user))
        return self.filter(in_plan & (Q(status=ProgressReport.Status.SUBMITTED) | _own_department(user))).distinct()


class ProgressReport(models.Model):
    """进展报告: one responsible department's progress on one measure for one month (period code 2025-M06)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已报送"

    measure = models.ForeignKey(Measure, models.PROTECT, related_name="progress_reports", verbose_name="举措")
    department = models.ForeignKey(Department, models.PROTECT, related_name="progress_reports", verbose_name="责任单位")
    period = models.CharField("月份", max_length=10)  # PeriodRef code: 2025-M06
    text = models.TextField("工作进展")
    problems = models.TextField("存在问题及下步打算", blank=True)
    percent_done = models.PositiveSmallIntegerField("完成程度（%）", null=True, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    updated_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField("报送时间", null=True, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "measure", "department"]
        verbose_name = verbose_name_plural = "进展报告"
        constraints = [
            models.UniqueConstraint(fields=["measure", "department", "period"], name="one_report_per_month"),
            models.CheckConstraint(condition=Q(percent_done__lte=100), name="percent_done_at_most_100"),
        ]

    def __str__(self) -> str:
        return f"{self.measure.code} {self.department} {self.period}"

    @property
    def month(self) -> PeriodRef:
        return PeriodRef.parse(self.period)

    @property
    def period_label(self) -> str:
        return self.month.label


class MilestoneQuerySet(models.QuerySet["Milestone"]):
    def visible_to(self, user: Any) -> MilestoneQuerySet:
        """Milestones are working data of the government: every official, for the plans they may read."""
        if not is_official(user):
            return self.none()
        return self.filter(measure__plan__in=Plan.objects.visible_to(user))

    def overdue(self, today: dt.date) -> MilestoneQuerySet:
        return self.filter(status=Milestone.Status.OPEN, due_on__lt=today)


class Milestone(models.Model):
    """里程碑: set by the task force or the measure's lead department, marked done by the responsible department."""

    class Status(models.TextChoices):
        OPEN = "open", "进行中"
        DONE = "done", "已完成"
        CANCELLED = "cancelled", "已取消"

    measure = models.ForeignKey(Measure, models.PROTECT, related_name="milestones", verbose_name="举措")
    department = models.ForeignKey(Department, models.PROTECT, related_name="milestones", verbose_name="责任单位")
    title = models.CharField("里程碑", max_length=120)
    due_on = models.DateField("计划完成日期")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPEN)
    done_on = models.DateField("实际完成日期", null=True, blank=True)
    note = models.TextField("完成情况", blank=True)
    cancel_reason = models.TextField("取消原因", blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    token = models.CharField(max_length=64, blank=True)  # the form's token: a double click adds one milestone

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = verbose_name_plural = "里程碑"
        constraints = [
            models.UniqueConstraint(fields=["token"], condition=~Q(token=""), name="milestone_token_unique"),
            models.CheckConstraint(
                condition=~Q(status="done") | Q(done_on__isnull=False), name="done_milestone_has_date"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: dt.date) -> bool:
        return self.status == self.Status.OPEN and self.due_on < today

    @property
    def late(self) -> bool:
        """Done, but after the date planned."""
        return self.done_on is not None and self.done_on > self.due_on


class NoticeQuerySet(models.QuerySet["Notice"]):
    def visible_to(self, user: Any) -> NoticeQuerySet:
        """The task force and auditors see every notice; the addressed department its own; nobody else any."""
        if reads_everything(user):
            return self
        if not is_official(user):
            return self.none()
        return self.filter(_own_department(user)).distinct()

    def awaiting_answer(self) -> NoticeQuerySet:
        return self.filter(status__in=Notice.AWAITING)

    def overdue(self, today: dt.date) -> NoticeQuerySet:
        """Past the due date and not answered (issued, or returned for a further answer)."""
        return self.awaiting_answer().filter(due_on__lt=today)


class Notice(models.Model):
    """督办单: the task force asks a department to act on a measure or an indicator by a date.

    issued → answered → closed; answered → returned (back to the department) → answered → …
    """

    class Status(models.TextChoices):
        ISSUED = "issued", "待答复"
        ANSWERED = "answered", "已答复待办结"
        RETURNED = "returned", "退回补充"
        CLOSED = "closed", "已办结"

    AWAITING = (Status.ISSUED, Status.RETURNED)

    year = models.PositiveSmallIntegerField("年份")
    sequence = models.PositiveIntegerField("序号")
    department = models.ForeignKey(Department, models.PROTECT, related_name="notices", verbose_name="督办对象")
    measure = models.ForeignKey(
        Measure, models.PROTECT, null=True, blank=True, related_name="notices", verbose_name="关于举措"
    )
    indicator = models.ForeignKey(
        Indicator, models.PROTECT, null=True, blank=True, related_name="notices", verbose_name="关于指标"
    )
    subject = models.CharField("督办事项", max_length=120)
    body = models.TextField("督办内容")
    due_on = models.DateField("办理时限")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    issued_at = models.DateTimeField("发出时间")
    answered_at = models.DateTimeField("最近答复时间", null=True, blank=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    closing_note = models.TextField("办结意见", blank=True)
    token = models.CharField(max_length=64, blank=True)  # the issue form's token: a double click issues one

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-sequence"]
        verbose_name = verbose_name_plural = "督办单"
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="notice_number_unique"),
            models.UniqueConstraint(fields=["token"], condition=~Q(token=""), name="notice_token_unique"),
            models.CheckConstraint(
                condition=Q(measure__isnull=False) | Q(indicator__isnull=False), name="notice_has_subject"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"督办〔{self.year}〕{self.sequence}号"

    @property
    def awaits_department(self) -> bool:
        return self.status in self.AWAITING

    def is_overdue(self, today: dt.date) -> bool:
        return self.awaits_department and self.due_on < today


class MessageQuerySet(models.QuerySet["NoticeMessage"]):
    def visible_to(self, user: Any) -> MessageQuerySet:
        return self.filter(notice__in=Notice.objects.visible_to(user))


class NoticeMessage(models.Model):
    """One step of a notice's thread after it was issued: the department's answer, or the task force sending it
    back for more, or closing it. Answers are never overwritten: a further answer is a further message."""

    class Kind(models.TextChoices):
        ANSWER = "answer", "答复"
        RETURN = "return", "退回补充"
        CLOSE = "close", "办结"

    notice = models.ForeignKey(Notice, models.PROTECT, related_name="messages")
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    text = models.TextField("内容")
    due_on = models.DateField("补充答复时限", null=True, blank=True)  # a return may set a new date
    author = models.ForeignKey(User, models.PROTECT, related_name="+")
    at = models.DateTimeField("时间")
    token = models.CharField(max_length=64, blank=True)  # the answer form's token: a double click answers once

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["notice", "at", "pk"]
        verbose_name = verbose_name_plural = "督办往来"
        constraints = [
            models.UniqueConstraint(fields=["token"], condition=~Q(token=""), name="notice_message_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.notice} {self.get_kind_display()} {self.at:%Y-%m-%d}"


class CounterQuerySet(models.QuerySet["NoticeCounter"]):
    def visible_to(self, user: Any) -> CounterQuerySet:
        return self if reads_everything(user) else self.none()


class NoticeCounter(models.Model):
    """The last notice number given out in a year. Issuing locks this row (SELECT … FOR UPDATE), so two task
    force members issuing at once get consecutive numbers; the unique (year, sequence) on Notice backs it."""

    year = models.PositiveSmallIntegerField("年份", unique=True)
    last = models.PositiveIntegerField("已用序号", default=0)

    objects = CounterQuerySet.as_manager()

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = "督办单编号"

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"
