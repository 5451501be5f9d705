"""Equipment renewal (方案 二, 五, 七): enterprises and their 专精特新 recognitions and annual surveys; the project
library with each project's equipment list, review steps and the energy-efficiency check; loans and quarterly
investment reports.

Money is integer fen. Nothing is deleted: projects are returned or rejected, loans and reports corrected by new
rows' values with an audit trail.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role, county_of, is_authenticated, is_official, reads_everything
from huanxin.projects import reference


def department_fields(user: Any) -> list[str]:
    """The fields whose projects a department officer reviews (工信局: 工业 …)."""
    department = getattr(user, "department", None) if getattr(user, "role", None) == Role.DEPARTMENT_OFFICER else None
    if department is None:
        return []
    return [f.code for f in reference.fields().values() if f.department == department.code]


class EnterpriseQuerySet(models.QuerySet["Enterprise"]):
    def visible_to(self, user: Any) -> EnterpriseQuerySet:
        if not is_authenticated(user):
            return self.none()
        if is_official(user):
            county = county_of(user)
            return self.filter(region=county) if county is not None else self
        if user.role == Role.ENTERPRISE and user.organisation_id:
            return self.filter(organisation_id=user.organisation_id)
        return self.none()


class Enterprise(models.Model):
    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("企业名称", max_length=120)
    region = models.ForeignKey(Region, models.PROTECT, related_name="enterprises", verbose_name="县区")
    field = models.CharField("领域", max_length=20)  # reference.fields()
    industry = models.CharField("行业", max_length=60, blank=True)  # 国民经济行业分类, e.g. C34 通用设备制造业
    above_designated_size = models.BooleanField("规模以上", default=False)
    organisation = models.OneToOneField(
        Organisation, models.PROTECT, null=True, blank=True, related_name="enterprise", verbose_name="账号所属组织"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = EnterpriseQuerySet.as_manager()

    class Meta:
        ordering = ["region__code", "name"]
        verbose_name = verbose_name_plural = "企业"

    def __str__(self) -> str:
        return self.name

    @property
    def field_label(self) -> str:
        f = reference.fields().get(self.field)
        return f.name if f else self.field


class _ThroughEnterprise(models.QuerySet[Any]):
    def visible_to(self, user: Any) -> models.QuerySet[Any]:
        return self.filter(enterprise__in=Enterprise.objects.visible_to(user))


class Recognition(models.Model):
    """专精特新 recognition: level and year (the plan counts provincial and municipal ones)."""

    class Level(models.TextChoices):
        NATIONAL = "national", "国家级专精特新“小巨人”"
        PROVINCIAL = "provincial", "省级专精特新中小企业"
        MUNICIPAL = "municipal", "市级专精特新中小企业"

    enterprise = models.ForeignKey(Enterprise, models.CASCADE, related_name="recognitions")
    level = models.CharField("级别", max_length=20, choices=Level.choices)
    year = models.PositiveSmallIntegerField("认定年度")

    objects = _ThroughEnterprise.as_manager()

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = "专精特新认定"
        constraints = [models.UniqueConstraint(fields=["enterprise", "level", "year"], name="recognition_once")]

    def __str__(self) -> str:
        return f"{self.year} {self.get_level_display()}"


class Survey(models.Model):
    """The annual survey of an industrial enterprise: digital R&D tools, numerical control of key processes,
    and (for the industries with benchmarks) capacity at 标杆水平."""

    enterprise = models.ForeignKey(Enterprise, models.CASCADE, related_name="surveys")
    year = models.PositiveSmallIntegerField("年度")
    digital_rd_tools = models.BooleanField("使用数字化研发设计工具")
    nc_rate = models.DecimalField("关键工序数控化率（%）", max_digits=5, decimal_places=1)
    capacity = models.DecimalField("产能", max_digits=14, decimal_places=2, default=0)
    benchmark_capacity = models.DecimalField("达到能效标杆水平的产能", max_digits=14, decimal_places=2, default=0)
    capacity_unit = models.CharField("产能单位", max_length=20, blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = _ThroughEnterprise.as_manager()

    class Meta:
        ordering = ["-year"]
        verbose_name = verbose_name_plural = "企业年度调查"
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "year"], name="survey_once_a_year"),
            models.CheckConstraint(condition=Q(nc_rate__gte=0) & Q(nc_rate__lte=100), name="survey_nc_rate_pct"),
            models.CheckConstraint(
                condition=Q(benchmark_capacity__lte=models.F("capacity")), name="survey_benchmark_within_capacity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise} {self.year}"


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: Any) -> ProjectQuerySet:
        """An enterprise its own; a county officer its county's; a department officer its fields' projects once
        the county has passed them, and the approved library; the task force and auditors all but drafts."""
        if not is_authenticated(user):
            return self.none()
        if reads_everything(user):
            return self.exclude(status=Project.Status.DRAFT)  # a draft is the enterprise's until it submits
        if user.role == Role.ENTERPRISE:
            return (
                self.filter(enterprise__organisation_id=user.organisation_id) if user.organisation_id else self.none()
            )
        if user.role == Role.COUNTY_OFFICER:
            county = county_of(user)
            return self.filter(region=county).exclude(status=Project.Status.DRAFT) if county else self.none()
        if is_official(user):
            mine = Q(field__in=department_fields(user)) & ~Q(
                status__in=[Project.Status.DRAFT, Project.Status.SUBMITTED]
            )
            return self.filter(mine | Q(status=Project.Status.APPROVED))
        return self.none()


class Project(models.Model):
    """A project in the library: declared by an enterprise, reviewed by its county and then the field's city
    department."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "待县区审核"
        COUNTY_APPROVED = "county_approved", "待市级审核"
        RETURNED = "returned", "退回修改"
        APPROVED = "approved", "已入库"
        REJECTED = "rejected", "不予入库"

    EDITABLE = (Status.DRAFT, Status.RETURNED)

    code = models.CharField("项目编号", max_length=20, unique=True)
    enterprise = models.ForeignKey(Enterprise, models.PROTECT, related_name="projects", verbose_name="企业")
    region = models.ForeignKey(Region, models.PROTECT, related_name="+", verbose_name="县区")
    field = models.CharField("领域", max_length=20)
    title = models.CharField("项目名称", max_length=120)
    summary = models.TextField("建设内容", blank=True)
    total_investment_fen = models.BigIntegerField("总投资（分）")
    equipment_investment_fen = models.BigIntegerField("设备投资（分）")
    starts_on = models.DateField("开工日期")
    ends_on = models.DateField("竣工日期")
    annual_energy_tce = models.DecimalField("年综合能耗（吨标准煤）", max_digits=12, decimal_places=2, default=0)
    seeks_central_funds = models.BooleanField("申请中央资金", default=False)
    seeks_loan = models.BooleanField("有融资需求", default=False)
    loan_wanted_fen = models.BigIntegerField("拟融资额（分）", default=0)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    exemption = models.TextField("能效要求豁免理由", blank=True)
    exempted_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    token = models.CharField(max_length=64, blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = verbose_name_plural = "设备更新项目"
        constraints = [
            models.CheckConstraint(
                condition=Q(total_investment_fen__gt=0)
                & Q(equipment_investment_fen__gte=0)
                & Q(equipment_investment_fen__lte=models.F("total_investment_fen")),
                name="project_investment_consistent",
            ),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="project_dates_ordered"),
            models.UniqueConstraint(fields=["created_by", "token"], condition=~Q(token=""), name="project_token_once"),
        ]
        indexes = [models.Index(fields=["status", "field"]), models.Index(fields=["region", "status"])]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def field_label(self) -> str:
        f = reference.fields().get(self.field)
        return f.name if f else self.field

    @property
    def reviewing_department(self) -> Department | None:
        f = reference.fields().get(self.field)
        return Department.objects.filter(code=f.department).first() if f else None


