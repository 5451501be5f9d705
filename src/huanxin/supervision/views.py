"""Pages for task supervision (调度督办): the task force's overview, a department's 我的调度, a measure's 任务调度
page (monthly reports, milestones, notices and the forms for the user's department), and the 督办单 list, form
and thread. Plain forms that redirect after a successful POST; a refused one re-renders with its messages."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import inputs
from huanxin.core.models import Department
from huanxin.core.roles import Role, is_official, is_task_force, reads_everything
from huanxin.core.views import actor, form_errors, get_visible_or_404
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans import selectors as plan_selectors
from huanxin.plans.models import Indicator, Measure, Plan
from huanxin.supervision import selectors, services
from huanxin.supervision.models import Milestone, Notice, ProgressReport

NOTICES_PER_PAGE = 20


def _officials_only(request: HttpRequest) -> None:
    if not is_official(request.user):
        raise PermissionDenied("调度督办仅供政府工作人员使用")


def _date(value: str) -> dt.date | None:
    return inputs.filter_date(value)


def _int(value: str) -> int:
    return inputs.lookup_id(value) or 0


def _clerk_department(user: Any) -> Department | None:
    """The department a department officer works for (None for everyone else: the task force sits in 发改委's
    organisation but does not act for it here)."""
    if getattr(user, "role", None) != Role.DEPARTMENT_OFFICER:
        return None
    return getattr(user, "department", None)


# --- landing, department pages ------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    """调度督办: the overview for the task force and auditors, 我的调度 for a department officer."""
    _officials_only(request)
    if reads_everything(request.user):
        today = timezone.localdate()
        rows = selectors.overview(user=request.user, today=today)
        visible = Notice.objects.visible_to(request.user)
        recent = (
            ProgressReport.objects.visible_to(request.user)
            .filter(status=ProgressReport.Status.SUBMITTED)
            .select_related("measure__plan", "department")
            .order_by("-submitted_at")[:8]
        )
        return render(
            request,
            "supervision/overview.html",
            {
                "rows": rows,
                "today": today,
                "counts": {
                    "awaiting": visible.awaiting_answer().count(),
                    "overdue": visible.overdue(today).count(),
                    "answered": visible.filter(status=Notice.Status.ANSWERED).count(),
                    "milestones": Milestone.objects.visible_to(request.user).overdue(today).count(),
                    "reports": sum(r.overdue_reports for r in rows),
                },
                "recent": recent,
                "grace_days": services.REPORT_GRACE_DAYS,
                "can_issue": is_task_force(request.user),
            },
        )
    department = getattr(request.user, "department", None)
    if department is None:
        raise PermissionDenied("您不属于任何责任单位，没有需要调度的任务")
    return _department_page(request, department)


def department_page(request: HttpRequest, code: str) -> HttpResponse:
    """A department's 调度 page: the task force and auditors may open any department's; others only their own."""
    _officials_only(request)
    department = get_visible_or_404(Department.objects.visible_to(request.user), code=code)
    if not reads_everything(request.user) and getattr(request.user, "department", None) != department:
        raise PermissionDenied("只能查看本单位的调度情况")
    return _department_page(request, department)


def _department_page(request: HttpRequest, department: Department) -> HttpResponse:
    user = request.user
    today = timezone.localdate()
    duties = selectors.department_duties(user=user, department=department, today=today)
    return render(
        request,
        "supervision/department.html",
        {
            "department": department,
            "own": getattr(user, "department", None) == department and not reads_everything(user),
            "duties": duties,
            "overdue_months": sum(len(d.missing) for d in duties),
            "notices": selectors.notices(user=user, department=department.code).exclude(status=Notice.Status.CLOSED),
            "milestones": Milestone.objects.visible_to(user)
            .filter(department=department, status=Milestone.Status.OPEN)
            .select_related("measure__plan"),
            "today": today,
            "grace_days": services.REPORT_GRACE_DAYS,
        },
    )


# --- notices -------------------------------------------------------------------------------------------


def notice_list(request: HttpRequest) -> HttpResponse:
    _officials_only(request)
    today = timezone.localdate()
    filters = {key: request.GET.get(key, "").strip() for key in ("status", "department", "overdue")}
    qs = selectors.notices(
        user=request.user,
        status=filters["status"],
        department=filters["department"],
        overdue=bool(filters["overdue"]),
        today=today,
    )
    page = Paginator(qs, NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/notice_list.html",
        {
            "page": page,
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "statuses": [(selectors.AWAITING, "待答复（含退回补充）"), *Notice.Status.choices],
            "departments": Department.objects.filter(
                pk__in=Notice.objects.visible_to(request.user).values("department")
            ),
            "today": today,
            "can_issue": is_task_force(request.user),
        },
    )


def _notice_form_choices(request: HttpRequest) -> dict[str, Any]:
    plans = Plan.objects.visible_to(request.user)
    return {
        "departments": Department.objects.visible_to(request.user)
        .filter(responsibilities__clause__measure__plan__in=plans)
        .distinct(),
        "measures": Measure.objects.visible_to(request.user).select_related("plan").order_by("plan", "position"),
        "indicators": Indicator.objects.visible_to(request.user).select_related("measure").order_by("plan", "position"),
    }


def notice_new(request: HttpRequest) -> HttpResponse:
    """发出督办单 (task force). On a refusal every field keeps what was typed, each message next to its field."""
    if not is_task_force(request.user):
        raise PermissionDenied("只有工作专班可以发出督办单")
    today = timezone.localdate()
    fields = ("department", "measure", "indicator", "subject", "body", "due_on", "token")
    form = {key: request.GET.get(key, "") for key in fields}
    form["token"] = uuid.uuid4().hex
    form["due_on"] = form["due_on"] or (today + dt.timedelta(days=15)).isoformat()
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in fields}
        department = Department.objects.visible_to(request.user).filter(code=form["department"]).first()
        measure = Measure.objects.visible_to(request.user).filter(pk=_int(form["measure"])).first()
        indicator = Indicator.objects.visible_to(request.user).filter(pk=_int(form["indicator"])).first()
        due_on = _date(form["due_on"])
        try:
            notice = services.issue_notice(
                actor=actor(request),
                department=department,
                subject=form["subject"],
                body=form["body"],
                due_on=due_on,
                measure=measure,
                indicator=indicator,
                token=form["token"],
            )
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
            if form["due_on"].strip() and due_on is None:
                errors["due_on"] = "办理时限的格式应为 年-月-日"
        else:
            messages.success(request, f"{notice.number}已发出，送{notice.department.name}办理")
            return redirect("supervision:notice", pk=notice.pk)
    return render(
        request,
        "supervision/notice_form.html",
        {"form": form, "errors": errors, **_notice_form_choices(request)},
        status=400 if errors else 200,
    )


def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A notice and its thread; the department answers here, the task force closes it or sends it back."""
    notice = get_visible_or_404(
        Notice.objects.visible_to(request.user).select_related("department", "measure__plan", "indicator", "issued_by"),
        pk=pk,
    )
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    action = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        posted = {k: request.POST.get(k, "") for k in ("text", "note", "reason", "due_on", "token")}
        try:
            if action == "answer":
                services.answer_notice(actor=actor(request), notice=notice, text=posted["text"], token=posted["token"])
                messages.success(request, "答复已提交工作专班")
            elif action == "close":
                services.close_notice(actor=actor(request), notice=notice, note=posted["note"])
                messages.success(request, f"{notice.number}已办结")
            elif action == "return":
                due_on = _date(posted["due_on"]) if posted["due_on"].strip() else None
                if posted["due_on"].strip() and due_on is None:
                    raise ValidationError({"due_on": "补充答复时限的格式应为 年-月-日"})
                services.return_notice(actor=actor(request), notice=notice, reason=posted["reason"], due_on=due_on)
                messages.success(request, f"{notice.number}已退回{notice.department.name}补充答复")
            else:
                raise ValidationError("未知的操作")
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
            notice.refresh_from_db()
        else:
            return redirect("supervision:notice", pk=notice.pk)
    today = timezone.localdate()
    department = _clerk_department(request.user)
    return render(
        request,
        "supervision/notice_detail.html",
        {
            "notice": notice,
            "thread": notice.messages.select_related("author"),
            "can_answer": notice.awaits_department and department == notice.department,
            "can_review": is_task_force(request.user) and notice.status == Notice.Status.ANSWERED,
            "overdue": notice.is_overdue(today),
            "token": posted.get("token") or uuid.uuid4().hex,
            "action": action,
            "errors": errors,
            "posted": posted,
        },
        status=400 if errors else 200,
    )


