"""Pages for the plan: tree, measure, department (我的任务), indicators, search, 落实举措 forms, and importing a plan
document (upload, review, publish)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from huanxin.core.exports import xlsx_response
from huanxin.core.models import Department
from huanxin.core.roles import Role, is_task_force
from huanxin.core.views import actor, form_errors, get_visible_or_404, is_htmx
from huanxin.plans import import_forms, imports, selectors, services
from huanxin.plans import jobs as plan_jobs
from huanxin.plans.models import Indicator, Measure, MeasureAction, Plan, PlanImport


def plan_list(request: HttpRequest) -> HttpResponse:
    plans = Plan.objects.visible_to(request.user).select_related("region")
    return render(request, "plans/plan_list.html", {"plans": plans, "may_import": is_task_force(request.user)})


def plan_detail(request: HttpRequest, code: str) -> HttpResponse:
    plan = get_visible_or_404(Plan.objects.visible_to(request.user).select_related("region"), code=code)
    return render(
        request,
        "plans/plan_detail.html",
        {
            "plan": plan,
            "tree": selectors.plan_tree(plan),
            "n_measures": plan.measures.count(),
            "n_indicators": plan.indicators.count(),
            "n_departments": Department.objects.filter(responsibilities__clause__measure__plan=plan).distinct().count(),
            "may_set_up": is_task_force(request.user),  # monitoring/setup.py
        },
    )


def measure_detail(request: HttpRequest, code: str, slug: str) -> HttpResponse:
    user = request.user
    measure = get_visible_or_404(
        selectors.measures_with_departments(Measure.objects.visible_to(user)), plan__code=code, slug=slug
    )
    return render(request, "plans/measure_detail.html", _measure_context(request, measure))


def _measure_context(request: HttpRequest, measure: Measure, form: dict[str, Any] | None = None) -> dict[str, Any]:
    user = request.user
    department = getattr(user, "department", None)
    responsible = selectors.measure_departments(measure)
    can_act = (
        getattr(user, "role", None) == Role.DEPARTMENT_OFFICER
        and department is not None
        and any(r.department_id == department.pk for r in responsible)
    )
    return {
        "plan": measure.plan,
        "measure": measure,
        "responsible": responsible,
        "indicators": list(measure.indicators.all()) + list(measure.related_indicators.all()),
        "rules": list(measure.rules.all()),
        "actions": MeasureAction.objects.visible_to(user)
        .filter(measure=measure)
        .select_related("department", "created_by"),
        "can_act": can_act,
        "form": form or {},
        "previous": Measure.objects.filter(plan=measure.plan, position__lt=measure.position)
        .order_by("-position")
        .first(),
        "next": Measure.objects.filter(plan=measure.plan, position__gt=measure.position).order_by("position").first(),
    }


@require_POST
def measure_action_create(request: HttpRequest, code: str, slug: str) -> HttpResponse:
    user = request.user
    measure = get_visible_or_404(
        selectors.measures_with_departments(Measure.objects.visible_to(user)), plan__code=code, slug=slug
    )
    form: dict[str, Any] = {key: request.POST.get(key, "") for key in ("title", "body", "due_on")}
    try:
        due_on = dt.date.fromisoformat(form["due_on"]) if form["due_on"] else None
        services.save_measure_action(
            actor=user,  # type: ignore[arg-type]
            measure=measure,
            title=form["title"],
            body=form["body"],
            due_on=due_on,
        )
    except ValueError:
        form["errors"] = {"due_on": ["日期格式应为 年-月-日"]}
    except ValidationError as exc:
        form["errors"] = exc.message_dict if hasattr(exc, "error_dict") else {"form": exc.messages}
    except PermissionDenied as exc:
        form["errors"] = {"form": [str(exc)]}
    else:
        messages.success(request, "落实举措已保存为草稿")
        form = {}
    if is_htmx(request):
        return render(
            request, "plans/_actions.html", {**_measure_context(request, measure, form), "inline_messages": True}
        )
    if form:
        return render(request, "plans/measure_detail.html", _measure_context(request, measure, form), status=400)
    return redirect(reverse("plans:measure", args=[code, slug]) + "#actions")


@require_POST
def measure_action_submit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    action = get_visible_or_404(MeasureAction.objects.visible_to(user).select_related("measure__plan"), pk=pk)
    try:
        services.submit_measure_action(actor=user, action=action)  # type: ignore[arg-type]
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"“{action.title}”已报送工作专班")
    measure = action.measure
    if is_htmx(request):
        measure = selectors.measures_with_departments(Measure.objects.all()).get(pk=measure.pk)
        return render(request, "plans/_actions.html", {**_measure_context(request, measure), "inline_messages": True})
    return redirect(reverse("plans:measure", args=[measure.plan.code, measure.slug]) + "#actions")


def department_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    departments = selectors.department_list(user=request.user, query=query).select_related("region")
    if request.GET.get("format") == "xlsx":
        return xlsx_response(
            filename="departments.xlsx",
            title="责任单位",
            headers=["单位", "简称", "类型", "牵头举措", "涉及举措"],
            rows=(
                [d.name, d.short_name, d.get_kind_display(), d.n_lead, d.n_measures]  # type: ignore[attr-defined]
                for d in departments
            ),
        )
    return render(request, "plans/department_list.html", {"departments": departments, "query": query})


def department_detail(request: HttpRequest, code: str) -> HttpResponse:
    department = get_visible_or_404(Department.objects.visible_to(request.user).prefetch_related("aliases"), code=code)
    tasks = selectors.department_tasks(user=request.user, department=department)
    own = getattr(request.user, "department", None) == department
    return render(request, "plans/department_detail.html", {"department": department, "tasks": tasks, "own": own})


def my_tasks(request: HttpRequest) -> HttpResponse:
    department = getattr(request.user, "department", None)
    if department is None:
        messages.info(request, "您的账号不属于某个责任单位，已为您打开责任单位列表")
        return redirect("plans:departments")
    return redirect("plans:department", code=department.code)


def indicator_list(request: HttpRequest, code: str) -> HttpResponse:
    plan = get_visible_or_404(Plan.objects.visible_to(request.user), code=code)
    filters = {
        "kind": request.GET.get("kind", ""),
        "department": request.GET.get("department", ""),
        "query": request.GET.get("q", "").strip(),
        "sort": request.GET.get("sort", "position"),
    }
    indicators = selectors.indicator_list(user=request.user, plan=plan, **filters)
    if request.GET.get("format") == "xlsx":
        return xlsx_response(
            filename=f"{plan.code}-indicators.xlsx",
            title="目标指标",
            headers=[
                "序号",
                "指标",
                "类型",
                "基准年",
                "目标",
                "比较",
                "目标值",
                "单位",
                "目标年",
                "所属举措",
                "原文表述",
            ],
            rows=(
                [
                    i,
                    ind.name,
                    ind.get_kind_display(),
                    ind.baseline_year or "",
                    ind.target_display,
                    ind.get_comparator_display(),
                    float(ind.target_value) if ind.target_value is not None else "",
                    ind.unit,
                    ind.target_year,
                    ind.measure.code if ind.measure else "总体目标",
                    ind.statement,
                ]
                for i, ind in enumerate(indicators, start=1)
            ),
        )
    departments = (
        Department.objects.visible_to(request.user).filter(responsibilities__clause__measure__plan=plan).distinct()
    )
    return render(
        request,
        "plans/indicator_list.html",
        {
            "plan": plan,
            "indicators": indicators,
            "filters": filters,
            "kinds": Indicator.Kind.choices,
            "departments": departments,
        },
    )


def search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    results = selectors.search_measures(user=request.user, query=query)
    page = Paginator(results, 20).get_page(request.GET.get("page"))
    return render(request, "plans/search.html", {"query": query, "page": page})


# --- Importing a plan document (task force only) -------------------------------------------------


def _task_force(request: HttpRequest) -> Any:
    user = actor(request)
    if not is_task_force(user):
        raise PermissionDenied("只有工作专班可以导入实施方案")
    return user


def import_list(request: HttpRequest) -> HttpResponse:
    user = _task_force(request)
    rows = PlanImport.objects.visible_to(user).defer("data", "text", "draft_yaml").select_related("created_by", "plan")
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    # the list shows every import made; of the jobs, only those that have not made one yet (queued, running, failed)
    pending = [r for r in plan_jobs.recent(user) if r.import_pk is None]
    return render(request, "plans/import_list.html", {"page": page, "recent": pending})


def import_upload(request: HttpRequest) -> HttpResponse:
    """The document is read by a background job (plans/jobs.py): the page checks what it can at once and opens the
    job's page; a file refused by its name or first bytes is answered here."""
    user = _task_force(request)
    context: dict[str, Any] = {
        "accepted": ", ".join(imports.ACCEPTED_SUFFIXES),
        "max_mb": imports.MAX_UPLOAD_BYTES // (1024 * 1024),
    }
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError("请选择要上传的方案文件", code="no_file")
            if upload.size is not None and upload.size > imports.MAX_UPLOAD_BYTES:
                raise ValidationError(f"文件超过 {context['max_mb']} MB，请拆分或压缩后再上传", code="too_large")
            started = plan_jobs.start_import(
                actor=user, filename=upload.name or "", data=upload.read(), content_type=upload.content_type or ""
            )
        except (ValidationError, PermissionDenied) as exc:
            context["error"] = form_errors(exc)["form"]
        else:
            if isinstance(started, PlanImport):  # refused by its format: kept as a failed import, said at once
                context["error"] = started.error_message
                context["failed"] = started
            else:
                messages.success(request, "文件已上传，正在后台生成草稿；完成后可在“方案文件导入”中审阅")
                return redirect("jobs:detail", pk=started.pk)
        context["recent"] = plan_jobs.recent(user)
        return render(request, "plans/import_upload.html", context, status=400)
    context["recent"] = plan_jobs.recent(user)
    return render(request, "plans/import_upload.html", context)


