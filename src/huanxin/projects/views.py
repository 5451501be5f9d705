"""Pages of the project library: an enterprise declares and follows its projects; the county, then the field's
city department, review them with the energy-efficiency flags in view; officials browse the approved library,
export it, and the 银企对接 list; enterprises, their recognitions and surveys."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import inputs, uploads
from huanxin.core.exports import XLSX, attachment_response, xlsx_response
from huanxin.core.models import Region
from huanxin.core.roles import Role, county_of, is_official, reads_everything
from huanxin.core.views import actor, form_errors, get_visible_or_404
from huanxin.projects import excel, reference, rules, services
from huanxin.projects import jobs as project_jobs
from huanxin.projects.models import (
    Enterprise,
    EquipmentItem,
    Project,
    Recognition,
    Survey,
    department_fields,
)

PER_PAGE = 30
WAN = Decimal(10**6)  # fen in a 万元


def _wan(text: str | None, field: str) -> int:
    """万元 as typed ("1250.5") to integer fen, exactly; at most four decimals (to the 元… the 分 is 6 digits)."""
    if not (text or "").strip():
        raise ValidationError({field: ValidationError("请填写金额（万元）", code="required")})
    # The sign is the service's to judge: it names the field ("总投资应大于0", "设备投资不能为负数").
    value = inputs.decimal(
        text, label="金额（万元）", max_digits=14, decimal_places=6, minimum=None, field=field, code="invalid_amount"
    )
    return int(value * WAN)


def _yuan(text: str | None, field: str) -> int:
    if not (text or "").strip():
        raise ValidationError({field: ValidationError("请填写金额（元）", code="invalid_amount")})
    return inputs.yuan_to_fen(text, label="金额（元）", field=field)


def _decimal(text: str | None, field: str, default: str = "0") -> Decimal:
    """A number for a DecimalField of up to 14 digits and 2 places (capacities, energy, rates); the service bounds it
    further."""
    return inputs.decimal(
        (text or "").strip() or default, label="数值", max_digits=14, decimal_places=2, minimum=None, field=field
    )


def _date(text: str | None) -> dt.date | None:
    return inputs.filter_date(text)


def _int(text: str | None) -> int:
    return inputs.lenient_int(text)


def _my_enterprise(user: Any) -> Enterprise | None:
    if getattr(user, "role", None) != Role.ENTERPRISE or not getattr(user, "organisation_id", None):
        return None
    return Enterprise.objects.filter(organisation_id=user.organisation_id).first()


# --- the list and the library -----------------------------------------------------------------------------

EXPORT_HEADERS = [
    "项目编号",
    "项目名称",
    "企业",
    "统一社会信用代码",
    "县区",
    "领域",
    "总投资（万元）",
    "设备投资（万元）",
    "开工",
    "竣工",
    "年综合能耗（吨标煤）",
    "申请中央资金",
    "融资需求（万元）",
    "状态",
    "累计完成投资（万元）",
]


def project_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    filters = {k: request.GET.get(k, "").strip() for k in ("status", "field", "region", "q", "loan")}
    qs: QuerySet[Project] = (
        Project.objects.visible_to(user)
        .select_related("enterprise", "region")
        .annotate(completed=Sum("reports__completed_fen"))
    )
    if filters["status"]:
        qs = qs.filter(status=filters["status"])
    if filters["field"]:
        qs = qs.filter(field=filters["field"])
    if filters["region"]:
        qs = qs.filter(region__code=filters["region"])
    if filters["loan"]:
        qs = qs.filter(seeks_loan=True)
    if filters["q"]:
        qs = qs.filter(
            Q(title__icontains=filters["q"])
            | Q(code__icontains=filters["q"])
            | Q(enterprise__name__icontains=filters["q"])
        )
    if request.GET.get("format") == "xlsx":
        rows = (
            [
                p.code,
                p.title,
                p.enterprise.name,
                p.enterprise.uscc,
                p.region.name,
                p.field_label,
                float(p.total_investment_fen / WAN),
                float(p.equipment_investment_fen / WAN),
                p.starts_on,
                p.ends_on,
                float(p.annual_energy_tce),
                "是" if p.seeks_central_funds else "否",
                float(p.loan_wanted_fen / WAN),
                p.get_status_display(),
                float((getattr(p, "completed", 0) or 0) / WAN),
            ]
            for p in qs.order_by("code")
        )
        return xlsx_response(filename="设备更新项目库.xlsx", title="项目库", headers=EXPORT_HEADERS, rows=rows)
    totals = qs.aggregate(
        n=Count("pk", distinct=True), total=Sum("total_investment_fen"), equipment=Sum("equipment_investment_fen")
    )
    return render(
        request,
        "projects/list.html",
        {
            "page": Paginator(qs.order_by("-created_at"), PER_PAGE).get_page(request.GET.get("page")),
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "statuses": Project.Status.choices,
            "fields": reference.field_choices(),
            "counties": Region.objects.filter(parent__isnull=False).order_by("code") if is_official(user) else None,
            "enterprise": _my_enterprise(user),
            "totals": totals,
            "by_field": _by_field(user) if is_official(user) else [],
            "field_names": {f.code: f.name for f in reference.fields().values()},
        },
    )


def _by_field(user: Any) -> list[dict[str, Any]]:
    """Approved projects per field: how many, planned equipment investment, and equipment investment completed
    this year (the library's side of the +25% equipment-investment target; the official figure is reported)."""
    from huanxin.projects.models import InvestmentReport

    year = str(timezone.localdate().year)
    approved = Project.objects.visible_to(user).filter(status=Project.Status.APPROVED)
    done = dict(
        InvestmentReport.objects.filter(project__in=approved, period__startswith=year)
        .values_list("project__field")
        .annotate(total=Sum("equipment_fen"))
    )
    rows = approved.values("field").annotate(n=Count("pk"), equipment=Sum("equipment_investment_fen")).order_by("field")
    return [{**row, "done": done.get(row["field"], 0)} for row in rows]


def financing(request: HttpRequest) -> HttpResponse:
    """银企对接: approved projects seeking loans (the list banks receive) and the loans granted."""
    if not is_official(request.user):
        raise PermissionDenied("银企对接清单仅供政府工作人员使用")
    projects = (
        Project.objects.visible_to(request.user)
        .filter(status=Project.Status.APPROVED, seeks_loan=True)
        .select_related("enterprise", "region")
        .annotate(granted=Sum("loans__amount_fen"))
        .order_by("region__code", "code")
    )
    if request.GET.get("format") == "xlsx":
        headers = [
            "项目编号",
            "项目名称",
            "企业",
            "统一社会信用代码",
            "县区",
            "领域",
            "设备投资（万元）",
            "融资需求（万元）",
            "已获贷款（万元）",
            "申请中央资金",
        ]
        rows = (
            [
                p.code,
                p.title,
                p.enterprise.name,
                p.enterprise.uscc,
                p.region.name,
                p.field_label,
                float(p.equipment_investment_fen / WAN),
                float(p.loan_wanted_fen / WAN),
                float((p.granted or 0) / WAN),
                "是" if p.seeks_central_funds else "否",
            ]
            for p in projects
        )
        return xlsx_response(filename="银企对接项目清单.xlsx", title="银企对接", headers=headers, rows=rows)
    from huanxin.projects.models import Loan

    loans = Loan.objects.visible_to(request.user).select_related("project__enterprise").order_by("-granted_on")
    return render(
        request,
        "projects/financing.html",
        {
            "projects": projects,
            "loans": loans[:100],
            "loan_totals": loans.aggregate(
                n=Count("pk"), amount=Sum("amount_fen"), subsidy=Sum("interest_subsidy_fen")
            ),
            "years": sorted(reference.financing().values(), key=lambda y: y.year),
        },
    )


# --- declaring and editing --------------------------------------------------------------------------------


def _project_values(post: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": post.get("title", ""),
        "summary": post.get("summary", "").strip(),
        "field": post.get("field", ""),
        "starts_on": _date(post.get("starts_on")),
        "ends_on": _date(post.get("ends_on")),
        "seeks_central_funds": post.get("seeks_central_funds") == "on",
        "seeks_loan": post.get("seeks_loan") == "on",
    }
    errors: dict[str, Any] = {}
    for name, key in (
        ("total_investment", "total_investment_fen"),
        ("equipment_investment", "equipment_investment_fen"),
    ):
        try:
            values[key] = _wan(post.get(name), key)
        except ValidationError as exc:
            errors.update(exc.error_dict)
    try:
        values["annual_energy_tce"] = _decimal(post.get("annual_energy_tce"), "annual_energy_tce")
        values["loan_wanted_fen"] = _wan(post.get("loan_wanted"), "loan_wanted_fen") if values["seeks_loan"] else 0
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if errors:
        raise ValidationError(errors)
    return values


def project_form(request: HttpRequest, code: str | None = None) -> HttpResponse:
    user = actor(request)
    enterprise = _my_enterprise(user)
    if enterprise is None:
        raise PermissionDenied("项目由企业申报：请使用企业账号登录（企业需先列入企业名录）")
    project = get_visible_or_404(Project.objects.visible_to(user), code=code) if code else None
    errors: dict[str, str] = {}
    form: dict[str, Any]
    if request.method == "POST":
        form = request.POST.dict()
        try:
            values = _project_values(request.POST)
            project = services.save_project(
                actor=user,
                enterprise=enterprise,
                project=project,
                token=form.get("token", "") if project is None else "",
                **values,
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = {k.removesuffix("_fen"): v for k, v in form_errors(exc).items()}
        else:
            messages.success(request, "项目已保存为草稿；请填写设备清单后提交审核" if code is None else "项目已保存")
            return redirect("projects:detail", code=project.code)
    elif project is not None:
        form = {
            "title": project.title,
            "summary": project.summary,
            "field": project.field,
            "total_investment": project.total_investment_fen / WAN,
            "equipment_investment": project.equipment_investment_fen / WAN,
            "starts_on": project.starts_on.isoformat(),
            "ends_on": project.ends_on.isoformat(),
            "annual_energy_tce": project.annual_energy_tce,
            "seeks_central_funds": project.seeks_central_funds,
            "seeks_loan": project.seeks_loan,
            "loan_wanted": project.loan_wanted_fen / WAN if project.seeks_loan else "",
        }
    else:
        form = {"field": enterprise.field, "token": uuid.uuid4().hex}
    return render(
        request,
        "projects/form.html",
        {
            "form": form,
            "errors": errors,
            "project": project,
            "enterprise": enterprise,
            "fields": reference.field_choices(),
        },
    )


def project_detail(request: HttpRequest, code: str) -> HttpResponse:
    user = request.user
    project = get_visible_or_404(
        Project.objects.visible_to(user).select_related("enterprise", "region", "exempted_by"), code=code
    )
    items = list(project.items.all())
    applies = rules.applicability(project)
    reasons = {f.item.pk: f.reason for f in rules.flags(project)} if applies.applies else {}
    county = county_of(user)
    may_review = (
        project.status == Project.Status.SUBMITTED and county is not None and county.pk == project.region_id
    ) or (project.status == Project.Status.COUNTY_APPROVED and project.field in department_fields(user))
    own = _my_enterprise(user) == project.enterprise
    reports = list(project.reports.all())
    completed = sum(r.completed_fen for r in reports)
    today = timezone.localdate()
    return render(
        request,
        "projects/detail.html",
        {
            "project": project,
            "items": [(item, reasons.get(item.pk, "")) for item in items],
            "listed_fen": sum(i.amount_fen for i in items),
            "flag_count": len(reasons),
            "applies": applies,
            "editable": own and project.status in Project.EDITABLE,
            "own": own,
            "may_review": may_review,
            "events": project.events.select_related("actor"),
            "loans": project.loans.all(),
            "reports": reports,
            "completed_pct": round(100 * completed / project.total_investment_fen, 1)
            if project.total_investment_fen
            else 0,
            "completed_fen": completed,
            "categories": sorted(reference.efficiency().values(), key=lambda c: c.name),
            "quarter": f"{today.year}-Q{(today.month - 1) // 3 + 1}",
            "may_record_loan": project.status == Project.Status.APPROVED
            and (
                own
                or reads_everything(user)
                or getattr(getattr(user, "department", None), "code", "") in services.FINANCE_DEPARTMENTS
            ),
            "errors": {},
        },
    )


@require_POST
def project_action(request: HttpRequest, code: str, action: str) -> HttpResponse:
    user = actor(request)
    project = get_visible_or_404(Project.objects.visible_to(user), code=code)
    post = request.POST
    try:
        if action == "item":
            services.save_item(
                actor=user,
                project=project,
                name=post.get("name", ""),
                model=post.get("model", ""),
                quantity=_int(post.get("quantity")),
                unit_price_fen=_yuan(post.get("unit_price"), "unit_price_fen"),
                category=post.get("category", ""),
                grade=post.get("grade", "").strip(),
                item=project.items.filter(pk=_int(post.get("item"))).first() if post.get("item") else None,
            )
            messages.success(request, "设备已保存")
        elif action == "remove-item":
            item = EquipmentItem.objects.filter(project=project, pk=_int(post.get("item"))).first()
            if item is not None:
                services.remove_item(actor=user, item=item)
                messages.success(request, "设备已移除")
        elif action == "submit":
            services.submit_project(actor=user, project=project)
            messages.success(request, "已提交县区审核")
        elif action in ("approve", "return", "reject"):
            services.review_project(actor=user, project=project, decision=action, reason=post.get("reason", ""))
            messages.success(
                request, {"approve": "审核通过", "return": "已退回企业修改", "reject": "已不予入库"}[action]
            )
        elif action == "exempt":
            services.exempt_project(actor=user, project=project, reason=post.get("reason", ""))
            messages.success(request, "已记录豁免理由，可以审核通过")
        elif action == "loan":
            services.record_loan(
                actor=user,
                project=project,
                bank=post.get("bank", ""),
                amount_fen=_wan(post.get("amount"), "amount_fen"),
                rate_bp=int(_decimal(post.get("rate"), "rate_bp") * 100),
                term_months=_int(post.get("term_months")),
                granted_on=_date(post.get("granted_on")) or timezone.localdate(),
                relending=post.get("relending") == "on",
            )
            messages.success(request, "贷款已登记")
        elif action == "report":
            services.report_investment(
                actor=user,
                project=project,
                period=post.get("period", "").strip(),
                completed_fen=_wan(post.get("completed"), "completed_fen"),
                equipment_fen=_wan(post.get("equipment"), "equipment_fen"),
                note=post.get("note", ""),
            )
            messages.success(request, "投资完成情况已保存")
        else:
            raise PermissionDenied("未知操作")
    except (ValidationError, PermissionDenied) as exc:
        for message in form_errors(exc).values():
            messages.error(request, message)
    return redirect("projects:detail", code=project.code)


# --- enterprises --------------------------------------------------------------------------------------------


def enterprise_list(request: HttpRequest) -> HttpResponse:
    if not is_official(request.user):
        mine = _my_enterprise(request.user)
        if mine is not None:
            return redirect("projects:enterprise", pk=mine.pk)
        raise PermissionDenied("企业名录仅供政府工作人员查看")
    filters = {k: request.GET.get(k, "").strip() for k in ("q", "field", "region", "sme", "size")}
    qs = (
        Enterprise.objects.visible_to(request.user)
        .select_related("region")
        .annotate(projects_n=Count("projects", distinct=True), recognitions_n=Count("recognitions", distinct=True))
        .order_by("region__code", "name")  # a GROUP BY query drops Meta.ordering; pages need a stable order
    )
    if filters["q"]:
        qs = qs.filter(Q(name__icontains=filters["q"]) | Q(uscc__icontains=filters["q"].upper()))
    if filters["field"]:
        qs = qs.filter(field=filters["field"])
    if filters["region"]:
        qs = qs.filter(region__code=filters["region"])
    if filters["sme"]:
        qs = qs.filter(recognitions__isnull=False).distinct()
    if filters["size"]:
        qs = qs.filter(above_designated_size=True)
    return render(
        request,
        "projects/enterprise_list.html",
        {
            "page": Paginator(qs, PER_PAGE).get_page(request.GET.get("page")),
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "fields": reference.field_choices(),
            "counties": Region.objects.filter(parent__isnull=False).order_by("code"),
        },
    )


def enterprise_detail(request: HttpRequest, pk: int) -> HttpResponse:
    enterprise = get_visible_or_404(Enterprise.objects.visible_to(request.user).select_related("region"), pk=pk)
    own = _my_enterprise(request.user) == enterprise
    errors: dict[str, str] = {}
    year = timezone.localdate().year - 1
    form: dict[str, Any] = {"year": year}
    if request.method == "POST":
        form = request.POST.dict()
        try:
            services.save_survey(
                actor=actor(request),
                enterprise=enterprise,
                year=_int(form.get("year")),
                digital_rd_tools=form.get("digital_rd_tools") == "on",
                nc_rate=_decimal(form.get("nc_rate"), "nc_rate"),
                capacity=_decimal(form.get("capacity"), "capacity"),
                benchmark_capacity=_decimal(form.get("benchmark_capacity"), "benchmark_capacity"),
                capacity_unit=form.get("capacity_unit", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
        else:
            messages.success(request, "年度调查已保存")
            return redirect("projects:enterprise", pk=enterprise.pk)
    return render(
        request,
        "projects/enterprise_detail.html",
        {
            "enterprise": enterprise,
            "recognitions": Recognition.objects.filter(enterprise=enterprise),
            "surveys": Survey.objects.filter(enterprise=enterprise),
            "projects": Project.objects.visible_to(request.user).filter(enterprise=enterprise),
            "may_survey": own or (is_official(request.user) and request.user.role != Role.AUDITOR),  # type: ignore[union-attr]
            "form": form,
            "errors": errors,
        },
    )


def enterprise_import(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    if not is_official(user) or user.role == Role.AUDITOR:
        raise PermissionDenied("企业名录由工作专班、行业主管部门和县区维护")
    context: dict[str, Any] = {}
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:  # checked at once, its rows saved by a worker (projects/jobs.py); its page shows the progress
            if upload is None:
                raise ValidationError("请选择要上传的 Excel 文件", code="no_file")
            job = project_jobs.start_import(
                actor=user,
                name=upload.name or "",
                content_type=upload.content_type or "",
                data=uploads.read_upload(upload),
            )
        except ValidationError as exc:
            context["error"] = "；".join(exc.messages)
        else:
            return redirect("jobs:detail", pk=job.pk)
    context["jobs"] = project_jobs.recent(user)
    return render(request, "projects/enterprise_import.html", context)


def enterprise_template(request: HttpRequest) -> HttpResponse:
    return attachment_response(excel.template(), content_type=XLSX, filename="企业名录导入模板.xlsx")