# --- a measure's 任务调度 page --------------------------------------------------------------------------


def _measure(request: HttpRequest, plan: str, slug: str) -> Measure:
    _officials_only(request)
    return get_visible_or_404(
        plan_selectors.measures_with_departments(Measure.objects.visible_to(request.user)),
        plan__code=plan,
        slug=slug,
    )


def measure_page(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    measure = _measure(request, plan, slug)
    return render(request, "supervision/measure.html", _measure_context(request, measure))


def _report_form(request: HttpRequest, measure: Measure, department: Department, today: dt.date) -> dict[str, str]:
    """The report form's starting values: the month asked for (?period=), else last month if it is not yet
    submitted, else this month; a draft of that month is loaded for editing."""
    months = selectors.plan_months(measure.plan, today)
    current = months[-1] if months else PeriodRef.containing(Frequency.MONTH, today)
    previous = current.previous()
    own = {
        r.period: r
        for r in ProgressReport.objects.visible_to(request.user).filter(measure=measure, department=department)
    }
    wanted = request.GET.get("period", "")
    if wanted not in {m.code for m in months}:
        last_done = own.get(previous.code) is not None and own[previous.code].status == "submitted"
        wanted = current.code if last_done or previous not in months else previous.code
    draft = own.get(wanted)
    if draft is not None and draft.status == ProgressReport.Status.DRAFT:
        return {
            "period": wanted,
            "text": draft.text,
            "problems": draft.problems,
            "percent_done": "" if draft.percent_done is None else str(draft.percent_done),
        }
    latest = max((r for r in own.values() if r.percent_done is not None), key=lambda r: r.period, default=None)
    return {"period": wanted, "percent_done": str(latest.percent_done) if latest else ""}


def _measure_context(request: HttpRequest, measure: Measure, **extra: Any) -> dict[str, Any]:
    user = request.user
    today = timezone.localdate()
    department = _clerk_department(user)
    responsible = plan_selectors.measure_departments(measure)
    mine = department is not None and any(r.department_id == department.pk for r in responsible)
    show_all = request.GET.get("months") == "all"
    rows = selectors.measure_reports(user=user, measure=measure, today=today, limit=None if show_all else 6)
    own_reports = (
        {r.period: r for r in ProgressReport.objects.visible_to(user).filter(measure=measure, department=department)}
        if mine
        else {}
    )
    report_months = [
        (m, own_reports.get(m.code))
        for m in reversed(selectors.plan_months(measure.plan, today))
        if own_reports.get(m.code) is None or own_reports[m.code].status == ProgressReport.Status.DRAFT
    ]
    missing = selectors.missing_reports(user=user, today=today, measure=measure)
    plannable = services.plannable_departments(user, measure)  # the milestones whose buttons the user gets
    context = {
        "plan": measure.plan,
        "measure": measure,
        "responsible": responsible,
        "rows": rows,
        "show_all": show_all,
        "n_months": len(selectors.plan_months(measure.plan, today)),
        "missing": missing,
        "my_missing": next((m.months for m in missing if department and m.department.pk == department.pk), []),
        "milestones": Milestone.objects.visible_to(user).filter(measure=measure).select_related("department"),
        "notices": Notice.objects.visible_to(user).filter(measure=measure).select_related("department"),
        "can_report": mine,
        "can_plan": services.may_plan_milestones(user, measure),
        "plannable": plannable,
        "milestone_departments": [r for r in responsible if r.department_id in plannable],
        "can_issue": is_task_force(user),
        "reads_all": reads_everything(user),
        "grace_days": services.REPORT_GRACE_DAYS,
        "my_department": department,
        "report_months": report_months,
        "today": today,
        "report_form": _report_form(request, measure, department, today) if mine and department else {},
        "report_errors": {},
        "milestone_form": {"token": uuid.uuid4().hex},
        "milestone_errors": {},
        "milestone_action": {},
    }
    context.update(extra)
    return context


@require_POST
def report_save(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    measure = _measure(request, plan, slug)
    form = {k: request.POST.get(k, "") for k in ("period", "text", "problems", "percent_done")}
    submit = request.POST.get("action") == "submit"
    try:
        report = services.save_report(
            actor=actor(request),
            measure=measure,
            period=form["period"],
            text=form["text"],
            problems=form["problems"],
            percent_done=form["percent_done"],
            submit=submit,
        )
    except (ValidationError, PermissionDenied) as exc:
        context = _measure_context(request, measure, report_form=form, report_errors=form_errors(exc))
        return render(request, "supervision/measure.html", context, status=400)
    label = report.period_label
    messages.success(request, f"{label}进展已报送" if submit else f"{label}进展已保存为草稿（尚未报送）")
    url = reverse("supervision:measure", args=[plan, slug])
    return redirect(f"{url}#reports" if submit else f"{url}?period={report.period}#report-form")


@require_POST
def milestone_add(request: HttpRequest, plan: str, slug: str) -> HttpResponse:
    measure = _measure(request, plan, slug)
    form = {k: request.POST.get(k, "") for k in ("title", "due_on", "department", "token")}
    try:
        due_on = _date(form["due_on"])
        if form["due_on"].strip() and due_on is None:
            raise ValidationError({"due_on": "计划完成日期的格式应为 年-月-日"})
        services.add_milestone(
            actor=actor(request),
            measure=measure,
            department=Department.objects.filter(code=form["department"]).first(),
            title=form["title"],
            due_on=due_on,
            token=form["token"],
        )
    except (ValidationError, PermissionDenied) as exc:
        context = _measure_context(request, measure, milestone_form=form, milestone_errors=form_errors(exc))
        return render(request, "supervision/measure.html", context, status=400)
    messages.success(request, f"已添加里程碑：{form['title'].strip()}")
    return redirect(reverse("supervision:measure", args=[plan, slug]) + "#milestones")


def _milestone(request: HttpRequest, pk: int) -> Milestone:
    _officials_only(request)
    return get_visible_or_404(
        Milestone.objects.visible_to(request.user).select_related("measure__plan", "department"), pk=pk
    )


def _milestone_refused(
    request: HttpRequest, milestone: Milestone, which: str, exc: ValidationError | PermissionDenied
) -> HttpResponse:
    """Back to the measure page with the milestone's form open, what was typed and why it was refused."""
    measure = _measure(request, milestone.measure.plan.code, milestone.measure.slug)
    posted = {k: request.POST.get(k, "") for k in ("done_on", "note", "reason")}
    context = _measure_context(
        request, measure, milestone_action={"pk": milestone.pk, "which": which, "errors": form_errors(exc), **posted}
    )
    return render(request, "supervision/measure.html", context, status=400)


@require_POST
def milestone_done(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = _milestone(request, pk)
    raw = request.POST.get("done_on", "")
    try:
        done_on = _date(raw)
        if raw.strip() and done_on is None:
            raise ValidationError({"done_on": "完成日期的格式应为 年-月-日"})
        services.complete_milestone(
            actor=actor(request), milestone=milestone, done_on=done_on, note=request.POST.get("note", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        return _milestone_refused(request, milestone, "done", exc)
    messages.success(request, f"里程碑“{milestone.title}”已标记完成")
    return redirect(
        reverse("supervision:measure", args=[milestone.measure.plan.code, milestone.measure.slug]) + "#milestones"
    )


@require_POST
def milestone_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    milestone = _milestone(request, pk)
    try:
        services.cancel_milestone(actor=actor(request), milestone=milestone, reason=request.POST.get("reason", ""))
    except (ValidationError, PermissionDenied) as exc:
        return _milestone_refused(request, milestone, "cancel", exc)
    messages.success(request, f"里程碑“{milestone.title}”已取消（保留在记录中）")
    return redirect(
        reverse("supervision:measure", args=[milestone.measure.plan.code, milestone.measure.slug]) + "#milestones"
    )
