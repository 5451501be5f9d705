"""Pages for task supervision: 督办单 list, issue, thread; a measure's 任务调度 page; a department's 我的调度."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core.models import Department
from huanxin.core.roles import is_official, is_task_force
from huanxin.core.views import actor, get_visible_or_404
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans import selectors as plan_selectors
from huanxin.plans.models import Indicator, Measure, Plan
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone, Notice, ProgressReport


def _officials_only(request: HttpRequest) -> None:
    if not is_official(request.user):
        raise PermissionDenied("任务调度仅供政府工作人员使用")


def _errors(exc: ValidationError | PermissionDenied) -> dict[str, str]:
    if isinstance(exc, PermissionDenied):
        return {"form": str(exc)}
    if hasattr(exc, "error_dict"):
        return {key: "；".join(messages_) for key, messages_ in exc.message_dict.items()}
    return {"form": "；".join(exc.messages)}


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


# --- notices -------------------------------------------------------------------------------------------


def notice_list(request: HttpRequest) -> HttpResponse:
    _officials_only(request)
    today = timezone.localdate()
    filters = {key: request.GET.get(key, "") for key in ("status", "department", "overdue")}
    qs = selectors.notices(
        user=request.user,
        status=filters["status"],
        department=filters["department"],
        overdue=bool(filters["overdue"]),
        today=today,
    )
    return render(
        request,
        "supervision/notice_list.html",
        {
            "page": Paginator(qs, 30).get_page(request.GET.get("page")),
            "filters": filters,
            "statuses": Notice.Status.choices,
            "departments": Department.objects.visible_to(request.user).filter(notices__isnull=False).distinct(),
            "today": today,
            "can_issue": is_task_force(request.user),
        },
    )


def notice_new(request: HttpRequest) -> HttpResponse:
    if not is_task_force(request.user):
        raise PermissionDenied("只有工作专班可以发出督办单")
    plan = Plan.objects.visible_to(request.user).order_by("-issued_on").first()
    form: dict[str, str] = {key: request.GET.get(key, "") for key in ("measure", "indicator", "department")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("department", "measure", "indicator", "subject", "body", "due_on")}
        department = Department.objects.visible_to(request.user).filter(code=form["department"]).first()
        measure = Measure.objects.visible_to(request.user).filter(pk=_int(form["measure"])).first()
        indicator = Indicator.objects.visible_to(request.user).filter(pk=_int(form["indicator"])).first()
        due_on = _date(form["due_on"])
        if department is None:
            errors["department"] = "请选择督办对象"
        if due_on is None:
            errors["due_on"] = "请填写办理时限（年-月-日）"
        if not errors:
            try:
                notice = services.issue_notice(
                    actor=actor(request),
                    department=department,  # type: ignore[arg-type]
                    subject=form["subject"],
                    body=form["body"],
                    due_on=due_on,  # type: ignore[arg-type]
                    measure=measure,
                    indicator=indicator,
                )
            except (ValidationError, PermissionDenied) as exc:
                errors = _errors(exc)
            else:
                messages.success(request, f"{notice.number}已发出")
                return redirect("supervision:notice", pk=notice.pk)
    return render(
        request,
        "supervision/notice_form.html",
        {
            "form": form,
            "errors": errors,
            "departments": Department.objects.visible_to(request.user),
            "measures": Measure.objects.visible_to(request.user).filter(plan=plan) if plan else [],
            "indicators": Indicator.objects.visible_to(request.user).filter(plan=plan) if plan else [],
            "default_due": (timezone.localdate() + dt.timedelta(days=15)).isoformat(),
        },
        status=400 if errors else 200,
    )


def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_visible_or_404(
        Notice.objects.visible_to(request.user).select_related("department", "measure__plan", "indicator"), pk=pk
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "answer":
                services.answer_notice(
                    actor=actor(request),
                    notice=notice,
                    text=request.POST.get("text", ""),
                    token=request.POST.get("token") or None,
                )
                messages.success(request, "答复已提交工作专班")
            elif action == "close":
                services.close_notice(actor=actor(request), notice=notice, note=request.POST.get("note", ""))
                messages.success(request, f"{notice.number}已办结")
            elif action == "return":
                services.return_notice(actor=actor(request), notice=notice, reason=request.POST.get("reason", ""))
                messages.success(request, "已退回补充答复")
        except (ValidationError, PermissionDenied) as exc:
            errors = _errors(exc)
        else:
            return redirect("supervision:notice", pk=notice.pk)
    department = getattr(request.user, "department", None)
    return render(
        request,
        "supervision/notice_detail.html",
        {
            "notice": notice,
            "answers": notice.answers.select_related("author"),
            "can_answer": notice.awaits_department and department == notice.department,
            "can_review": is_task_force(request.user) and notice.status == Notice.Status.ANSWERED,
            "overdue": notice.awaits_department and notice.due_on < timezone.localdate(),
            "token": uuid.uuid4().hex,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


# --- a measure's supervision page ---------------------------------------------------------------------


def measure_page(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    _officials_only(request)
    measure = get_visible_or_404(
        plan_selectors.measures_with_departments(Measure.objects.visible_to(request.user)),
        plan__code=plan,
        slug=slug,
    )
    return render(request, "supervision/measure.html", _measure_context(request, measure))


def _measure_context(request: HttpRequest, measure: Measure, **extra: Any) -> dict[str, Any]:
    user = request.user
    today = timezone.localdate()
    department = getattr(user, "department", None)
    responsible = plan_selectors.measure_departments(measure)
    mine = department is not None and any(r.department_id == department.pk for r in responsible)
    leads = department is not None and any(r.department_id == department.pk and r.role == "lead" for r in responsible)
    months = [
        PeriodRef.containing(Frequency.MONTH, today),
        *reversed(selectors.due_months(since=measure.plan.issued_on, today=today)),
    ][:6]
    return {
        "plan": measure.plan,
        "measure": measure,
        "responsible": responsible,
        "reports": ProgressReport.objects.visible_to(user).filter(measure=measure).select_related("department")[:60],
        "milestones": Milestone.objects.visible_to(user).filter(measure=measure).select_related("department"),
        "notices": Notice.objects.visible_to(user).filter(measure=measure),
        "can_report": mine and getattr(user, "role", None) == "department_officer",
        "can_plan": is_task_force(user) or (leads and getattr(user, "role", None) == "department_officer"),
        "my_department": department,
        "months": months,
        "today": today,
        "form": {},
        "errors": {},
        **extra,
    }


@require_POST
def report_save(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    measure = get_visible_or_404(
        plan_selectors.measures_with_departments(Measure.objects.visible_to(request.user)), plan__code=plan, slug=slug
    )
    form = {k: request.POST.get(k, "") for k in ("period", "text", "problems", "percent_done")}
    percent = form["percent_done"].strip()
    try:
        services.save_report(
            actor=actor(request),
            measure=measure,
            period=form["period"],
            text=form["text"],
            problems=form["problems"],
            percent_done=int(percent) if percent.isdigit() else None,
            submit=request.POST.get("action") == "submit",
        )
    except (ValidationError, PermissionDenied) as exc:
        context = _measure_context(request, measure, form=form, errors=_errors(exc))
        return render(request, "supervision/measure.html", context, status=400)
    messages.success(request, "进展报告已报送" if request.POST.get("action") == "submit" else "进展报告已保存为草稿")
    return redirect("supervision:measure", plan=plan, slug=slug)


@require_POST
def milestone_action(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    measure = get_visible_or_404(
        plan_selectors.measures_with_departments(Measure.objects.visible_to(request.user)), plan__code=plan, slug=slug
    )
    action = request.POST.get("action")
    form = {k: request.POST.get(k, "") for k in ("title", "due_on", "department", "done_on", "reason", "milestone")}
    try:
        if action == "add":
            due_on = _date(form["due_on"])
            if due_on is None:
                raise ValidationError({"due_on": "请填写计划完成日期（年-月-日）"})
            department = Department.objects.filter(code=form["department"]).first()
            if department is None:
                raise ValidationError({"department": "请选择责任单位"})
            services.add_milestone(
                actor=actor(request),
                measure=measure,
                department=department,
                title=form["title"],
                due_on=due_on,
            )
        else:
            milestone = get_visible_or_404(
                Milestone.objects.visible_to(request.user), pk=form["milestone"] or 0, measure=measure
            )
            if action == "done":
                services.complete_milestone(
                    actor=actor(request),
                    milestone=milestone,
                    done_on=_date(form["done_on"]) or timezone.localdate(),
                )
            else:
                services.cancel_milestone(actor=actor(request), milestone=milestone, reason=form["reason"])
    except (ValidationError, PermissionDenied) as exc:
        context = _measure_context(request, measure, milestone_form=form, milestone_errors=_errors(exc))
        return render(request, "supervision/measure.html", context, status=400)
    messages.success(request, "里程碑已更新")
    return redirect("supervision:measure", plan=plan, slug=slug)


def my_duties(request: HttpRequest) -> HttpResponse:
    """我的调度: a department's measures with their reports due, its milestones and its open notices."""
    _officials_only(request)
    department = getattr(request.user, "department", None)
    today = timezone.localdate()
    if department is None:
        return redirect("supervision:notices")
    return render(
        request,
        "supervision/my_duties.html",
        {
            "department": department,
            "duties": selectors.department_duties(user=request.user, department=department, today=today),
            "milestones": selectors.overdue_milestones(user=request.user, today=today, department=department),
            "notices": selectors.notices(user=request.user, department=department.code).exclude(status="closed"),
            "today": today,
        },
    )
