"""A city's plan as data: sections, measures, responsibilities, indicators, rules.

Everything here is loaded from a plan file (plans/data/*.yaml) by `huanxin.plans.loader`; only the
department actions (落实举措) are written by people, through `huanxin.plans.services`.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q, Subquery

from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role, is_authenticated, is_official, is_task_force


class PlanQuerySet(models.QuerySet["Plan"]):
    def visible_to(self, user: Any) -> PlanQuerySet:
        """Published plans of the user's own region: the task force and auditors see every plan, drafts too (they
        import and check them); everyone else the published plans of their place — its own, those of the places
        above it (a county's people read the city's and the province's plan) and, for officials, those of the
        places under it (the city's officials oversee their counties' plans). A plan of another city is not shown
        to this city's users. A user's place is their organisation's region; for those without one (citizens) the
        site's own region (`home_region`)."""
        if not is_authenticated(user):
            return self.none()
        if is_task_force(user) or (user.role == Role.AUDITOR):
            return self
        return self.filter(status=Plan.Status.PUBLISHED, region_id__in=plan_regions(user))


def home_region() -> Region | None:
    """The region the site serves: the setting HUANXIN_HOME_REGION (a region code), else that of the first plan
    published on it — a city's deployment loads its own plan before it imports any other."""
    return Region.objects.filter(pk=_home_region_id()).first()


def _home_region_id() -> Subquery:
    from django.conf import settings

    code = str(getattr(settings, "HUANXIN_HOME_REGION", "") or "")
    if code:
        return Subquery(Region.objects.filter(code=code).values("pk")[:1])
    return Subquery(Plan.objects.filter(status=Plan.Status.PUBLISHED).order_by("pk").values("region_id")[:1])


def plan_regions(user: Any) -> models.QuerySet[Region, Any]:
    """The regions whose plans `user` reads (see `PlanQuerySet.visible_to`), as a subquery: the user's place (their
    organisation's region, else `home_region`), the places above it and, for officials, the two levels under it.
    Written in SQL so that scoping a plan's parts costs no query of its own."""
    organisation_id = getattr(user, "organisation_id", None)
    if organisation_id:
        place = Subquery(Organisation.objects.filter(pk=organisation_id).values("region_id")[:1])
    else:
        place = _home_region_id()
    around = Q(pk=place) | Q(children=place) | Q(children__children=place)
    if is_official(user):
        around |= Q(parent=place) | Q(parent__parent=place)
    return Region.objects.filter(around).values("pk")


class Plan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        PUBLISHED = "published", "已发布"

    code = models.SlugField("代码", max_length=60, unique=True)
    title = models.CharField("方案名称", max_length=200)
    notice_title = models.CharField("印发通知标题", max_length=300, blank=True)
    document_number = models.CharField("文号", max_length=60)
    issuer = models.CharField("发文机关", max_length=100)
    region = models.ForeignKey(Region, models.PROTECT, related_name="plans", verbose_name="地区")
    issued_on = models.DateField("成文日期")
    published_on = models.DateField("发布日期", null=True, blank=True)
    baseline_year = models.PositiveSmallIntegerField("基准年")
    target_year = models.PositiveSmallIntegerField("目标年")
    deadline = models.DateField("截止日期")
    preamble = models.TextField("前言", blank=True)
    closing = models.TextField("结语", blank=True)
    task_force_department = models.ForeignKey(
        Department, models.PROTECT, null=True, blank=True, related_name="+", verbose_name="工作专班牵头单位"
    )
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.PUBLISHED)
    source_text = models.TextField("原文", blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    content_sha256 = models.CharField("载入文件摘要", max_length=64, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_on", "code"]
        verbose_name = verbose_name_plural = "实施方案"

    def __str__(self) -> str:
        return self.title


class PlanPartQuerySet[M: models.Model](models.QuerySet[M]):
    """Sections, measures, indicators … are visible exactly when their plan is."""

    plan_path = "plan"

    def visible_to(self, user: Any) -> PlanPartQuerySet[M]:
        return self.filter(**{f"{self.plan_path}__in": Plan.objects.visible_to(user)})


class ClauseQuerySet(PlanPartQuerySet["ResponsibilityClause"]):
    plan_path = "measure__plan"


class ResponsibilityQuerySet(PlanPartQuerySet["Responsibility"]):
    plan_path = "clause__measure__plan"


class Section(models.Model):
    plan = models.ForeignKey(Plan, models.CASCADE, related_name="sections")
    parent = models.ForeignKey("self", models.CASCADE, null=True, blank=True, related_name="children")
    number = models.CharField("序号", max_length=10)  # as the document writes it: 二 / （一）
    path = models.CharField("编号", max_length=30)  # 二 / 二（一）
    title = models.CharField("标题", max_length=200)
    text = models.TextField("正文", blank=True)
    level = models.PositiveSmallIntegerField()
    position = models.PositiveIntegerField()

    objects = PlanPartQuerySet["Section"].as_manager()

    class Meta:
        ordering = ["plan", "position"]
        verbose_name = verbose_name_plural = "章节"
        constraints = [models.UniqueConstraint(fields=["plan", "path"], name="section_path_unique")]

    def __str__(self) -> str:
        return f"{self.path} {self.title}"

    @property
    def heading(self) -> str:
        return f"{self.number}、{self.title}" if self.level == 1 else f"{self.number}{self.title}"


class Measure(models.Model):
    """A numbered task of the plan with its responsible departments (e.g. 二（二）2 补齐市政设施短板)."""

    plan = models.ForeignKey(Plan, models.CASCADE, related_name="measures")
    section = models.ForeignKey(Section, models.CASCADE, related_name="measures")
    number = models.CharField("序号", max_length=10)  # （三） or 1
    code = models.CharField("编号", max_length=30)  # 二（三） or 二（一）1
    slug = models.SlugField(max_length=30)  # 2.3 or 2.1.1, for addresses
    title = models.CharField("标题", max_length=200)
    text = models.TextField("正文")
    position = models.PositiveIntegerField()

    objects = PlanPartQuerySet["Measure"].as_manager()

    class Meta:
        ordering = ["plan", "position"]
        verbose_name = verbose_name_plural = "任务举措"
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="measure_code_unique"),
            models.UniqueConstraint(fields=["plan", "slug"], name="measure_slug_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class ResponsibilityClause(models.Model):
    """One "(…按职责分工负责)" clause. A measure can have several, each covering part of its text."""

    measure = models.ForeignKey(Measure, models.CASCADE, related_name="clauses")
    position = models.PositiveSmallIntegerField()
    text = models.CharField("分工原文", max_length=300)
    covers = models.TextField("负责内容", blank=True)  # empty: the whole measure
    open_ended = models.BooleanField("含“等”", default=False)

    objects = ClauseQuerySet.as_manager()

    class Meta:
        ordering = ["measure", "position"]
        verbose_name = verbose_name_plural = "责任分工条款"
        constraints = [models.UniqueConstraint(fields=["measure", "position"], name="clause_position_unique")]

    def __str__(self) -> str:
        return self.text


class Responsibility(models.Model):
    class Role(models.TextChoices):
        LEAD = "lead", "牵头"
        COOPERATING = "cooperating", "配合"

    clause = models.ForeignKey(ResponsibilityClause, models.CASCADE, related_name="responsibilities")
    department = models.ForeignKey(Department, models.PROTECT, related_name="responsibilities")
    role = models.CharField("分工", max_length=20, choices=Role.choices)
    position = models.PositiveSmallIntegerField()

    objects = ResponsibilityQuerySet.as_manager()

    class Meta:
        ordering = ["clause", "position"]
        verbose_name = verbose_name_plural = "责任分工"
        constraints = [
            models.UniqueConstraint(fields=["clause", "department"], name="responsibility_unique"),
            models.UniqueConstraint(fields=["clause"], condition=Q(role="lead"), name="one_lead_per_clause"),
        ]

    def __str__(self) -> str:
        return f"{self.department} ({self.get_role_display()})"


class Indicator(models.Model):
    """A target the plan sets: numeric (value, unit, comparator) or qualitative (a milestone in words)."""

    class Kind(models.TextChoices):
        GROWTH_VS_BASELINE = "growth_vs_baseline", "较基准年增长"
        CUMULATIVE_TOTAL = "cumulative_total", "累计总量"
        SHARE = "share", "比例"
        LEVEL = "level", "水平值"
        COUNT = "count", "数量"
        QUALITATIVE = "qualitative", "定性目标"

    class Comparator(models.TextChoices):
        GTE = "gte", "≥（以上）"
        GT = "gt", ">（超过）"
        EQ = "eq", "="
        LTE = "lte", "≤（以下）"

    plan = models.ForeignKey(Plan, models.CASCADE, related_name="indicators")
    code = models.SlugField("代码", max_length=60)
    name = models.CharField("指标名称", max_length=120)
    statement = models.TextField("原文表述")
    section = models.ForeignKey(Section, models.CASCADE, related_name="indicators")
    measure = models.ForeignKey(
        Measure, models.CASCADE, null=True, blank=True, related_name="indicators", verbose_name="所属举措"
    )
    clause = models.ForeignKey(
        ResponsibilityClause,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="indicators",
        verbose_name="负责条款",
        help_text="举措有多条分工条款时，负责本指标的那一条；为空则由举措的全部责任单位负责",
    )
    related_measures = models.ManyToManyField(
        Measure, blank=True, related_name="related_indicators", verbose_name="相关举措"
    )
    kind = models.CharField("类型", max_length=30, choices=Kind.choices)
    comparator = models.CharField("比较", max_length=5, choices=Comparator.choices, blank=True)
    target_value = models.DecimalField("目标值", max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField("单位", max_length=20, blank=True)
    baseline_year = models.PositiveSmallIntegerField("基准年", null=True, blank=True)
    target_year = models.PositiveSmallIntegerField("目标年")
    aspirational = models.BooleanField("力争", default=False)
    position = models.PositiveIntegerField()

    objects = PlanPartQuerySet["Indicator"].as_manager()

    class Meta:
        ordering = ["plan", "position"]
        verbose_name = verbose_name_plural = "目标指标"
        constraints = [
            models.UniqueConstraint(fields=["plan", "code"], name="indicator_code_unique"),
            models.CheckConstraint(
                condition=Q(kind="qualitative") | Q(target_value__isnull=False, comparator__gt="", unit__gt=""),
                name="numeric_indicator_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(kind="growth_vs_baseline") | Q(baseline_year__isnull=False),
                name="growth_indicator_has_baseline",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_quantitative(self) -> bool:
        return self.kind != self.Kind.QUALITATIVE

    @property
    def target_display(self) -> str:
        if not self.is_quantitative or self.target_value is None:
            return "定性目标"
        value = format(self.target_value.normalize(), "f")
        symbol = {"gte": "≥", "gt": ">", "eq": "=", "lte": "≤"}[self.comparator]
        prefix = f"较{self.baseline_year}年增长" if self.kind == self.Kind.GROWTH_VS_BASELINE else ""
        return f"{prefix}{symbol}{value}{self.unit}"


class Rule(models.Model):
    """A rule the plan states, with machine-readable parameters (e.g. the 1万吨标准煤 purchase rule)."""

    plan = models.ForeignKey(Plan, models.CASCADE, related_name="rules")
    measure = models.ForeignKey(Measure, models.CASCADE, null=True, blank=True, related_name="rules")
    code = models.SlugField(max_length=60)
    kind = models.CharField(max_length=60)
    text = models.TextField("原文")
    parameters = models.JSONField("参数", default=dict)

    objects = PlanPartQuerySet["Rule"].as_manager()

    class Meta:
        ordering = ["plan", "code"]
        verbose_name = verbose_name_plural = "规则"
        constraints = [models.UniqueConstraint(fields=["plan", "code"], name="rule_code_unique")]

    def __str__(self) -> str:
        return self.code


class MeasureActionQuerySet(models.QuerySet["MeasureAction"]):
    def visible_to(self, user: Any) -> MeasureActionQuerySet:
        """A department sees its own drafts; every official sees submitted actions; nobody else sees any."""
        if not is_official(user):
            return self.none()
        plans = Plan.objects.visible_to(user)
        submitted = Q(status=MeasureAction.Status.SUBMITTED)
        own = Q(department__organisation__users=user) if user.organisation_id else Q(pk__in=[])
        return self.filter(Q(measure__plan__in=plans) & (submitted | own)).distinct()


class MeasureAction(models.Model):
    """落实举措: what a responsible department will do for a measure ("按职责分工制定本领域落实举措")."""

    class Status(models.TextChoices):
        DRAFT = "draft", "草稿"
        SUBMITTED = "submitted", "已报送"

    measure = models.ForeignKey(Measure, models.PROTECT, related_name="actions")
    department = models.ForeignKey(Department, models.PROTECT, related_name="measure_actions")
    title = models.CharField("举措名称", max_length=120)
    body = models.TextField("具体内容")
    due_on = models.DateField("计划完成时间", null=True, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = MeasureActionQuerySet.as_manager()

    class Meta:
        ordering = ["measure", "department", "-updated_at"]
        verbose_name = verbose_name_plural = "落实举措"

    def __str__(self) -> str:
        return self.title


class PlanImportQuerySet(models.QuerySet["PlanImport"]):
    def visible_to(self, user: Any) -> PlanImportQuerySet:
        """Imports are the task force's work: it sees all of them, nobody else sees any."""
        return self if is_task_force(user) else self.none()


class PlanImport(models.Model):
    """A plan document uploaded to be turned into a draft plan (huanxin.plans.importer), reviewed and published.

    The draft is kept as YAML text in the loader's format (with each item's `confidence` and `source` span in
    `text`); publishing loads it through the normal loader and links the resulting plan.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "待审阅"
        PUBLISHED = "published", "已发布"
        FAILED = "failed", "导入失败"

    filename = models.CharField("文件名", max_length=255)
    data = models.BinaryField("原始文件", editable=False)
    size = models.PositiveIntegerField("大小（字节）", default=0)
    sha256 = models.CharField(max_length=64)
    text = models.TextField("提取的正文", blank=True)
    draft_yaml = models.TextField("草稿（YAML）", blank=True)
    low_confidence = models.JSONField("需人工核对（导入时）", default=list, blank=True)
    warnings = models.JSONField("导入提示", default=list, blank=True)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.DRAFT)
    error_code = models.CharField("错误代码", max_length=40, blank=True)
    error_message = models.TextField("错误信息", blank=True)
    created_by = models.ForeignKey(User, models.PROTECT, related_name="+", verbose_name="上传人")
    created_at = models.DateTimeField("上传时间", auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_by = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    plan = models.ForeignKey(
        Plan, models.SET_NULL, null=True, blank=True, related_name="imports", verbose_name="发布的方案"
    )
    # The background job that read the document (plans/jobs.py). Unique, and written in the import's transaction,
    # so a job run again after its worker died finds its import instead of making a second one.
    job = models.OneToOneField(
        "jobs.Job", models.SET_NULL, null=True, blank=True, related_name="plan_import", verbose_name="后台任务"
    )

    objects = PlanImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "方案文件导入"

    def __str__(self) -> str:
        return self.filename
