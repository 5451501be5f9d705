"""反向开票 pages: the list (filters, totals, seller masked), the form a recycler's clerk fills in at the counter,
and the month's Excel list. Recyclers see and create their own; officials read (a county officer their county);
everyone else is refused."""

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

from huanxin.core import inputs
from huanxin.core.exports import xlsx_response
from huanxin.core.models import Organisation
from huanxin.core.roles import Role, is_official
from huanxin.core.views import actor, get_visible_or_404
from huanxin.recycling import invoices
from huanxin.recycling.models import ReverseInvoice, Site, TaxRule

PER_PAGE = 50
FORM_FIELDS = ("site", "seller_name", "seller_id", "sold_on", "category", "description", "weight_kg", "amount", "token")
FIELD_OF = {"amount_fen": "amount", "__all__": "form"}  # service error keys → form fields


def _is_recycler(user: Any) -> bool:
    return getattr(user, "role", None) == Role.RECYCLER and bool(getattr(user, "organisation_id", None))


def _readers_only(request: HttpRequest) -> None:
    if not (_is_recycler(request.user) or is_official(request.user)):
        raise PermissionDenied("反向开票仅供回收企业和政府工作人员查看")


def _errors(exc: ValidationError | PermissionDenied) -> dict[str, str]:
    if isinstance(exc, PermissionDenied):
        return {"form": str(exc) or "无权进行此操作"}
    if hasattr(exc, "error_dict"):
        return {FIELD_OF.get(k, k): "；".join(v) for k, v in exc.message_dict.items()}
    return {"form": "；".join(exc.messages)}


def _codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code or "" for errs in exc.error_dict.values() for e in errs}
    return {e.code or "" for e in exc.error_list}


def _month(value: str) -> dt.date | None:
    return inputs.filter_date(f"{value.strip()}-01")


def _int(value: str) -> int:
    return inputs.lookup_id(value) or 0


def _categories() -> list[tuple[str, str]]:
    return [(c.value, str(c.label)) for c in invoices.INVOICE_CATEGORIES]


def _recycler_orgs(user: Any) -> Any:
    """For officials: the recyclers whose invoices they may read (the organisation filter and the export)."""
    return Organisation.objects.filter(pk__in=ReverseInvoice.objects.visible_to(user).values("organisation")).order_by(
        "name"
    )


def _display(invoice: ReverseInvoice) -> dict[str, Any]:
    """One row of the list, money as yuan text and the seller masked (张** 130722********1234)."""
    return {
        "number": invoice.number,
        "sold_on": invoice.sold_on,
        "organisation": invoice.organisation.name,
        "site": invoice.site.name if invoice.site else "",
        "region": invoice.region.name,
        "seller": invoice.masked_seller,
        "seller_id": invoice.masked_seller_id,
        "category": invoice.get_category_display(),
        "description": invoice.description,
        "weight_kg": f"{invoice.weight_kg:,.2f}",
        "amount": invoices.yuan_text(invoice.amount_fen),
        "vat": invoices.yuan_text(invoice.vat_fen),
        "iit": invoices.yuan_text(invoice.iit_fen),
    }


def invoice_list(request: HttpRequest) -> HttpResponse:
    _readers_only(request)
    user = request.user
    filters = {key: request.GET.get(key, "").strip() for key in ("month", "category", "q", "org")}
    month = _month(filters["month"]) if filters["month"] else None
    if filters["month"] and month is None:
        filters["month"] = ""
    official = is_official(user)
    qs = invoices.invoices_for(
        user=user,
        month=month,
        category=filters["category"],
        q=filters["q"],
        organisation=_int(filters["org"]) if official else None,
    )
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    export_month = filters["month"] or timezone.localdate().strftime("%Y-%m")
    export_query = {"month": export_month, **({"org": filters["org"]} if official and filters["org"] else {})}
    return render(
        request,
        "recycling/invoice_list.html",
        {
            "page": page,
            "rows": [_display(invoice) for invoice in page],
            "filters": filters,
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "totals": {k: v if k == "count" else invoices.yuan_text(v) for k, v in invoices.totals(qs).items()},
            "official": official,
            "categories": _categories(),
            "organisations": _recycler_orgs(user) if official else None,
            "can_create": _is_recycler(user),
            "can_export": _is_recycler(user) or bool(official and filters["org"]),
            "export_url": f"{reverse('recycling:invoice_export')}?{urlencode(export_query)}",
            "export_month": export_month,
        },
    )


def _quote_display(q: invoices.Quote) -> dict[str, Any]:
    """The seller's totals after a refusal for the cap (all recyclers; this invoice not included)."""
    return {
        "cap": invoices.yuan_text(q.cap_fen),
        "rolling": invoices.yuan_text(q.rolling_fen),
        "year": invoices.yuan_text(q.year_fen),
        "month": invoices.yuan_text(q.month_fen),
        "headroom": invoices.yuan_text(q.headroom_fen),
        "binding_end": q.binding_end if q.binding_end != q.sold_on else None,
        "sold_on": q.sold_on,
    }


