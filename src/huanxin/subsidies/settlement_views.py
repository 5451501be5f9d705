"""Pages of the merchant's side of payment: its settlement account (结算账户) and its settlement (商户清算) — what it
advanced at the till, what has been reimbursed, what is still owed and for how long; officials see every merchant.
Account numbers are shown masked here, always."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.exports import CSV, XLSX, attachment_response, build_csv, build_workbook
from huanxin.core.models import Organisation
from huanxin.core.views import actor
from huanxin.subsidies import jobs as subsidy_jobs
from huanxin.subsidies import payees, settlement

PAGE = 30


def merchant_account(request: HttpRequest) -> HttpResponse:
    """结算账户: the merchant keeps the account its reimbursements are paid to."""
    user = actor(request)
    if not payees.can_keep_account(user):
        raise PermissionDenied("结算账户由商户本单位维护")
    current = payees.account_of(user)
    form: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("account_name", "account_no", "bank", "bank_code")}
        try:
            payees.save_merchant_account(
                actor=user,
                account_name=form["account_name"],
                account_no=form["account_no"],
                bank=form["bank"],
                bank_code=form["bank_code"],
            )
        except ValidationError as exc:
            error = "；".join(exc.messages)
            form["account_no"] = form["account_name"] = ""  # never sent back to the page in clear
        else:
            messages.success(request, "结算账户已保存")
            return redirect("subsidies:merchant_account")
    elif current is not None:  # the bank's details as they are; the name and number masked beside the form
        form = {"bank": current.bank, "bank_code": current.bank_code}
    return render(
        request,
        "subsidies/merchant_account.html",
        {
            "current": current,
            "masked_account": payees.mask_account(current.account_no) if current else "",
            "masked_name": pii.mask_name(current.account_name) if current else "",
            "form": form,
            "error": error,
        },
    )


def _export(request: HttpRequest, *, name: str, headers: list[str], rows: list[list[Any]]) -> HttpResponse:
    if request.GET.get("format") == "csv":
        return attachment_response(build_csv(headers=headers, rows=rows), content_type=CSV, filename=f"{name}.csv")
    return attachment_response(
        build_workbook(title=name, headers=headers, rows=rows), content_type=XLSX, filename=f"{name}.xlsx"
    )


def _yuan(fen: int | None) -> str:
    whole, cents = divmod(fen or 0, 100)
    return f"{whole}.{cents:02d}"


def settlement_home(request: HttpRequest) -> HttpResponse:
    """补贴结算: a merchant's own claims; for finance, the task force and auditors, every merchant."""
    user = actor(request)
    own = settlement.own_merchant(user)
    if own is not None:
        return _merchant_page(request, own)
    if not settlement.sees_every_merchant(user):
        raise PermissionDenied("补贴结算仅供商户本单位和财务、工作专班、审计人员查看")
    today = settlement.today()
    rows = settlement.by_merchant()
    if request.GET.get("format") in ("csv", "xlsx"):
        return _export(
            request,
            name=f"商户垫付与结算-{today:%Y%m%d}",
            headers=[
                *("商户", "已垫付笔数", "已垫付（元）", "已结算笔数", "已结算（元）"),
                *("待结算笔数", "待结算（元）", "最久未结算（天）", "不予结算笔数", "不予结算（元）"),
            ],
            rows=[
                [
                    r.organisation.name,
                    r.totals.advanced_count,
                    _yuan(r.totals.advanced_fen),
                    r.totals.settled_count,
                    _yuan(r.totals.settled_fen),
                    r.totals.pending_count,
                    _yuan(r.totals.pending_fen),
                    r.totals.oldest_days(today),
                    r.totals.refused_count,
                    _yuan(r.totals.refused_fen),
                ]
                for r in rows
            ],
        )
    page = Paginator(rows, PAGE).get_page(request.GET.get("page"))
    grand = {
        key: sum(getattr(r.totals, key) for r in rows)
        for key in ("advanced_fen", "settled_fen", "pending_fen", "pending_count", "refused_fen")
    }
    return render(
        request,
        "subsidies/settlement_merchants.html",
        {
            "page": page,
            "rows": [(r, r.totals.oldest_days(today)) for r in page],
            "grand": grand,
            "merchants": len(rows),
        },
    )


