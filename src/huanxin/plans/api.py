"""Read endpoints for plans, measures, departments and indicators. Everything goes through `visible_to`."""

# Annotations are evaluated here, not postponed: ninja resolves a paginated view's string annotations in its own
# module, where this module's types (Key, Search) are unknown.

import datetime as dt
from decimal import Decimal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from ninja.pagination import paginate

from huanxin.core.models import Department
from huanxin.core.schemas import Key, Pages, Search, answers
from huanxin.plans import selectors
from huanxin.plans.models import Indicator, Measure, Plan

router = Router(tags=["实施方案"])


class PlanOut(Schema):
    code: str
    title: str
    document_number: str
    issuer: str
    region_code: str
    issued_on: dt.date
    baseline_year: int
    target_year: int
    deadline: dt.date
    status: str

    @staticmethod
    def resolve_region_code(obj: Plan) -> str:
        return obj.region.code


class ResponsibilityOut(Schema):
    department_code: str
    department_name: str
    role: str
    clause: int


class IndicatorOut(Schema):
    code: str
    name: str
    statement: str
    kind: str
    comparator: str
    target_value: Decimal | None
    unit: str
    baseline_year: int | None
    target_year: int
    aspirational: bool
    measure_code: str | None

    @staticmethod
    def resolve_measure_code(obj: Indicator) -> str | None:
        return obj.measure.code if obj.measure_id else None  # type: ignore[union-attr]


class MeasureOut(Schema):
    code: str
    slug: str
    section: str
    number: str
    title: str
    text: str
    responsibilities: list[ResponsibilityOut]

    @staticmethod
    def resolve_section(obj: Measure) -> str:
        return obj.section.path

    @staticmethod
    def resolve_responsibilities(obj: Measure) -> list[ResponsibilityOut]:
        return [
            ResponsibilityOut(
                department_code=r.department.code,
                department_name=r.department.name,
                role=r.role,
                clause=clause.position,
            )
            for clause in obj.clauses.all()
            for r in clause.responsibilities.all()
        ]


class MeasureDetailOut(MeasureOut):
    indicators: list[IndicatorOut]

    @staticmethod
    def resolve_indicators(obj: Measure) -> list[Indicator]:
        return list(obj.indicators.all())


class DepartmentBase(Schema):
    code: str
    name: str
    short_name: str
    kind: str
    aliases: list[str]


class DepartmentOut(DepartmentBase):
    @staticmethod
    def resolve_aliases(obj: Department) -> list[str]:
        return [a.name for a in obj.aliases.all()]


class DepartmentTasksOut(DepartmentBase):
    lead_measures: list[str]
    cooperating_measures: list[str]
    indicators: list[str]


@router.get("/plans", response=answers(list[PlanOut], 401, 422), summary="方案列表")
@paginate(Pages)
def list_plans(request: HttpRequest):  # type: ignore[no-untyped-def]
    return Plan.objects.visible_to(request.user).select_related("region")


@router.get("/plans/{code}", response=answers(PlanOut, 401, 404, 422), summary="方案详情")
def get_plan(request: HttpRequest, code: Key) -> Plan:
    return get_object_or_404(Plan.objects.visible_to(request.user).select_related("region"), code=code)


@router.get("/plans/{code}/measures", response=answers(list[MeasureOut], 401, 404, 422), summary="方案的全部举措")
@paginate(Pages, page_size=100)
def list_measures(request: HttpRequest, code: Key, q: Search = ""):  # type: ignore[no-untyped-def]
    plan = get_object_or_404(Plan.objects.visible_to(request.user), code=code)
    if q:
        return selectors.search_measures(user=request.user, query=q).filter(plan=plan)
    return selectors.measures_with_departments(Measure.objects.visible_to(request.user).filter(plan=plan))


@router.get(
    "/plans/{code}/measures/{slug}",
    response=answers(MeasureDetailOut, 401, 404, 422),
    summary="举措详情（slug 如 2.2.2）",
)
def get_measure(request: HttpRequest, code: Key, slug: Key) -> Measure:
    qs = selectors.measures_with_departments(Measure.objects.visible_to(request.user)).prefetch_related("indicators")
    return get_object_or_404(qs, plan__code=code, slug=slug)


@router.get("/plans/{code}/indicators", response=answers(list[IndicatorOut], 401, 404, 422), summary="目标指标")
@paginate(Pages, page_size=100)
def list_indicators(request: HttpRequest, code: Key, kind: Key = "", department: Key = ""):  # type: ignore[no-untyped-def]
    plan = get_object_or_404(Plan.objects.visible_to(request.user), code=code)
    return selectors.indicator_list(user=request.user, plan=plan, kind=kind, department=department)


@router.get("/departments", response=answers(list[DepartmentOut], 401, 422), summary="责任单位")
@paginate(Pages, page_size=100)
def list_departments(request: HttpRequest, q: Search = ""):  # type: ignore[no-untyped-def]
    return selectors.department_list(user=request.user, query=q).prefetch_related("aliases")


@router.get(
    "/departments/{code}",
    response=answers(DepartmentTasksOut, 401, 404, 422),
    summary="责任单位及其任务（牵头 / 配合）",
)
def get_department(request: HttpRequest, code: Key) -> DepartmentTasksOut:
    department = get_object_or_404(Department.objects.visible_to(request.user).prefetch_related("aliases"), code=code)
    tasks = selectors.department_tasks(user=request.user, department=department)
    return DepartmentTasksOut(
        code=department.code,
        name=department.name,
        short_name=department.short_name,
        kind=department.kind,
        aliases=[a.name for a in department.aliases.all()],
        lead_measures=[m.code for m in tasks.lead],
        cooperating_measures=[m.code for m in tasks.cooperating],
        indicators=[i.code for i in tasks.indicators],
    )
