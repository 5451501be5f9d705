"""Subsidy pages: citizens and merchants apply (mobile-first), everyone follows an application on the public status
page by its number and the phone's last four digits (no personal data shown), officials watch each programme's
money — balances, burn rate, the date it runs out at the current pace."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core import inputs, pii, throttle, uploads
from huanxin.core.exports import XLSX, attachment_response
from huanxin.core.identity_views import verify_first
from huanxin.core.roles import Role, is_official
from huanxin.core.views import actor, get_visible_or_404
from huanxin.jobs.models import Job
from huanxin.subsidies import batch as batch_import
from huanxin.subsidies import batch_job, evidence, ledger, payees, refunds, review, rules, selectors
from huanxin.subsidies import jobs as subsidy_jobs
from huanxin.subsidies import payments as payments_service
from huanxin.subsidies import queue as subsidy_queue
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Entry, PaymentBatch, Programme, sees_whole_ledger

ITEM_ROWS = 3  # item lines on the form (a family replacing a fridge, a TV and an air conditioner at once)


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    programmes = Programme.objects.visible_to(user).select_related("region")
    if sees_whole_ledger(user) or is_official(user):
        rows = [(p, selectors.forecast(p)) for p in programmes]
        counts = dict(Application.objects.visible_to(user).values_list("status").annotate(n=Count("pk")))
        return render(
            request, "subsidies/overview.html", {"rows": rows, "counts": counts, "statuses": Application.Status.choices}
        )
    applications = Application.objects.visible_to(user).select_related("programme")
    page = Paginator(applications, 20).get_page(request.GET.get("page"))
    today = timezone.localdate()
    open_now = [p for p in programmes if p.status == Programme.Status.OPEN and p.opens_on <= today <= p.closes_on]
    return render(
        request,
        "subsidies/mine.html",
        {"page": page, "programmes": open_now, "merchant": getattr(user, "role", None) == Role.MERCHANT},
    )


def _fen(text: str, field: str) -> int:
    """Yuan as typed to fen: more than 0, to the fen, within what one amount can be (core/inputs.py)."""
    try:
        return inputs.yuan_to_fen(text, label=field, minimum_fen=1, code="invalid_price")
    except ValidationError:
        raise ValidationError(f"{field}应为大于0、最多两位小数的金额", code="invalid_price") from None


SINGLE = {"car_scrap": "car", "car_replace": "car", "ebike": "ebike"}  # one vehicle per application, kind fixed


def _date(post: Any, name: str, label: str) -> dt.date:
    # from 1950: a car's first registration may be old; a purchase date is bounded again by the programme's dates
    return inputs.business_date(post.get(name, ""), label=label, earliest=dt.date(1950, 1, 1))


def _optional_date(post: Any, name: str, label: str) -> dt.date | None:
    return _date(post, name, label) if post.get(name, "").strip() else None


def _items(post: Any, category: str) -> list[ItemIn]:
    items = []
    single = SINGLE.get(category)
    for n in range(1 if single else ITEM_ROWS):
        kind = single or post.get(f"kind_{n}", "").strip()
        invoice = post.get(f"invoice_{n}", "").strip()
        if not kind or (not single and not invoice and not post.get(f"price_{n}", "").strip()):
            continue
        items.append(
            ItemIn(
                kind=kind,
                invoice_no=invoice,
                invoice_date=_date(post, f"date_{n}", f"第{n + 1}件的开票日期"),
                price_fen=_fen(post.get(f"price_{n}", ""), f"第{n + 1}件成交价"),
                brand_model=post.get(f"model_{n}", "").strip(),
                serial=post.get(f"serial_{n}", "").strip(),
                grade=post.get(f"grade_{n}", "").strip(),
                certificate_no=post.get(f"certificate_{n}", "").strip(),
                vin=post.get(f"vin_{n}", "").strip(),
                new_fuel=post.get(f"fuel_{n}", "").strip(),
                transfer_no=post.get(f"transfer_{n}", "").strip(),
                transfer_date=_optional_date(post, f"transfer_date_{n}", "转移登记日期"),
                old_registered_on=_optional_date(post, f"registered_{n}", "旧车登记在本人名下的日期"),
                battery=post.get(f"battery_{n}", "").strip(),
                ccc_no=post.get(f"ccc_{n}", "").strip(),
                standard=post.get(f"standard_{n}", "").strip(),
            )
        )
    return items


def apply(request: HttpRequest, code: str) -> HttpResponse:
    """申请补贴 (citizen) or 代为申请 at the till (merchant): one form, one service."""
    user = actor(request)
    if user.role not in (Role.CITIZEN, Role.MERCHANT):
        raise PermissionDenied("补贴由居民本人申请，或由商户在销售时代为提交")
    if user.role == Role.CITIZEN and not user.identity_verified:  # 实名认证 first, then back to this page
        return verify_first(request)
    programme = get_visible_or_404(Programme.objects.visible_to(user), code=code)
    try:
        params = rules.validate(programme.category, programme.parameters)
    except ValidationError as exc:
        raise PermissionDenied(exc.messages[0]) from exc
    form: dict[str, Any] = {
        "token": uuid.uuid4().hex,
        "applicant_name": "" if user.role == Role.MERCHANT else user.verified_name,
    }
    error = ""
    if request.method == "POST":
        form = request.POST.dict()
        if user.role == Role.CITIZEN:  # the applicant is the account's verified identity, whatever was posted
            form["applicant_name"] = user.verified_name
        try:
            # the evidence files are checked before the application is submitted: a bad file refuses the form
            checked = evidence.check_files(evidence.collect(request.FILES))
            application = submit_application(
                actor=user,
                programme=programme,
                applicant_name=form.get("applicant_name", ""),
                applicant_id=form.get("applicant_id", ""),
                phone=form.get("phone", ""),
                items=_items(request.POST, programme.category),
                idempotency_key=form.get("token", ""),
                payee_name=form.get("payee_name", ""),
                payee_account=form.get("payee_account", ""),
                payee_bank=form.get("payee_bank", ""),
                payee_bank_code=form.get("payee_bank_code", ""),
            )
        except (ValidationError, PermissionDenied) as exc:
            error = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            messages.success(
                request, f"申请已提交，申请编号 {application.number}，补贴 {application.amount_fen / 100:.2f} 元"
            )
            evidence.attach_from_form(request, application, checked)
            return redirect("subsidies:application", number=application.number)
    kinds = list(getattr(params, "kinds", {}).items())
    return render(
        request,
        "subsidies/apply.html",
        {
            "programme": programme,
            "params": params,
            "kinds": [(k, v if isinstance(v, str) else v.label) for k, v in kinds],
            "grades": sorted(getattr(params, "rate_pct_by_grade", {}).items()),
            "rows": _typed_rows(form, 1 if programme.category in SINGLE else ITEM_ROWS),
            "form": form,
            "error": error,
            "merchant": user.role == Role.MERCHANT,
            "today": timezone.localdate().isoformat(),
            # the applicant's account is asked for when the applicant is the one paid (payees.pays_applicant)
            "pays_applicant": payees.pays_applicant(programme.payee, merchant_filed=user.role == Role.MERCHANT),
            "evidence_accept": evidence.ACCEPT,
        },
    )


ROW_FIELDS = (
    *("kind", "model", "serial", "grade", "invoice", "date", "price", "vin", "fuel", "certificate"),
    *("transfer", "transfer_date", "registered", "battery", "ccc", "standard"),
)


def _typed_rows(form: dict[str, Any], count: int) -> list[dict[str, Any]]:
    """The item rows as typed, so a refused form comes back with everything still filled in."""
    today = timezone.localdate().isoformat()
    return [
        {"n": n, **{f: form.get(f"{f}_{n}", "") for f in ROW_FIELDS}, "date": form.get(f"date_{n}") or today}
        for n in range(count)
    ]


def application_detail(request: HttpRequest, number: str) -> HttpResponse:
    application = get_visible_or_404(
        Application.objects.visible_to(request.user).select_related("programme"), number=number
    )
    own = application.applicant_user_id == request.user.pk
    open_request = application.material_requests.filter(supplied_at__isnull=True).first()
    return render(
        request,
        "subsidies/application.html",
        {
            "a": application,
            "items": application.items.all(),
            "checks": application.checks,
            "events": application.events.select_related("actor"),
            "name": application.applicant_name if own else application.masked_name,
            "id_number": pii.mask_resident_id(application.applicant_id),
            "may_review": review.can_review(request.user)
            and application.status in (Application.Status.RESERVED, Application.Status.IN_REVIEW),
            "may_claw_back": payments_service.can_pay(request.user) and application.status == Application.Status.PAID,
            "decisions": application.decisions.select_related("actor"),
            "open_request": open_request,
            "may_supply": open_request is not None
            and (
                own
                or (
                    getattr(request.user, "role", None) == Role.MERCHANT
                    and application.merchant_id == getattr(request.user, "organisation_id", None)
                )
            ),
            "two_person_above_fen": review.two_person_above_fen(application),
            "may_refund": refunds.can_report(request.user, application)
            and application.status in (*refunds.NOT_PAID, Application.Status.PAID),
            **evidence.context(request.user, application),  # 申请材料 beside the application (subsidies/evidence.py)
        },
    )


@require_POST
def application_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    user = actor(request)
    application = get_visible_or_404(Application.objects.visible_to(user), number=number)
    try:
        if action in ("approve", "reject", "more"):
            review.decide(
                actor=user,
                application=application,
                decision=action,
                reason=request.POST.get("reason", ""),
                fraud=request.POST.get("fraud") == "on",
            )
            messages.success(
                request,
                {"approve": "已提交审核意见：通过", "reject": "已不予通过，额度已释放", "more": "已请申请人补充材料"}[
                    action
                ],
            )
        elif action == "supply":
            review.supply_material(actor=user, application=application, note=request.POST.get("note", ""))
            messages.success(request, "补充材料已提交，等待审核")
        elif action == "clawback":
            payments_service.clawback(actor=user, application=application, reason=request.POST.get("reason", ""))
            messages.success(request, "已追回")
        elif action == "refund":
            refund = refunds.report_refund(actor=user, application=application, reason=request.POST.get("reason", ""))
            messages.success(
                request, "已登记退货，已发放的补贴将予追回" if refund.clawed_back else "已登记退货，补贴额度已释放"
            )
        else:
            raise PermissionDenied("未知操作")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return redirect("subsidies:application", number=application.number)


def review_queue(request: HttpRequest) -> HttpResponse:
    """审核队列: the reviewer's applications, highest risk first, searched by number, the applicant's ID tail or
    merchant and filtered by programme, status and risk; the filters live in the URL, so the list reloads, pages
    and is shared as it was asked for (selectors.review_queue)."""
    if not review.can_review(request.user):
        raise PermissionDenied("补贴审核由审核员和县区经办人办理")
    asked = selectors.QueueFilter.from_query(request.GET)
    refused = ""
    try:
        qs = selectors.review_queue(request.user, asked)
    except ValidationError as exc:
        refused, qs = "；".join(exc.messages), Application.objects.none()
    context = {
        "page": Paginator(qs, 30).get_page(request.GET.get("page")),
        "asked": asked,
        "refused": refused,
        "statuses": selectors.QUEUE_STATUSES.items(),
        "risks": selectors.RISK_BANDS.items(),
        "programmes": selectors.queue_programmes(request.user),
    }
    return render(request, "subsidies/review.html", context)


def payments(request: HttpRequest) -> HttpResponse:
    """资金发放: approved applications waiting per programme, batches, and making a new batch."""
    user = actor(request)
    if not payments_service.can_pay(user):
        raise PermissionDenied("资金发放由财务人员办理")
    if request.method == "POST":
        programme = get_visible_or_404(Programme.objects.visible_to(user), code=request.POST.get("programme", ""))
        try:
            batch = payments_service.create_batch(actor=user, programme=programme)
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            messages.success(request, f"已生成发放批次 {batch.number}")
            if batch.left_out:  # "N 份申请缺少收款账户（…）": they wait for their account
                messages.warning(request, f"{payments_service.describe_left_out(batch.left_out)}，未列入本批次")
            return redirect("subsidies:batch_detail", number=batch.number)
    waiting = [
        (
            p,
            payments_service.payable(p).count(),
            payments_service.describe_left_out(payments_service.missing_accounts(p)),
        )
        for p in Programme.objects.visible_to(user)
    ]
    batches = (
        PaymentBatch.objects.visible_to(user)
        .select_related("programme")
        .annotate(n=Count("payments"), total=Sum("payments__amount_fen"))
    )
    return render(request, "subsidies/payments.html", {"waiting": waiting, "batches": batches[:50]})


def payment_batch(request: HttpRequest, number: str) -> HttpResponse:
    user = actor(request)
    if not payments_service.can_pay(user):
        raise PermissionDenied("资金发放由财务人员办理")
    batch = get_visible_or_404(PaymentBatch.objects.visible_to(user).select_related("programme"), number=number)
    context: dict[str, Any] = {}
    if request.method == "POST" and request.POST.get("action") == "export":
        try:  # again only with a reason (a second copy at the bank pays twice), the file named 重复导出N
            bank_file = payments_service.export_bank_file(
                actor=user, batch=batch, fmt=request.POST.get("format", "xlsx"), reason=request.POST.get("reason", "")
            )
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
            context["reason"] = request.POST.get("reason", "")
        else:
            return attachment_response(
                bank_file.content, content_type=bank_file.content_type, filename=bank_file.filename
            )
    if request.method == "POST" and request.POST.get("action") == "import":
        upload = request.FILES.get("file")
        try:  # the file's rows are applied by a worker (subsidies/jobs.py); its page shows the progress
            if upload is None:
                raise ValidationError("请选择银行回单文件", code="no_file")
            data = uploads.read_upload(upload)
            job = subsidy_jobs.start_bank_result(
                actor=user, batch=batch, name=upload.name or "", content_type=upload.content_type or "", data=data
            )
        except ValidationError as exc:
            messages.error(request, "；".join(exc.messages))
        else:
            return redirect("jobs:detail", pk=job.pk)
    rows = [  # the payee masked: the account in full is in the bank file only
        (p, pii.mask_name(p.payee_name), payees.mask_account(p.payee_account))
        for p in batch.payments.select_related("application").order_by("pk")
    ]
    exports = list(batch.exports.select_related("exported_by"))
    return render(
        request,
        "subsidies/batch_detail.html",
        {
            "batch": batch,
            "rows": rows,
            "exports": exports,
            "exported_before": len(exports) or (1 if batch.status == PaymentBatch.Status.EXPORTED else 0),
            "left_out": payments_service.describe_left_out(batch.left_out),
            "imports": subsidy_jobs.recent_bank_results(user, batch),
            **context,
        },
    )


def _steps(application: Application) -> list[Any]:
    """The public timeline: one line per change of status (a batch's second 审核通过 note is not news)."""
    steps: list[Any] = []
    for event in application.events.all():
        if not steps or steps[-1].status != event.status:
            steps.append(event)
    return steps


# The page and GET /api/v1/subsidies/status share this scope, so they share the counts of failed look-ups.
STATUS_LOOKUPS = throttle.LookupThrottle("subsidies.status")


@login_not_required
def status(request: HttpRequest) -> HttpResponse:
    """Anyone follows an application with its number and the last four digits of the phone it was filed with;
    failed look-ups are throttled per address and per number (core/throttle.py), a refusal is 429."""
    number = request.GET.get("number", "").strip().upper()
    tail = request.GET.get("phone4", "").strip()
    found = None
    wait = STATUS_LOOKUPS.wait(request, number) if number and tail else 0
    if number and tail and not wait:
        candidate = Application.objects.select_related("programme").filter(number=number).first()
        if candidate is not None and len(tail) == 4 and candidate.phone.endswith(tail):
            found = candidate
        else:
            STATUS_LOOKUPS.failed(request, number)
    return render(
        request,
        "subsidies/status.html",
        {
            "number": number,
            "phone4": tail,
            "a": found,
            "checked": bool(number and tail and not wait),
            "throttled": throttle.message(wait) if wait else "",
            "events": _steps(found) if found else [],
        },
        status=429 if wait else 200,
    )


def programme_detail(request: HttpRequest, code: str) -> HttpResponse:
    if not sees_whole_ledger(request.user) and not is_official(request.user):
        raise PermissionDenied("补贴资金情况仅供政府工作人员查看")
    programme = get_visible_or_404(Programme.objects.visible_to(request.user), code=code)
    today = timezone.localdate()
    start = today - dt.timedelta(days=29)
    daily = _daily(programme, start)
    series = [
        {"day": (start + dt.timedelta(days=n)).isoformat(), "yuan": daily.get(start + dt.timedelta(days=n), 0) / 100}
        for n in range(30)
    ]
    counts = dict(programme.applications.values_list("status").annotate(n=Count("pk")))
    return render(
        request,
        "subsidies/programme.html",
        {
            "programme": programme,
            "may_fund": subsidy_queue.can_fund(request.user) and programme.status != Programme.Status.CLOSED,
            "queued": counts.get(Application.Status.QUEUED, 0),
            "forecast": selectors.forecast(programme),
            "series": series,
            "counts": [(label, counts.get(value, 0)) for value, label in Application.Status.choices],
            "params": programme.parameters,
        },
    )


@require_POST
def programme_action(request: HttpRequest, code: str, action: str) -> HttpResponse:
    """追加额度 (fund, then promote the queue) or 处理排队申请 (promote only): the task force or finance."""
    user = actor(request)
    if not subsidy_queue.can_fund(user):
        raise PermissionDenied("追加额度和处理排队申请由工作专班或财务人员办理")
    programme = get_visible_or_404(Programme.objects.visible_to(user), code=code)
    if action not in ("fund", "promote"):
        raise PermissionDenied("未知操作")
    try:
        if action == "fund":
            amount = _fen(request.POST.get("amount", ""), "追加额度")
            note = request.POST.get("note", "").strip()[:200] or "追加额度"
            ledger.fund(actor=user, programme=programme, amount_fen=amount, note=note)
            messages.success(request, f"已追加额度 {ledger.yuan(amount)} 元")
        report = subsidy_queue.promote_queue(actor=user, programme=programme)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        if report.promoted or report.waiting or action == "promote":
            (messages.success if report.promoted else messages.warning)(request, report.summary)
    return redirect("subsidies:programme", code=programme.code)


def _daily(programme: Programme, start: dt.date) -> dict[dt.date, int]:
    """Money reserved per day since `start` (Asia/Shanghai days)."""
    out: dict[dt.date, int] = {}
    for at, amount in Entry.objects.filter(
        programme=programme,
        kind=Entry.Kind.RESERVE,
        at__gte=timezone.make_aware(dt.datetime.combine(start, dt.time.min)),
    ).values_list("at", "amount_fen"):
        day = timezone.localdate(at)
        out[day] = out.get(day, 0) + amount
    return out


# A file up to this size (a few hundred rows) is answered on the page, faster than a round trip through a worker.
BATCH_AT_ONCE = 64 * 1024


def batch(request: HttpRequest) -> HttpResponse:
    """A merchant uploads many sales at once; each row is one application with its own result."""
    user = actor(request)
    if user.role != Role.MERCHANT:
        raise PermissionDenied("批量申请由商户提交")
    context: dict[str, Any] = {}
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ValidationError("请选择要上传的文件", code="no_file")
            if upload.size and upload.size > batch_job.MAX_FILE:
                raise ValidationError("文件超过20MB，请分文件上传", code="file_too_large")
            data = uploads.read_upload(upload)
            if len(data) > BATCH_AT_ONCE:  # a long file goes to a worker: the page answers at once with its progress
                job = batch_job.start(
                    actor=user, name=upload.name or "", content_type=upload.content_type or "", data=data
                )
                return redirect("jobs:detail", pk=job.pk)
            results, result = batch_import.import_batch(actor=user, data=data, filename=upload.name or "")
        except ValidationError as exc:
            context["error"] = "；".join(exc.messages)
        else:
            context.update(
                results=results,
                failed=[r for r in results if not r.ok],
                ok=sum(1 for r in results if r.ok),
                result=result,
                result_b64=base64.b64encode(result.content).decode(),
            )
    context["jobs"] = Job.objects.filter(owner=user, kind=batch_job.KIND)[:5]
    return render(request, "subsidies/batch.html", context)


def batch_template(request: HttpRequest) -> HttpResponse:
    return attachment_response(batch_import.template(), content_type=XLSX, filename="补贴批量申请模板.xlsx")
