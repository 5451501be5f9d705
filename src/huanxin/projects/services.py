"""Writes of the projects app: one transaction each with its audit event; refusals are `ValidationError`s with a
stable code and a Chinese message, raised before anything is written."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from huanxin.core import audit, inputs
from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role, belongs_to, county_of, is_task_force
from huanxin.core.validators import clean_uscc
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.projects import reference, rules
from huanxin.projects.models import (
    Enterprise,
    EquipmentItem,
    InvestmentReport,
    Loan,
    Project,
    ProjectEvent,
    ProjectSequence,
    Recognition,
    Survey,
    department_fields,
)

MAX_FEN = 10**13  # 1000亿元 in fen: a project or an item larger than that is a typing error


def _invalid(message: str, code: str, field: str | None = None) -> ValidationError:
    return ValidationError(
        {field: ValidationError(message, code=code)} if field else ValidationError(message, code=code)
    )


def _may_manage_enterprises(actor: User, region: Region | None = None) -> None:
    """Enterprises are registered by the task force, department officers and county officers — a county officer
    only for its own county (`region`: the enterprise's), and not at all when its account names no county."""
    if not (is_task_force(actor) or actor.role in (Role.DEPARTMENT_OFFICER, Role.COUNTY_OFFICER)):
        raise PermissionDenied("企业名录由工作专班、行业主管部门和县区维护")
    if actor.role == Role.COUNTY_OFFICER and not is_task_force(actor):
        county = county_of(actor)
        if county is None:
            raise PermissionDenied("县区经办人账号未关联县区，不能维护企业名录")
        if region is not None and region.pk != county.pk:
            raise PermissionDenied(f"只能维护{county.name}的企业")


# --- enterprises ------------------------------------------------------------------------------------------


def clean_enterprise(*, uscc: str, name: str, region: Region | None, field: str, industry: str = "") -> dict[str, Any]:
    errors: dict[str, ValidationError] = {}
    cleaned: dict[str, Any] = {"name": name.strip(), "region": region, "field": field, "industry": industry.strip()}
    try:
        cleaned["uscc"] = clean_uscc(uscc.strip().upper())
    except ValidationError:
        errors["uscc"] = ValidationError(f"统一社会信用代码“{uscc}”无效（校验位不符或格式错误）", code="invalid_uscc")
    if not cleaned["name"]:
        errors["name"] = ValidationError("请填写企业名称", code="required")
    if region is None or region.parent_id is None:
        errors["region"] = ValidationError("请选择所在县区", code="invalid_region")
    if field not in reference.fields():
        errors["field"] = ValidationError(
            "领域应为工业、农业、建筑和市政、交通运输、教育、文旅、医疗之一", code="invalid_field"
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def register_enterprise(
    *,
    actor: User,
    uscc: str,
    name: str,
    region: Region | None,
    field: str,
    industry: str = "",
    above_designated_size: bool = False,
    organisation: Organisation | None = None,
) -> tuple[Enterprise, bool]:
    """Add an enterprise, or update the one with this credit code (an import run twice changes nothing)."""
    _may_manage_enterprises(actor)
    cleaned = clean_enterprise(uscc=uscc, name=name, region=region, field=field, industry=industry)
    county = county_of(actor)
    if county is not None and cleaned["region"] != county:
        raise PermissionDenied(f"只能登记{county.name}的企业")
    values = {**cleaned, "above_designated_size": above_designated_size}
    enterprise = Enterprise.objects.select_for_update().filter(uscc=cleaned["uscc"]).first()
    if enterprise is not None:  # an existing one is changed only by whoever may manage it where it is now
        _may_manage_enterprises(actor, enterprise.region)
    if enterprise is None:
        enterprise = Enterprise.objects.create(**values, organisation=organisation)
        audit.record(actor=actor, action="projects.enterprise_registered", target=enterprise, changes=_plain(values))
        return enterprise, True
    before = {k: getattr(enterprise, k) for k in values}
    if before == values and (organisation is None or enterprise.organisation_id == organisation.pk):
        return enterprise, False
    for key, value in values.items():
        setattr(enterprise, key, value)
    if organisation is not None:
        enterprise.organisation = organisation
    enterprise.save()
    audit.record(
        actor=actor,
        action="projects.enterprise_updated",
        target=enterprise,
        changes=audit.diff(_plain(before), _plain(values)),
    )
    return enterprise, False


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.code if isinstance(v, Region) else v) for k, v in values.items()}


