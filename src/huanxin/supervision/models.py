"""Task supervision (任务调度与督办): departments' monthly progress reports on their measures, milestones, and the
task force's supervision notices (督办单) with the departments' answers."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from huanxin.core.models import Department, User
from huanxin.core.roles import is_official, reads_everything
from huanxin.plans.models import Indicator, Measure, Plan


def _own_department(user: Any) -> Q:
    return Q(department__organisation__users=user) if getattr(user, "organisation_id", None) else Q(pk__in=[])


class ReportQuerySet(models.QuerySet["ProgressReport"]):
    def visible_to(self, user: Any) -> ReportQuerySet:
        """A department sees its own drafts; officials see submitted reports; the public nothing."""
        if not is_official(user):
            return self.none()
        in_plan = Q(measure__plan__in=Plan.objects.visible_to(user))
        return self.filter(in_plan & (Q(status=ProgressReport.Status.SUBMITTED) | _own_department(user))).distinct()


class ProgressReport(models.Model):
    """One department's progress on one measure for one month (2025-M06)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已报送"

    measure = models.ForeignKey(Measure, models.PROTECT, related_name="progress_reports")
    department = models.ForeignKey(Department, models.PROTECT, related_name="progress_reports")
    period = models.CharField("月份", max_length=10)  # 2025-M06
    text = models.TextField("工作进展")
    problems = models.TextField("存在问题及下步打算", blank=True)
    percent_done = models.PositiveSmallIntegerField("完成程度（%）", null=True, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

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


class MilestoneQuerySet(models.QuerySet["Milestone"]):
    def visible_to(self, user: Any) -> MilestoneQuerySet:
        if not is_official(user):
            return self.none()
        return self.filter(measure__plan__in=Plan.objects.visible_to(user))


class Milestone(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "进行中"
        DONE = "done", "已完成"
        CANCELLED = "cancelled", "已取消"

    measure = models.ForeignKey(Measure, models.PROTECT, related_name="milestones")
    department = models.ForeignKey(Department, models.PROTECT, related_name="milestones", verbose_name="责任单位")
    title = models.CharField("里程碑", max_length=120)
    due_on = models.DateField("计划完成日期")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.OPEN)
    done_on = models.DateField("实际完成日期", null=True, blank=True)
    note = models.TextField("说明", blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MilestoneQuerySet.as_manager()

    class Meta:
        ordering = ["due_on", "pk"]
        verbose_name = verbose_name_plural = "里程碑"

    def __str__(self) -> str:
        return self.title


class NoticeQuerySet(models.QuerySet["Notice"]):
    def visible_to(self, user: Any) -> NoticeQuerySet:
        """The task force and auditors see every notice; a department its own; nobody else any."""
        if reads_everything(user):
            return self
        if not is_official(user):
            return self.none()
        return self.filter(_own_department(user)).distinct()


class Notice(models.Model):
    """督办单: the task force asks a department to act on a measure or an indicator by a date."""

    class Status(models.TextChoices):
        ISSUED = "issued", "待答复"
        ANSWERED = "answered", "已答复待办结"
        RETURNED = "returned", "退回补充"
        CLOSED = "closed", "已办结"

    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    department = models.ForeignKey(Department, models.PROTECT, related_name="notices", verbose_name="督办对象")
    measure = models.ForeignKey(Measure, models.PROTECT, null=True, blank=True, related_name="notices")
    indicator = models.ForeignKey(Indicator, models.PROTECT, null=True, blank=True, related_name="notices")
    subject = models.CharField("督办事项", max_length=120)
    body = models.TextField("督办内容")
    due_on = models.DateField("办理时限")
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.ISSUED)
    issued_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closing_note = models.TextField("办结意见", blank=True)
    return_reason = models.TextField("退回原因", blank=True)

    objects = NoticeQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-sequence"]
        verbose_name = verbose_name_plural = "督办单"
        constraints = [
            models.UniqueConstraint(fields=["year", "sequence"], name="notice_number_unique"),
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
        return self.status in {self.Status.ISSUED, self.Status.RETURNED}


class AnswerQuerySet(models.QuerySet["NoticeAnswer"]):
    def visible_to(self, user: Any) -> AnswerQuerySet:
        return self.filter(notice__in=Notice.objects.visible_to(user))


class NoticeAnswer(models.Model):
    notice = models.ForeignKey(Notice, models.PROTECT, related_name="answers")
    text = models.TextField("答复内容")
    author = models.ForeignKey(User, models.PROTECT, related_name="+")
    at = models.DateTimeField()
    token = models.CharField(max_length=64, unique=True)  # the form's token: a double click answers once

    objects = AnswerQuerySet.as_manager()

    class Meta:
        ordering = ["notice", "at"]
        verbose_name = verbose_name_plural = "督办答复"

    def __str__(self) -> str:
        return f"{self.notice} {self.at:%Y-%m-%d}"
