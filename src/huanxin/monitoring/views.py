"""Pages: the department's entry sheet (数据填报), the task force's review (数据审核), a value's history."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import uploads
from huanxin.core.exports import XLSX, attachment_response, xlsx_response
from huanxin.core.redirects import redirect_next
from huanxin.core.roles import is_task_force
from huanxin.core.views import get_visible_or_404
from huanxin.monitoring import excel, selectors, services
from huanxin.monitoring import jobs as monitoring_jobs
from huanxin.monitoring.models import IndicatorValue, Period, ValueAttachment
from huanxin.monitoring.periods import Frequency, PeriodRef

MAX_UPLOAD = 10 * 1024 * 1024  # a department's template


def _messages_of(exc: ValidationError | PermissionDenied) -> str:
    if isinstance(exc, ValidationError):
        return "；".join(exc.messages)
    return str(exc)


def _period_choices(frequencies: set[str], today: Any) -> list[PeriodRef]:
    refs: list[PeriodRef] = []
    for frequency in sorted(frequencies):
        ref = selectors.latest_open_period(Frequency(frequency), today)
        for _ in range({"M": 12, "Q": 8, "Y": 3}[frequency]):
            refs.append(ref)
            ref = ref.previous()
    return sorted(refs, key=lambda r: (r.end, r.frequency), reverse=True)


def report_sheet(request: HttpRequest) -> HttpResponse:
    user = request.user
    settings = selectors.reporting_settings(user=user)
    frequencies = set(settings.values_list("frequency", flat=True))
    today = timezone.localdate()
    if not frequencies:
        return render(request, "monitoring/report_sheet.html", {"rows": [], "choices": [], "period": None})
    choices = _period_choices(frequencies, today)
    try:
        ref = PeriodRef.parse(request.GET.get("period", "")) if request.GET.get("period") else choices[0]
    except ValueError as exc:
        messages.error(request, str(exc))
        ref = choices[0]
    period = services.ensure_period(ref=ref, actor=user)  # type: ignore[arg-type]
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    if request.method == "POST":
        errors, posted = _save_sheet(request, period, today)
        if not errors:
            return redirect(f"{reverse('monitoring:report')}?period={period.code}")
    rows = selectors.entry_sheet(user=user, period=period)
    return render(
        request,
        "monitoring/report_sheet.html",
        {
            "period": period,
            "is_open": period.is_open(today),
            "choices": choices,
            "rows": rows,
            "errors": errors,
            "posted": posted,
            "recent": monitoring_jobs.recent(user),  # type: ignore[arg-type]
        },
        status=400 if errors else 200,
    )


def _save_sheet(request: HttpRequest, period: Period, today: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Save every filled row on its own: a bad row keeps its reason on screen, good rows are saved."""
    user = request.user
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    saved = 0
    for row in selectors.entry_sheet(user=user, period=period):
        raw = request.POST.get(f"value-{row.key}", "").strip()
        note = request.POST.get(f"note-{row.key}", "")
        posted[row.key] = raw
        posted[f"note-{row.key}"] = note
        if not raw or not row.editable:
            continue
        try:
            services.save_value(
                actor=user,  # type: ignore[arg-type]
                indicator=row.setting.indicator,
                period=period,
                region=row.region,
                value=raw,
                note=note,
                today=today,
            )
            saved += 1
        except (ValidationError, PermissionDenied) as exc:
            errors[row.key] = _messages_of(exc)
    submitted = 0
    if request.POST.get("action") == "submit" and not errors:
        own = IndicatorValue.objects.visible_to(user).filter(
            period=period, indicator__setting__reporting_department=getattr(user, "department", None)
        )
        submitted = services.submit_values(actor=user, values=own)  # type: ignore[arg-type]
    if errors:
        messages.error(request, f"有 {len(errors)} 行未保存，请按提示修改；其余 {saved} 行已保存")
    elif submitted:
        messages.success(request, f"已保存 {saved} 行，报送 {submitted} 项至工作专班审核")
    else:
        messages.success(request, f"已保存 {saved} 行（草稿，尚未报送）")
    return errors, posted