@transaction.atomic
def add_recognition(*, actor: User, enterprise: Enterprise, level: str, year: int) -> Recognition:
    _may_manage_enterprises(actor, enterprise.region)
    if level not in Recognition.Level.values:
        raise _invalid("认定级别无效", "invalid_level", "level")
    if not 2010 <= year <= timezone.localdate().year:
        raise _invalid("认定年度无效", "invalid_year", "year")
    recognition, created = Recognition.objects.get_or_create(enterprise=enterprise, level=level, year=year)
    if created:
        audit.record(
            actor=actor, action="projects.recognition_added", target=recognition, changes={"level": level, "year": year}
        )
    return recognition


@transaction.atomic
def save_survey(
    *,
    actor: User,
    enterprise: Enterprise,
    year: int,
    digital_rd_tools: bool,
    nc_rate: Decimal,
    capacity: Decimal = Decimal(0),
    benchmark_capacity: Decimal = Decimal(0),
    capacity_unit: str = "",
) -> Survey:
    """The enterprise's own annual survey (or an official's entry of it)."""
    if actor.role == Role.ENTERPRISE:
        if not belongs_to(actor, enterprise.organisation_id):
            raise PermissionDenied("只能填报本企业的调查")
    else:
        _may_manage_enterprises(actor, enterprise.region)
    errors: dict[str, ValidationError] = {}
    if not 2020 <= year <= timezone.localdate().year:
        errors["year"] = ValidationError("调查年度无效", code="invalid_year")
    if not Decimal(0) <= nc_rate <= Decimal(100):
        errors["nc_rate"] = ValidationError("数控化率应在0到100之间", code="invalid_rate")
    if capacity < 0 or benchmark_capacity < 0:
        errors["capacity"] = ValidationError("产能不能为负数", code="negative_capacity")
    elif benchmark_capacity > capacity:
        errors["benchmark_capacity"] = ValidationError(
            "达到标杆水平的产能不能超过总产能", code="benchmark_above_capacity"
        )
    if errors:
        raise ValidationError(errors)
    values = {
        "digital_rd_tools": digital_rd_tools,
        "nc_rate": nc_rate,
        "capacity": capacity,
        "benchmark_capacity": benchmark_capacity,
        "capacity_unit": capacity_unit.strip(),
    }
    survey, created = Survey.objects.update_or_create(
        enterprise=enterprise, year=year, defaults={**values, "created_by": actor}
    )
    audit.record(
        actor=actor,
        action="projects.survey_saved",
        target=survey,
        changes={k: str(v) for k, v in values.items()} | {"year": year, "created": created},
    )
    return survey


# --- projects ---------------------------------------------------------------------------------------------

PROJECT_FIELDS = (
    "title",
    "summary",
    "field",
    "total_investment_fen",
    "equipment_investment_fen",
    "starts_on",
    "ends_on",
    "annual_energy_tce",
    "seeks_central_funds",
    "seeks_loan",
    "loan_wanted_fen",
)


PROJECT_DATES_MESSAGE = f"日期应在{inputs.EARLIEST.year}年至{inputs.LATEST.year}年之间"
MAX_QUANTITY = 1_000_000  # one line of an equipment list: far above any real order, far below the column's top
MAX_TCE = Decimal(10) ** 10  # the column holds 12 digits with 2 places


