"""Projects API (/api/v1/projects/…): an enterprise's own system declares projects, adds equipment and submits
(API token); officials read the library (scoped like the pages). Every item comes back with its
energy-efficiency finding. Refusals are 422 with the service's stable code."""

# Annotations are evaluated here, not postponed: ninja resolves a paginated view's string annotations in its own
# module, where this module's types (Key, Search) are unknown.

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from huanxin.core.schemas import Amount2, Count, Day, Fen, Key, Line, Pages, RequiredLine, Text, answers
from huanxin.core.views import actor, api_refusal
from huanxin.projects import rules, services
from huanxin.projects.models import Enterprise, Project

router = Router(tags=["设备更新项目"])


class EquipmentItemOut(Schema):
    id: int
    name: str
    model: str
    quantity: int
    unit_price_fen: int
    category: str
    grade: str
    standard: str
    below_energy_saving: str  # the reason, '' when the item meets the level or the rule does not apply


class ProjectOut(Schema):
    code: str
    title: str
    enterprise: str
    uscc: str
    region: str
    field: str
    status: str
    status_label: str
    total_investment_fen: int
    equipment_investment_fen: int
    starts_on: dt.date
    ends_on: dt.date
    annual_energy_tce: Decimal
    seeks_central_funds: bool
    seeks_loan: bool
    loan_wanted_fen: int
    rule_applies: bool
    exemption: str
    items: list[EquipmentItemOut]


def _out(project: Project) -> ProjectOut:
    applies = rules.applicability(project)
    reasons = {f.item.pk: f.reason for f in rules.flags(project)} if applies.applies else {}
    return ProjectOut(
        code=project.code,
        title=project.title,
        enterprise=project.enterprise.name,
        uscc=project.enterprise.uscc,
        region=project.region.code,
        field=project.field,
        status=project.status,
        status_label=project.get_status_display(),
        total_investment_fen=project.total_investment_fen,
        equipment_investment_fen=project.equipment_investment_fen,
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        annual_energy_tce=project.annual_energy_tce,
        seeks_central_funds=project.seeks_central_funds,
        seeks_loan=project.seeks_loan,
        loan_wanted_fen=project.loan_wanted_fen,
        rule_applies=applies.applies,
        exemption=project.exemption,
        items=[
            EquipmentItemOut(
                id=i.pk,
                name=i.name,
                model=i.model,
                quantity=i.quantity,
                unit_price_fen=i.unit_price_fen,
                category=i.category,
                grade=i.grade,
                standard=i.standard,
                below_energy_saving=reasons.get(i.pk, ""),
            )
            for i in project.items.all()
        ],
    )


class ProjectRow(Schema):
    code: str
    title: str
    region: str
    field: str
    status: str
    equipment_investment_fen: int


@router.get("/projects", response=answers(list[ProjectRow], 401, 422), summary="设备更新项目（按权限）")
@paginate(Pages, page_size=50)
def list_projects(request: HttpRequest, status: Key = "", field: Key = ""):  # type: ignore[no-untyped-def]
    qs = Project.objects.visible_to(request.user).select_related("region")
    if status:
        qs = qs.filter(status=status)
    if field:
        qs = qs.filter(field=field)
    return [
        ProjectRow(
            code=p.code,
            title=p.title,
            region=p.region.code,
            field=p.field,
            status=p.status,
            equipment_investment_fen=p.equipment_investment_fen,
        )
        for p in qs
    ]


@router.get("/projects/{code}", response=answers(ProjectOut, 401, 404, 422), summary="一个项目及其设备清单和能效核查")
def get_project(request: HttpRequest, code: Key) -> ProjectOut:
    return _out(get_object_or_404(Project.objects.visible_to(request.user), code=code))


class ProjectIn(Schema):
    title: RequiredLine = Field(max_length=120)
    field: RequiredLine = Field(max_length=20)
    total_investment_fen: Fen
    equipment_investment_fen: Fen
    starts_on: Day
    ends_on: Day
    annual_energy_tce: Amount2 = Decimal(0)
    seeks_central_funds: bool = False
    seeks_loan: bool = False
    loan_wanted_fen: Fen = 0
    summary: Text = Field("", max_length=2000)


def _enterprise(request: HttpRequest) -> Enterprise:
    user = actor(request)
    enterprise = (
        Enterprise.objects.filter(organisation_id=user.organisation_id).first() if user.organisation_id else None
    )
    if enterprise is None:
        raise PermissionDenied("项目由企业申报：该账号的组织不在企业名录中")
    return enterprise


@router.post(
    "/projects",
    response=answers({201: ProjectOut}, 400, 401, 403, 422),
    summary="申报项目（企业；Idempotency-Key 防止重复）",
)
def declare(request: HttpRequest, payload: ProjectIn) -> Status:
    try:
        project = services.save_project(
            actor=actor(request),
            enterprise=_enterprise(request),
            token=request.headers.get("Idempotency-Key", "").strip()[:64],
            **payload.dict(),
        )
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(201, _out(project))


class EquipmentItemIn(Schema):
    name: RequiredLine = Field(max_length=80)
    quantity: Count
    unit_price_fen: Fen
    category: RequiredLine = Field(max_length=40)
    grade: Line = Field("", max_length=20)
    model: Line = Field("", max_length=80)


@router.post("/projects/{code}/items", response=answers({201: ProjectOut}, 400, 401, 403, 404, 422), summary="添加设备")
def add_item(request: HttpRequest, code: Key, payload: EquipmentItemIn) -> Status:
    project = get_object_or_404(Project.objects.visible_to(request.user), code=code)
    try:
        services.save_item(actor=actor(request), project=project, **payload.dict())
    except ValidationError as exc:
        raise api_refusal(exc) from exc
    return Status(201, _out(project))


@router.post("/projects/{code}/submit", response=answers(ProjectOut, 401, 403, 404, 422), summary="提交县区审核")
def submit(request: HttpRequest, code: Key) -> ProjectOut:
    project = get_object_or_404(Project.objects.visible_to(request.user), code=code)
    try:
        return _out(services.submit_project(actor=actor(request), project=project))
    except ValidationError as exc:
        raise api_refusal(exc) from exc