def review(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not is_task_force(user):
        raise PermissionDenied("只有工作专班可以审核")
    status = request.GET.get("status", IndicatorValue.Status.SUBMITTED)
    period = Period.objects.filter(code=request.GET.get("period", "")).first()
    values = selectors.review_queue(user=user, period=period, status=status)
    if request.GET.get("format") == "xlsx":
        return xlsx_response(
            filename=f"review-{period.code if period else 'all'}.xlsx",
            title="数据审核",
            headers=["期间", "指标", "地区", "数值", "单位", "填报单位", "状态", "版本", "说明", "退回原因"],
            rows=(
                [
                    v.period.label,
                    v.indicator.name,
                    v.region.name,
                    float(v.value),
                    v.indicator.setting.value_unit,
                    v.indicator.setting.reporting_department.name if v.indicator.setting.reporting_department else "",
                    v.get_status_display(),
                    v.revision,
                    v.note,
                    v.return_reason,
                ]
                for v in values
            ),
        )
    return render(
        request,
        "monitoring/review.html",
        {
            "values": values[:500],
            "total": values.count(),
            "status": status,
            "statuses": IndicatorValue.Status.choices,
            "period": period,
            "periods": Period.objects.visible_to(user).filter(values__isnull=False).distinct(),
        },
    )


@require_POST
def review_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    value = get_visible_or_404(IndicatorValue.objects.visible_to(user), pk=pk)
    try:
        if request.POST.get("action") == "approve":
            services.approve_value(actor=user, value=value)  # type: ignore[arg-type]
            messages.success(request, f"已审核通过：{value.indicator.name}（{value.region.name}）")
        else:
            services.return_value(actor=user, value=value, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
            messages.success(request, f"已退回：{value.indicator.name}（{value.region.name}）")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _messages_of(exc))
    return redirect_next(request, reverse("monitoring:review"))


@require_POST
def review_bulk(request: HttpRequest) -> HttpResponse:
    """通过所选: approve each ticked value on its own; one that changed meanwhile is reported, not fatal."""
    user = request.user
    if not is_task_force(user):
        raise PermissionDenied("只有工作专班可以审核")
    ids = [int(pk) for pk in request.POST.getlist("ids") if pk.isdigit()]
    approved, problems = 0, []
    for value in IndicatorValue.objects.visible_to(user).filter(pk__in=ids).select_related("indicator", "region"):
        try:
            services.approve_value(actor=user, value=value)  # type: ignore[arg-type]
            approved += 1
        except (ValidationError, PermissionDenied) as exc:
            problems.append(f"{value.indicator.name}（{value.region.name}）：{_messages_of(exc)}")
    if approved:
        messages.success(request, f"已审核通过 {approved} 项")
    for problem in problems:
        messages.error(request, problem)
    if not ids:
        messages.info(request, "请先勾选要通过的数值")
    return redirect_next(request, reverse("monitoring:review"))


def value_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    value = get_visible_or_404(
        IndicatorValue.objects.visible_to(user).select_related("indicator__setting", "period", "region"), pk=pk
    )
    error = ""
    if request.method == "POST" and request.FILES.get("evidence"):
        try:
            services.attach_evidence(actor=user, value=value, upload=request.FILES["evidence"])  # type: ignore[arg-type]
        except (ValidationError, PermissionDenied) as exc:
            error = _messages_of(exc)
        else:
            messages.success(request, "佐证材料已上传")
            return redirect("monitoring:value", pk=value.pk)
    elif request.method == "POST":
        try:
            services.correct_value(
                actor=user,  # type: ignore[arg-type]
                value=value,
                new_value=request.POST.get("value", ""),
                reason=request.POST.get("reason", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            error = _messages_of(exc)
        else:
            messages.success(request, "更正已提交，等待工作专班审核")
            return redirect("monitoring:value", pk=value.pk)
    department = getattr(user, "department", None)
    can_correct = (
        value.status == IndicatorValue.Status.APPROVED
        and department is not None
        and value.indicator.setting.reporting_department_id == department.pk
    )
    return render(
        request,
        "monitoring/value_detail.html",
        {
            "value": value,
            "revisions": selectors.value_history(user=user, value=value),
            "can_correct": can_correct,
            "can_attach": services.may_fill(user, value),
            "attachments": value.attachments.select_related("uploaded_by"),
            "error": error,
        },
        status=400 if error else 200,
    )


def evidence_download(request: HttpRequest, pk: int) -> FileResponse:
    """A file of evidence, for those who may see its value only."""
    attachment = get_visible_or_404(ValueAttachment.objects.visible_to(request.user), pk=pk)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


def _period_from_query(request: HttpRequest) -> Period:
    try:
        ref = PeriodRef.parse(request.GET.get("period", ""))
    except ValueError as exc:
        raise Http404(str(exc)) from exc
    return services.ensure_period(ref=ref, actor=request.user)  # type: ignore[arg-type]


def report_template(request: HttpRequest) -> HttpResponse:
    """下载填报模板 for the user's department and the chosen period."""
    period = _period_from_query(request)
    department = getattr(request.user, "department", None)
    name = f"{department.short_name or department.name if department else '填报'}-{period.code}.xlsx"
    content = excel.build_template(user=request.user, period=period)
    return attachment_response(content, content_type=XLSX, filename=name)


@require_POST
def report_upload(request: HttpRequest) -> HttpResponse:
    """上传填报模板: size and format are checked at once, then a background job saves the rows (monitoring/jobs.py)
    and its page shows the progress, the refused rows with their reasons and a result file."""
    period = _period_from_query(request)
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "请选择要上传的 Excel 文件")
    elif (upload.size or 0) > MAX_UPLOAD:
        messages.error(request, "文件超过 10MB，请分批上传")
    else:
        try:
            job = monitoring_jobs.start_upload(
                actor=request.user,  # type: ignore[arg-type]
                period=period,
                filename=upload.name or "",
                data=uploads.read_upload(upload, max_bytes=MAX_UPLOAD),
            )
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, "文件已上传，正在后台逐行保存；可以离开本页，完成后出现在首页“待办”中")
            return redirect("jobs:detail", pk=job.pk)
    return render(request, "monitoring/upload_result.html", {"period": period}, status=400)