def _clean_project(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, ValidationError] = {}
    values["title"] = (values.get("title") or "").strip()
    if not values["title"]:
        errors["title"] = ValidationError("请填写项目名称", code="required")
    if values.get("field") not in reference.fields():
        errors["field"] = ValidationError("请选择项目所属领域", code="invalid_field")
    total, equipment = values.get("total_investment_fen"), values.get("equipment_investment_fen")
    if total is None or total <= 0:
        errors["total_investment_fen"] = ValidationError("总投资应大于0", code="invalid_investment")
    elif total > MAX_FEN:
        errors["total_investment_fen"] = ValidationError("总投资超过1000亿元，请核对单位", code="investment_too_large")
    if equipment is None or equipment < 0:
        errors["equipment_investment_fen"] = ValidationError("设备投资不能为负数", code="negative_investment")
    elif total is not None and total > 0 and equipment > total:
        errors["equipment_investment_fen"] = ValidationError("设备投资不能超过总投资", code="equipment_above_total")
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is None:
        errors["starts_on"] = ValidationError("请填写开工日期", code="required")
    elif not inputs.EARLIEST <= starts <= inputs.LATEST:
        errors["starts_on"] = ValidationError(PROJECT_DATES_MESSAGE, code="date_out_of_range")
    if ends is None:
        errors["ends_on"] = ValidationError("请填写竣工日期", code="required")
    elif not inputs.EARLIEST <= ends <= inputs.LATEST:
        errors["ends_on"] = ValidationError(PROJECT_DATES_MESSAGE, code="date_out_of_range")
    elif starts is not None and ends < starts:
        errors["ends_on"] = ValidationError("竣工日期不能早于开工日期", code="dates_reversed")
    tce = values.get("annual_energy_tce") or Decimal(0)
    if tce < 0:
        errors["annual_energy_tce"] = ValidationError("年综合能耗不能为负数", code="negative_energy")
    elif tce >= MAX_TCE:
        errors["annual_energy_tce"] = ValidationError("年综合能耗过大，请核对单位（吨标准煤）", code="energy_too_large")
    values["annual_energy_tce"] = tce
    wanted = values.get("loan_wanted_fen") or 0
    if wanted < 0:
        errors["loan_wanted_fen"] = ValidationError("拟融资额不能为负数", code="negative_loan")
    values["loan_wanted_fen"] = wanted if values.get("seeks_loan") else 0
    if errors:
        raise ValidationError(errors)
    return values


def _own_enterprise(actor: User, enterprise: Enterprise) -> None:
    if (
        actor.role != Role.ENTERPRISE
        or enterprise.organisation_id is None
        or enterprise.organisation_id != actor.organisation_id
    ):
        raise PermissionDenied("只能申报和修改本企业的项目")


def _event(project: Project, actor: User, note: str = "") -> None:
    ProjectEvent.objects.create(project=project, status=project.status, actor=actor, note=note)


@transaction.atomic
def save_project(
    *, actor: User, enterprise: Enterprise, project: Project | None = None, token: str = "", **fields: Any
) -> Project:
    """Declare a project (a draft) or change a draft or returned one."""
    _own_enterprise(actor, enterprise)
    if unknown := set(fields) - set(PROJECT_FIELDS):
        raise TypeError(f"unknown project fields {unknown}")
    if project is None and token and (existing := Project.objects.filter(created_by=actor, token=token).first()):
        return existing
    if project is not None:
        project = Project.objects.select_for_update().get(pk=project.pk)
        if project.enterprise_id != enterprise.pk:
            raise PermissionDenied("只能修改本企业的项目")
        if project.status not in Project.EDITABLE:
            raise _invalid(f"项目{project.get_status_display()}，不能修改", "not_editable")
        before = {k: getattr(project, k) for k in PROJECT_FIELDS}
        values = _clean_project({**before, **fields})
    else:
        before = {}
        values = _clean_project({"field": enterprise.field, **fields})
    if project is None:
        year = timezone.localdate().year
        project = Project(
            code=f"XM{year}{_draw(year):06d}",
            enterprise=enterprise,
            region=enterprise.region,
            created_by=actor,
            token=token,
        )
    for key, value in values.items():
        setattr(project, key, value)
    project.save()
    after = {k: getattr(project, k) for k in PROJECT_FIELDS}
    audit.record(
        actor=actor,
        action="projects.project_saved" if before else "projects.project_declared",
        target=project,
        changes=audit.diff(_strs(before), _strs(after)) if before else _strs(after),
    )
    if not before:
        _event(project, actor, "创建草稿")
    return project


def _strs(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal | dt.date) else v) for k, v in values.items()}


def _draw(year: int) -> int:
    if not ProjectSequence.objects.filter(year=year).update(last=F("last") + 1):
        ProjectSequence.objects.bulk_create([ProjectSequence(year=year)], ignore_conflicts=True)
        ProjectSequence.objects.filter(year=year).update(last=F("last") + 1)
    return ProjectSequence.objects.values_list("last", flat=True).get(year=year)