def settlement_merchant(request: HttpRequest, organisation_id: int) -> HttpResponse:
    """One merchant's claims, for officials (and for the merchant itself)."""
    user = actor(request)
    if not settlement.may_see(user, organisation_id):
        raise Http404("未找到，或您无权查看")
    return _merchant_page(request, organisation_id)


CLAIM_HEADERS = ["申请编号", "补贴项目", "提交日期", "补贴金额（元）", "状态", "账龄（天）", "发放批次", "到账时间"]


@dataclass(frozen=True)
class Exported:
    content: bytes
    content_type: str
    filename: str
    rows: int


def claims_export(
    user: Any, *, organisation_id: int, view: str, fmt: str, progress: Callable[[int, int], None] | None = None
) -> Exported:
    """One merchant's claims of one view as CSV or Excel: the page's download, and the export job's
    (`subsidies/jobs.py`), which passes `progress(rows so far, total)` and has the owner's rights checked here."""
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None or not settlement.may_see(user, organisation_id):
        raise PermissionDenied("未找到该商户，或您无权查看其结算")
    view = view if view in settlement.VIEWS else "pending"
    today = settlement.today()
    claims = settlement.claims(organisation_id, view)
    total = claims.count() if progress is not None else 0
    rows: list[list[Any]] = []
    for a in claims.iterator(chunk_size=2000):
        rows.append(
            [
                a.number,
                a.programme.name,
                timezone.localdate(a.created_at).isoformat(),
                _yuan(a.amount_fen),
                a.get_status_display(),
                settlement.age_days(a.created_at, today) if view == "pending" else None,
                a.batch_number or "",  # type: ignore[attr-defined]
                timezone.localtime(a.paid_at).strftime("%Y-%m-%d %H:%M") if a.paid_at else "",  # type: ignore[attr-defined]
            ]
        )
        if progress is not None and len(rows) % 1000 == 0:
            progress(len(rows), max(total, len(rows)))
    name = f"{organisation.name}-{settlement.VIEW_LABELS[view]}-{today:%Y%m%d}"
    if fmt == "csv":
        return Exported(build_csv(headers=CLAIM_HEADERS, rows=rows), CSV, f"{name}.csv", len(rows))
    return Exported(build_workbook(title=name, headers=CLAIM_HEADERS, rows=rows), XLSX, f"{name}.xlsx", len(rows))


def _merchant_page(request: HttpRequest, organisation_id: int) -> HttpResponse:
    user = request.user
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise Http404("未找到，或您无权查看")
    view = request.GET.get("show", "pending")
    if view not in settlement.VIEWS:
        view = "pending"
    today = settlement.today()
    claims = settlement.claims(organisation_id, view)
    if (fmt := request.GET.get("format")) in ("csv", "xlsx"):
        count = claims.count()
        if count > subsidy_jobs.EXPORT_AT_ONCE:  # built by a worker; its page offers the file when done
            job = subsidy_jobs.start_export(
                actor=actor(request),
                title=f"导出商户结算：{organisation.name}（{settlement.VIEW_LABELS[view]}，{count} 笔）",
                params={"export": "settlement_claims", "organisation": organisation_id, "view": view, "format": fmt},
                rows_total=count,
            )
            return redirect("jobs:detail", pk=job.pk)
        exported = claims_export(user, organisation_id=organisation_id, view=view, fmt=str(fmt))
        return attachment_response(exported.content, content_type=exported.content_type, filename=exported.filename)
    page = Paginator(claims, PAGE).get_page(request.GET.get("page"))
    own = settlement.own_merchant(user) == organisation_id
    account = payees.account_of(user) if own else None
    totals = settlement.totals(organisation_id)
    return render(
        request,
        "subsidies/settlement.html",
        {
            "organisation": organisation,
            "own": own,
            "totals": totals,
            "today": today,
            "oldest_days": totals.oldest_days(today),
            "view": view,
            "views": list(settlement.VIEW_LABELS.items()),
            "page": page,
            "rows": [(a, settlement.age_days(a.created_at, today)) for a in page],
            "account": account,
            "masked_account": payees.mask_account(account.account_no) if account else "",
            "masked_name": pii.mask_name(account.account_name) if account else "",
        },
    )