class _ThroughProject(models.QuerySet[Any]):
    def visible_to(self, user: Any) -> models.QuerySet[Any]:
        return self.filter(project__in=Project.objects.visible_to(user))


class EquipmentItem(models.Model):
    project = models.ForeignKey(Project, models.CASCADE, related_name="items")
    name = models.CharField("设备名称", max_length=80)
    model = models.CharField("型号", max_length=80, blank=True)
    quantity = models.PositiveIntegerField("数量")
    unit_price_fen = models.BigIntegerField("单价（分）")
    category = models.CharField("产品类别", max_length=40)  # reference.efficiency()
    grade = models.CharField("能效等级", max_length=20, blank=True)
    standard = models.CharField("依据标准", max_length=40, blank=True)

    objects = _ThroughProject.as_manager()

    class Meta:
        ordering = ["pk"]
        verbose_name = verbose_name_plural = "设备清单"
        constraints = [
            models.CheckConstraint(condition=Q(unit_price_fen__gte=0), name="item_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen


class ProjectEvent(models.Model):
    project = models.ForeignKey(Project, models.CASCADE, related_name="events")
    status = models.CharField(max_length=20, choices=Project.Status.choices)
    actor = models.ForeignKey(User, models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    objects = _ThroughProject.as_manager()

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = verbose_name_plural = "项目进程"

    def __str__(self) -> str:
        return f"{self.project.code} {self.get_status_display()}"


class Loan(models.Model):
    """A loan granted for a project (银企对接), and the interest subsidy it earns under the year's parameters."""

    project = models.ForeignKey(Project, models.PROTECT, related_name="loans")
    bank = models.CharField("贷款银行", max_length=80)
    amount_fen = models.BigIntegerField("贷款金额（分）")
    rate_bp = models.PositiveIntegerField("年利率（基点，1%=100）")
    term_months = models.PositiveSmallIntegerField("期限（月）")
    relending = models.BooleanField("纳入科技创新和技术改造再贷款", default=False)
    granted_on = models.DateField("放款日期")
    interest_subsidy_fen = models.BigIntegerField("财政贴息（分）", default=0)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = _ThroughProject.as_manager()

    class Meta:
        ordering = ["-granted_on"]
        verbose_name = verbose_name_plural = "项目贷款"
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="loan_amount_positive")]

    def __str__(self) -> str:
        return f"{self.bank} {self.amount_fen}"


class InvestmentReport(models.Model):
    """Investment completed in one quarter (period code 2025-Q2)."""

    project = models.ForeignKey(Project, models.PROTECT, related_name="reports")
    period = models.CharField("季度", max_length=10)
    completed_fen = models.BigIntegerField("完成投资（分）")
    equipment_fen = models.BigIntegerField("其中设备投资（分）")
    note = models.CharField("说明", max_length=200, blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = _ThroughProject.as_manager()

    class Meta:
        ordering = ["period"]
        verbose_name = verbose_name_plural = "投资完成情况"
        constraints = [
            models.UniqueConstraint(fields=["project", "period"], name="report_once_a_quarter"),
            models.CheckConstraint(
                condition=Q(completed_fen__gte=0)
                & Q(equipment_fen__gte=0)
                & Q(equipment_fen__lte=models.F("completed_fen")),
                name="report_amounts_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.project.code} {self.period}"


class ProjectSequence(models.Model):
    """The counter behind project numbers (XM2025000123), one row per year, locked to draw."""

    year = models.PositiveSmallIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    class _QuerySet(models.QuerySet["ProjectSequence"]):
        def visible_to(self, user: Any) -> models.QuerySet[ProjectSequence]:
            return self if getattr(user, "is_superuser", False) else self.none()

    objects = _QuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.year}:{self.last}"