def clean_item(*, name: str, quantity: int, unit_price_fen: int, category: str, grade: str) -> dict[str, Any]:
    errors: dict[str, ValidationError] = {}
    if not name.strip():
        errors["name"] = ValidationError("请填写设备名称", code="required")
    if not 1 <= quantity <= MAX_QUANTITY:
        errors["quantity"] = ValidationError(f"数量应在1到{MAX_QUANTITY}之间", code="invalid_quantity")
    if unit_price_fen < 0:
        errors["unit_price_fen"] = ValidationError("单价不能为负数", code="negative_price")
    elif unit_price_fen > MAX_FEN:
        errors["unit_price_fen"] = ValidationError("单价过大，请核对单位", code="price_too_large")
    kind = reference.efficiency().get(category)
    if kind is None:
        errors["category"] = ValidationError(f"未知的产品类别“{category}”", code="unknown_category")
    elif kind.labelled and grade not in kind.grades:
        errors["grade"] = ValidationError(
            f"未知的能效等级“{grade}”：{kind.name}（{kind.standard}）的等级为{'、'.join(kind.grades)}",
            code="unknown_grade",
        )
    elif not kind.labelled and grade:
        errors["grade"] = ValidationError(f"{kind.name}没有能效等级，请留空", code="unknown_grade")
    if errors:
        raise ValidationError(errors)
    return {"standard": kind.standard if kind else ""}


