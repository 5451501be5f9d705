"""Reporting: periods, how each indicator is reported, reported values and their revisions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import models
from django.db.models import Q

from huanxin.core.models import Department, Region, User
from huanxin.core.roles import is_authenticated, is_official, reads_everything
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans.models import Indicator, Plan

REPORTING_WINDOW_DAYS = 15  # a period's values are due this many days after it ends


class PeriodQuerySet(models.QuerySet["Period"]):
    def visible_to(self, user: Any) -> PeriodQuerySet:
        return self if is_authenticated(user) else self.none()


class Period(models.Model):
    """An explicit reporting period. Values for it can be entered from its last day on."""

    code = models.CharField("期间", max_length=10, unique=True)
    frequency = models.CharField("频次", max_length=1, choices=[(f.value, f.label) for f in Frequency])
    start = models.DateField("开始")
    end = models.DateField("结束")
    due_on = models.DateField("报送截止")

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["-end", "frequency"]
        verbose_name = verbose_name_plural = "报送期间"

    def __str__(self) -> str:
        return self.ref.label

    @property
    def ref(self) -> PeriodRef:
        return PeriodRef.parse(self.code)

    @property
    def label(self) -> str:
        return self.ref.label

    def is_open(self, today: dt.date) -> bool:
        return today >= self.end


class SettingQuerySet(models.QuerySet["IndicatorSetting"]):
    def visible_to(self, user: Any) -> SettingQuerySet:
        return self.filter(indicator__plan__in=Plan.objects.visible_to(user))


class IndicatorSetting(models.Model):
    """How an indicator is monitored: who reports it, how often, by county or not, and what is entered."""

    class Source(models.TextChoices):
        REPORTED = "reported", "部门填报"
        DERIVED = "derived", "业务数据自动生成"

    class Aggregation(models.TextChoices):
        INCREMENT = "increment", "本期新增（累计求和）"
        LEVEL = "level", "期末水平值"

    indicator = models.OneToOneField(Indicator, models.CASCADE, related_name="setting")
    source = models.CharField("来源", max_length=20, choices=Source.choices, default=Source.REPORTED)
    metric = models.CharField("指标来源（度量名）", max_length=80, blank=True)
    frequency = models.CharField("报送频次", max_length=1, choices=[(f.value, f.label) for f in Frequency])
    by_county = models.BooleanField("分县区填报", default=False)
    aggregation = models.CharField("口径", max_length=20, choices=Aggregation.choices)
    value_unit = models.CharField("填报单位", max_length=20)
    reporting_department = models.ForeignKey(
        Department, models.PROTECT, null=True, blank=True, related_name="reported_indicators", verbose_name="填报单位"
    )
    baseline_value = models.DecimalField("基准年数值", max_digits=16, decimal_places=4, null=True, blank=True)

    objects = SettingQuerySet.as_manager()

    class Meta:
        verbose_name = verbose_name_plural = "指标监测设置"

    def __str__(self) -> str:
        return f"{self.indicator} ({self.get_frequency_display()})"


class ValueQuerySet(models.QuerySet["IndicatorValue"]):
    def visible_to(self, user: Any) -> ValueQuerySet:
        """The reporting department sees its own in every state; the task force and auditors everything but
        drafts; other officials approved values only; the public nothing."""
        if not is_official(user):
            return self.none()
        in_plan = Q(indicator__plan__in=Plan.objects.visible_to(user))
        own = (
            Q(indicator__setting__reporting_department__organisation__users=user)
            if user.organisation_id
            else Q(pk__in=[])
        )
        if user.role == "county_officer" and user.organisation_id:
            own |= Q(region=user.organisation.region_id)  # a county officer sees their county's values
        if reads_everything(user):
            others = ~Q(status=IndicatorValue.Status.DRAFT)
        else:
            others = Q(status=IndicatorValue.Status.APPROVED)
        return self.filter(in_plan & (own | others)).distinct()


class IndicatorValue(models.Model):
    """The current value of an indicator for one period and one region (the city, or a county)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已报送待审核"
        APPROVED = "approved", "已审核"
        RETURNED = "returned", "已退回"

    indicator = models.ForeignKey(Indicator, models.PROTECT, related_name="values")
    period = models.ForeignKey(Period, models.PROTECT, related_name="values")
    region = models.ForeignKey(Region, models.PROTECT, related_name="indicator_values")
    value = models.DecimalField("数值", max_digits=16, decimal_places=4)
    note = models.TextField("说明及佐证", blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    derived = models.BooleanField("自动生成", default=False)
    revision = models.PositiveIntegerField("版本", default=1)
    return_reason = models.TextField("退回原因", blank=True)
    updated_by = models.ForeignKey(User, models.PROTECT, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = ValueQuerySet.as_manager()

    class Meta:
        ordering = ["indicator", "period", "region"]
        verbose_name = verbose_name_plural = "指标数值"
        constraints = [
            models.UniqueConstraint(fields=["indicator", "period", "region"], name="one_value_per_period_region"),
            models.CheckConstraint(condition=Q(value__gte=0), name="value_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.period} {self.region}: {self.value}"


class RevisionQuerySet(models.QuerySet["ValueRevision"]):
    def visible_to(self, user: Any) -> RevisionQuerySet:
        return self.filter(value__in=IndicatorValue.objects.visible_to(user))


class ValueRevision(models.Model):
    """Append-only history of a value: every save, submission, review and correction (who, when, old, new, why)."""

    class Action(models.TextChoices):
        SAVED = "saved", "填写"
        SUBMITTED = "submitted", "报送"
        APPROVED = "approved", "审核通过"
        RETURNED = "returned", "退回"
        CORRECTED = "corrected", "更正"
        DERIVED = "derived", "由业务数据生成"

    value = models.ForeignKey(IndicatorValue, models.PROTECT, related_name="revisions")
    number = models.PositiveIntegerField("序号")
    action = models.CharField("操作", max_length=20, choices=Action.choices)
    old_value = models.DecimalField("原值", max_digits=16, decimal_places=4, null=True, blank=True)
    new_value = models.DecimalField("新值", max_digits=16, decimal_places=4)
    reason = models.TextField("原因", blank=True)
    actor = models.ForeignKey(User, models.PROTECT, null=True, related_name="+")  # NULL: the system (derived)
    at = models.DateTimeField("时间")

    objects = RevisionQuerySet.as_manager()

    class Meta:
        ordering = ["value", "number"]
        verbose_name = verbose_name_plural = "数值修订记录"
        constraints = [models.UniqueConstraint(fields=["value", "number"], name="revision_number_unique")]

    def __str__(self) -> str:
        return f"{self.value_id}#{self.number} {self.action}"


class LedgerKindQuerySet(models.QuerySet["LedgerKind"]):
    def visible_to(self, user: Any) -> LedgerKindQuerySet:
        return self.filter(plan__in=Plan.objects.visible_to(user)) if is_official(user) else self.none()


class LedgerKind(models.Model):
    """A kind of physical work a department keeps a ledger of (km of gas pipeline, buses renewed …).

    Defined as data (monitoring/data/ledgers-*.yaml): its attributes and the shares derived from them need no code.
    `attributes`: [{"key": "fuel", "label": "燃料类型", "type": "choice", "choices": [...], "required": true}]
    `shares`: [{"code": "nev_share", "label": "新能源车占比", "attribute": "fuel", "values": ["纯电动", …]}]
    """

    plan = models.ForeignKey(Plan, models.CASCADE, related_name="ledger_kinds")
    code = models.SlugField("代码", max_length=40)
    name = models.CharField("台账名称", max_length=80)
    unit = models.CharField("计量单位", max_length=20)
    department = models.ForeignKey(Department, models.PROTECT, related_name="ledger_kinds", verbose_name="记账单位")
    attributes = models.JSONField("属性", default=list, blank=True)
    shares = models.JSONField("占比口径", default=list, blank=True)
    description = models.TextField("说明", blank=True)

    objects = LedgerKindQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "code"]
        verbose_name = verbose_name_plural = "工作台账类型"
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="ledger_kind_code_unique")]

    def __str__(self) -> str:
        return self.name


class LedgerEntryQuerySet(models.QuerySet["LedgerEntry"]):
    def visible_to(self, user: Any) -> LedgerEntryQuerySet:
        return self.filter(kind__in=LedgerKind.objects.visible_to(user))


class LedgerEntry(models.Model):
    """One record of work done: when, where, how much, its attributes and evidence. Voided, never deleted."""

    class Status(models.TextChoices):
        ACTIVE = "active", "有效"
        VOIDED = "voided", "已作废"

    kind = models.ForeignKey(LedgerKind, models.PROTECT, related_name="entries")
    region = models.ForeignKey(Region, models.PROTECT, related_name="ledger_entries")
    recorded_on = models.DateField("完成日期")
    quantity = models.DecimalField("数量", max_digits=14, decimal_places=4)
    attributes = models.JSONField("属性", default=dict, blank=True)
    evidence = models.CharField("佐证（项目、文号、验收单）", max_length=300, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.ACTIVE)
    void_reason = models.CharField("作废原因", max_length=300, blank=True)
    # NULL, not "", so that the many records without a key don't collide under the unique constraint
    idempotency_key = models.CharField(max_length=80, null=True, blank=True)  # noqa: DJ001
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_on", "-pk"]
        verbose_name = verbose_name_plural = "工作台账记录"
        indexes = [models.Index(fields=["kind", "status", "recorded_on", "region"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="ledger_quantity_positive"),
            models.UniqueConstraint(fields=["kind", "idempotency_key"], name="ledger_entry_idempotent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.region} {self.recorded_on} {self.quantity}"


class AttachmentQuerySet(models.QuerySet["ValueAttachment"]):
    def visible_to(self, user: Any) -> AttachmentQuerySet:
        return self.filter(value__in=IndicatorValue.objects.visible_to(user))


def attachment_path(instance: ValueAttachment, filename: str) -> str:
    # the stored name is ours; the uploader's file name is kept in `name` for display only
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"evidence/{instance.value.period.code}/{uuid.uuid4().hex}.{suffix}"


class ValueAttachment(models.Model):
    """Evidence for a reported value (an acceptance certificate, a list of projects …). Served only through a
    scoped view, never from a public media URL."""

    value = models.ForeignKey(IndicatorValue, models.PROTECT, related_name="attachments")
    file = models.FileField(upload_to=attachment_path)
    name = models.CharField("文件名", max_length=200)
    size = models.PositiveIntegerField("大小（字节）")
    uploaded_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        ordering = ["value", "uploaded_at"]
        verbose_name = verbose_name_plural = "佐证材料"

    def __str__(self) -> str:
        return self.name