def invoice_form(request: HttpRequest) -> HttpResponse:
    """开具反向发票 (a recycler's clerk). A refusal keeps what was typed, each message next to its field; a
    refusal for the 12-month cap shows the seller's totals and what may still be invoiced."""
    if not _is_recycler(request.user):
        raise PermissionDenied("只有回收企业的工作人员可以反向开票")
    clerk = actor(request)
    today = timezone.localdate()
    sites = (
        Site.objects.visible_to(clerk)
        .filter(organisation_id=clerk.organisation_id or 0)
        .exclude(status=Site.Status.CLOSED)
    )
    form = {key: "" for key in FORM_FIELDS}
    form.update(token=uuid.uuid4().hex, sold_on=today.isoformat())
    if len(sites) == 1:
        form["site"] = str(sites[0].pk)
    errors: dict[str, str] = {}
    refused: dict[str, Any] | None = None
    if request.method == "POST":
        form = {key: request.POST.get(key, "").strip() for key in FORM_FIELDS}
        site = next((s for s in sites if str(s.pk) == form["site"]), None)
        parse_errors: dict[str, str] = {}
        try:
            amount_fen = invoices.parse_yuan(form["amount"])
        except ValidationError as exc:
            parse_errors.update(_errors(exc))
            amount_fen = 0
        sold_on: dt.date | None
        try:
            sold_on = dt.date.fromisoformat(form["sold_on"])
        except ValueError:
            sold_on = None
        if site is None:
            errors = {"site": "请选择开票站点"}
        else:
            try:
                invoice = invoices.record_invoice(
                    actor=clerk,
                    site=site,
                    seller_name=form["seller_name"],
                    seller_id=form["seller_id"],
                    sold_on=sold_on,  # type: ignore[arg-type]  # None is refused with invalid_date
                    category=form["category"],
                    description=form["description"],
                    weight_kg=form["weight_kg"],
                    amount_fen=amount_fen,
                    token=form["token"],
                    today=today,
                )
            except (ValidationError, PermissionDenied) as exc:
                errors = _errors(exc)
                if isinstance(exc, ValidationError) and "over_annual_cap" in _codes(exc) and sold_on is not None:
                    refused = _quote_display(
                        invoices.quote(seller_id=form["seller_id"], sold_on=sold_on, amount_fen=amount_fen)
                    )
            else:
                taxes = (
                    f"增值税{invoices.yuan_text(invoice.vat_fen)}元"
                    if invoice.vat_fen
                    else "月销售额未超过免征额，免征增值税"
                )
                messages.success(
                    request,
                    f"已开具反向发票 {invoice.number}：金额{invoices.yuan_text(invoice.amount_fen)}元，{taxes}，"
                    f"预征个人所得税{invoices.yuan_text(invoice.iit_fen)}元。",
                )
                return redirect(f"{reverse('recycling:invoices')}?{urlencode({'q': invoice.number})}")
        errors = {**errors, **parse_errors}  # "不是数字" says more than "应大于0"
    try:
        rule = _rule_display(TaxRule.objects.in_force(today))
    except TaxRule.DoesNotExist:
        rule = None
    return render(
        request,
        "recycling/invoice_form.html",
        {
            "form": form,
            "errors": errors,
            "sites": sites,
            "categories": _categories(),
            "refused": refused,
            "rule": rule,
            "today": today,
        },
        status=400 if errors else 200,
    )


def _rule_display(rule: TaxRule) -> dict[str, str]:
    return {
        "source": rule.source or rule.name,
        "cap": f"{invoices.yuan(rule.rolling_cap_fen) / 10000:,.0f}万元",
        "vat_free": f"{invoices.yuan(rule.vat_free_monthly_fen) / 10000:,.0f}万元",
        "vat_rate": f"{rule.vat_rate_bp / 100:g}%",
        "iit_rate": f"{rule.iit_rate_bp / 100:g}%",
    }


def invoice_export(request: HttpRequest) -> HttpResponse:
    """The month's 反向开票清单 of one recycler (a recycler its own; an official names one with ?org=)."""
    _readers_only(request)
    user = request.user
    month = _month(request.GET.get("month", "")) or timezone.localdate().replace(day=1)
    organisation: Organisation
    if _is_recycler(user):
        organisation = Organisation.objects.get(pk=actor(request).organisation_id or 0)
    else:
        org_id = _int(request.GET.get("org", ""))
        if not org_id:
            messages.error(request, "请先选择回收企业，再导出该企业的月度清单。")
            return redirect(f"{reverse('recycling:invoices')}?{urlencode({'month': month.strftime('%Y-%m')})}")
        organisation = get_visible_or_404(_recycler_orgs(user), pk=org_id)
    rows = invoices.monthly_rows(organisation=organisation, month=month, user=user)
    title = f"{month.year}年{month.month}月反向开票清单"
    return xlsx_response(
        filename=f"{organisation.name}-{title}.xlsx", title=title, headers=invoices.EXPORT_HEADERS, rows=rows
    )