@transaction.atomic
def save_item(
    *,
    actor: User,
    project: Project,
    name: str,
    quantity: int,
    unit_price_fen: int,
    category: str,
    grade: str = "",
    model: str = "",
    item: EquipmentItem | None = None,
) -> EquipmentItem:
    """Add a piece of equipment to the list, or change one (while the project is a draft or returned)."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    _own_enterprise(actor, project.enterprise)
    if project.status not in Project.EDITABLE:
        raise _invalid(f"项目{project.get_status_display()}，不能修改设备清单", "not_editable")
    extra = clean_item(name=name, quantity=quantity, unit_price_fen=unit_price_fen, category=category, grade=grade)
    values = {
        "name": name.strip(),
        "model": model.strip(),
        "quantity": quantity,
        "unit_price_fen": unit_price_fen,
        "category": category,
        "grade": grade,
        **extra,
    }
    if item is None:
        item = EquipmentItem.objects.create(project=project, **values)
        action = "projects.item_added"
    else:
        if item.project_id != project.pk:
            raise PermissionDenied
        for key, value in values.items():
            setattr(item, key, value)
        item.save()
        action = "projects.item_changed"
    audit.record(actor=actor, action=action, target=project, changes={"item": item.pk, **values})
    return item


@transaction.atomic
def remove_item(*, actor: User, item: EquipmentItem) -> None:
    project = Project.objects.select_for_update().get(pk=item.project_id)
    _own_enterprise(actor, project.enterprise)
    if project.status not in Project.EDITABLE:
        raise _invalid(f"项目{project.get_status_display()}，不能修改设备清单", "not_editable")
    audit.record(
        actor=actor, action="projects.item_removed", target=project, changes={"item": item.pk, "name": item.name}
    )
    item.delete()  # a draft's line, not history: the audit event keeps what it was


@transaction.atomic
def submit_project(*, actor: User, project: Project) -> Project:
    project = Project.objects.select_for_update().get(pk=project.pk)
    _own_enterprise(actor, project.enterprise)
    if project.status not in Project.EDITABLE:
        raise _invalid(f"项目{project.get_status_display()}，不能再次提交", "invalid_transition")
    items = list(project.items.all())
    if not items:
        raise _invalid("请先填写设备清单", "no_items")
    listed = sum(i.amount_fen for i in items)
    if listed > project.equipment_investment_fen:
        wan = Decimal(10**6)  # fen in a 万元
        listed_wan, budget_wan = Decimal(listed) / wan, Decimal(project.equipment_investment_fen) / wan
        raise _invalid(
            f"设备清单合计{listed_wan:.2f}万元，超过设备投资{budget_wan:.2f}万元", "items_above_equipment_investment"
        )
    project.status, project.submitted_at = Project.Status.SUBMITTED, timezone.now()
    project.save(update_fields=["status", "submitted_at"])
    flagged = rules.flags(project)
    _event(project, actor, f"提交审核（{len(flagged)}项设备低于节能水平）" if flagged else "提交审核")
    audit.record(actor=actor, action="projects.project_submitted", target=project, changes={"flags": len(flagged)})
    return project


def _reviewer_stage(actor: User, project: Project) -> str:
    """Which review the actor may do now: the county's, then the field department's."""
    if project.status == Project.Status.SUBMITTED:
        county = county_of(actor)
        if county is None or county.pk != project.region_id:
            raise PermissionDenied(f"该项目待{project.region.name}审核")
        return "county"
    if project.status == Project.Status.COUNTY_APPROVED:
        if project.field not in department_fields(actor):
            department = project.reviewing_department
            raise PermissionDenied(f"该项目待{department.name if department else '行业主管部门'}审核")
        return "city"
    raise _invalid(f"项目{project.get_status_display()}，不在审核中", "invalid_transition")


@transaction.atomic
def review_project(*, actor: User, project: Project, decision: str, reason: str = "") -> Project:
    """approve / return (with a reason) / reject (with a reason). A project with equipment below the
    energy-saving level is not approved until the list is fixed or the requirement explicitly exempted."""
    project = Project.objects.select_for_update().select_related("region").get(pk=project.pk)
    stage = _reviewer_stage(actor, project)
    reason = reason.strip()
    if decision == "approve":
        flagged = rules.flags(project)
        if flagged and not project.exemption:
            raise _invalid(
                f"{len(flagged)}项设备低于节能水平：{flagged[0].reason}。请退回企业修改，或说明理由予以豁免",
                "below_energy_saving",
            )
        if stage == "county":
            project.status = Project.Status.COUNTY_APPROVED
        else:
            project.status, project.approved_at = Project.Status.APPROVED, timezone.now()
    elif decision in ("return", "reject"):
        if not reason:
            raise _invalid("退回或不予入库须说明理由", "reason_required", "reason")
        project.status = Project.Status.RETURNED if decision == "return" else Project.Status.REJECTED
    else:
        raise _invalid("审核意见无效", "invalid_decision")
    project.save(update_fields=["status", "approved_at"])
    label = "县区" if stage == "county" else "市级"
    _event(project, actor, f"{label}审核：{reason}" if reason else f"{label}审核通过")
    audit.record(
        actor=actor,
        action=f"projects.project_{decision}",
        target=project,
        changes={"stage": stage, "status": project.status, **({"reason": reason} if reason else {})},
    )
    return project


@transaction.atomic
def exempt_project(*, actor: User, project: Project, reason: str) -> Project:
    """The reviewer in charge exempts the project from the energy-saving level, with a reason on record."""
    project = Project.objects.select_for_update().select_related("region").get(pk=project.pk)
    _reviewer_stage(actor, project)
    if len(reason.strip()) < 6:
        raise _invalid("请写明豁免理由（如：无达到节能水平的同类产品）", "reason_required", "reason")
    project.exemption, project.exempted_by = reason.strip(), actor
    project.save(update_fields=["exemption", "exempted_by"])
    _event(project, actor, f"豁免能效要求：{reason.strip()}")
    audit.record(actor=actor, action="projects.project_exempted", target=project, changes={"reason": reason.strip()})
    return project


# --- financing and investment ------------------------------------------------------------------------------

FINANCE_DEPARTMENTS = {"drc", "pbc", "finance", "nfra"}


def interest_subsidy_fen(*, amount_fen: int, rate_bp: int, term_months: int, granted_on: dt.date) -> int:
    """The fiscal interest subsidy under the parameters of the grant year: `points` a year on the amount (never
    more than the loan's own rate), for at most `subsidy_years`; simple interest, half-up to the fen."""
    params = reference.financing().get(granted_on.year)
    if params is None:
        return 0
    points = min(params.interest_subsidy_points, Decimal(rate_bp) / 100)
    months = min(term_months, params.subsidy_years * 12)
    value = Decimal(amount_fen) * points / 100 * months / 12
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@transaction.atomic
def record_loan(
    *,
    actor: User,
    project: Project,
    bank: str,
    amount_fen: int,
    rate_bp: int,
    term_months: int,
    granted_on: dt.date,
    relending: bool = False,
) -> Loan:
    department = getattr(actor, "department", None)
    if not (
        (actor.role == Role.ENTERPRISE and belongs_to(actor, project.enterprise.organisation_id))
        or is_task_force(actor)
        or (actor.role == Role.DEPARTMENT_OFFICER and department is not None and department.code in FINANCE_DEPARTMENTS)
    ):
        raise PermissionDenied("贷款由企业本身或发改、财政、人民银行、金融监管部门登记")
    if project.status != Project.Status.APPROVED:
        raise _invalid("只有已入库的项目可以登记贷款", "project_not_approved")
    errors: dict[str, ValidationError] = {}
    if not bank.strip():
        errors["bank"] = ValidationError("请填写贷款银行", code="required")
    if not 0 < amount_fen <= inputs.MAX_FEN:
        errors["amount_fen"] = ValidationError("贷款金额应大于0且不超过1万亿元", code="invalid_amount")
    if not 1 <= rate_bp <= 2400:
        errors["rate_bp"] = ValidationError("年利率应在0.01%到24%之间", code="invalid_rate")
    if not 1 <= term_months <= 360:
        errors["term_months"] = ValidationError("期限应在1到360个月之间", code="invalid_term")
    if granted_on > timezone.localdate():
        errors["granted_on"] = ValidationError("放款日期不能晚于今天", code="date_in_future")
    if errors:
        raise ValidationError(errors)
    subsidy = interest_subsidy_fen(
        amount_fen=amount_fen, rate_bp=rate_bp, term_months=term_months, granted_on=granted_on
    )
    loan = Loan.objects.create(
        project=project,
        bank=bank.strip(),
        amount_fen=amount_fen,
        rate_bp=rate_bp,
        term_months=term_months,
        relending=relending,
        granted_on=granted_on,
        interest_subsidy_fen=subsidy,
        created_by=actor,
    )
    audit.record(
        actor=actor,
        action="projects.loan_recorded",
        target=project,
        changes={"bank": loan.bank, "amount_fen": amount_fen, "rate_bp": rate_bp, "subsidy_fen": subsidy},
    )
    return loan


@transaction.atomic
def report_investment(
    *,
    actor: User,
    project: Project,
    period: str,
    completed_fen: int,
    equipment_fen: int,
    note: str = "",
    today: dt.date | None = None,
) -> InvestmentReport:
    """The investment an approved project completed in a quarter (a second report for the quarter replaces it)."""
    project = Project.objects.select_for_update().get(pk=project.pk)
    _own_enterprise(actor, project.enterprise)
    if project.status != Project.Status.APPROVED:
        raise _invalid("只有已入库的项目填报投资完成情况", "project_not_approved")
    try:
        ref = PeriodRef.parse(period)
    except ValueError:
        raise _invalid(f"季度“{period}”格式应为 2025-Q2", "invalid_period", "period") from None
    today = today or timezone.localdate()
    if ref.frequency != Frequency.QUARTER:
        raise _invalid("投资完成情况按季度填报", "invalid_period", "period")
    if ref.start > today:
        raise _invalid("不能填报尚未开始的季度", "period_in_future", "period")
    errors: dict[str, ValidationError] = {}
    if completed_fen < 0:
        errors["completed_fen"] = ValidationError("完成投资不能为负数", code="negative_investment")
    if equipment_fen < 0:
        errors["equipment_fen"] = ValidationError("设备投资不能为负数", code="negative_investment")
    elif equipment_fen > completed_fen:
        errors["equipment_fen"] = ValidationError("设备投资不能超过完成投资", code="equipment_above_total")
    if errors:
        raise ValidationError(errors)
    others = project.reports.exclude(period=ref.code).aggregate(total=Sum("completed_fen"))["total"] or 0
    if others + completed_fen > project.total_investment_fen:
        raise _invalid("累计完成投资将超过项目总投资，请核对", "above_total_investment", "completed_fen")
    report, created = InvestmentReport.objects.update_or_create(
        project=project,
        period=ref.code,
        defaults={
            "completed_fen": completed_fen,
            "equipment_fen": equipment_fen,
            "note": note.strip()[:200],
            "created_by": actor,
        },
    )
    audit.record(
        actor=actor,
        action="projects.investment_reported",
        target=project,
        changes={
            "period": ref.code,
            "completed_fen": completed_fen,
            "equipment_fen": equipment_fen,
            "created": created,
        },
    )
    return report