def _import_context(plan_import: PlanImport, **extra: Any) -> dict[str, Any]:
    outline = imports.outline(plan_import)
    problems: list[str] = []
    if plan_import.status == PlanImport.Status.DRAFT:
        problems = imports.validate_yaml(plan_import.draft_yaml)
        if not problems:
            data = yaml.safe_load(plan_import.draft_yaml)
            problems = imports.unfinished(data) + imports.conflicts(data)
    return {
        "header": import_forms.header_form(plan_import),
        "imp": plan_import,
        "outline": outline,
        "low_items": outline.low_items(),
        "problems": problems,
        "yaml_text": plan_import.draft_yaml,
        "low_threshold": imports.LOW_CONFIDENCE,
        **extra,
    }


def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor(request)
    plan_import = get_visible_or_404(PlanImport.objects.visible_to(user).select_related("created_by", "plan"), pk=pk)
    return render(request, "plans/import_detail.html", _import_context(plan_import))


@require_POST
def import_save(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor(request)
    plan_import = get_visible_or_404(PlanImport.objects.visible_to(user), pk=pk)
    yaml_text = request.POST.get("yaml", "")
    try:
        imports.save_draft(actor=user, plan_import=plan_import, yaml_text=yaml_text)
    except (ValidationError, PermissionDenied) as exc:
        errors = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        context = _import_context(plan_import, yaml_text=yaml_text, yaml_errors=errors)
        return render(request, "plans/import_detail.html", context, status=400)
    messages.success(request, "草稿已保存，校验通过")
    return redirect(reverse("plans:import_detail", args=[pk]) + "#draft-yaml")


@require_POST
def import_publish(request: HttpRequest, pk: int) -> HttpResponse:
    user = actor(request)
    plan_import = get_visible_or_404(PlanImport.objects.visible_to(user), pk=pk)
    try:
        plan = imports.publish(actor=user, plan_import=plan_import)
    except (ValidationError, PermissionDenied) as exc:
        errors = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        return render(
            request, "plans/import_detail.html", _import_context(plan_import, publish_errors=errors), status=400
        )
    messages.success(request, f"已发布为实施方案“{plan.title}”")
    return redirect("plans:import_detail", pk=pk)
