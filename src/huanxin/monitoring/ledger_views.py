"""Pages for the works ledgers (工作台账): the kinds, one kind's records with filters and totals, recording and
voiding a record, and Excel export."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from huanxin.core.exports import xlsx_response
from huanxin.core.models import Region
from huanxin.core.views import get_visible_or_404
from huanxin.monitoring import ledgers
from huanxin.monitoring.models import LedgerEntry, LedgerKind


def kind_list(request: HttpRequest) -> HttpResponse:
    active = Q(entries__status=LedgerEntry.Status.ACTIVE)
    kinds = (
        LedgerKind.objects.visible_to(request.user)
        .select_related("department", "plan")
        .annotate(n_entries=Count("entries", filter=active), total=Sum("entries__quantity", filter=active))
    )
    return render(request, "monitoring/ledger_kinds.html", {"kinds": kinds})


def _filtered(request: HttpRequest, kind: LedgerKind) -> tuple[Any, dict[str, str]]:
    filters = {key: request.GET.get(key, "").strip() for key in ("region", "since", "until", "status")}
    entries = LedgerEntry.objects.visible_to(request.user).filter(kind=kind).select_related("region", "created_by")
    if filters["region"]:
        entries = entries.filter(region__code=filters["region"])
    for key, lookup in (("since", "recorded_on__gte"), ("until", "recorded_on__lte")):
        if filters[key]:
            try:
                entries = entries.filter(**{lookup: dt.date.fromisoformat(filters[key])})
            except ValueError:
                messages.error(request, f"日期“{filters[key]}”格式应为 年-月-日，已忽略")
                filters[key] = ""
    entries = entries.filter(status=filters["status"] or LedgerEntry.Status.ACTIVE)
    return entries, filters


def kind_detail(request: HttpRequest, plan: str, code: str) -> HttpResponse:
    kind = get_visible_or_404(
        LedgerKind.objects.visible_to(request.user).select_related("department", "plan__region"),
        plan__code=plan,
        code=code,
    )
    entries, filters = _filtered(request, kind)
    if request.GET.get("format") == "xlsx":
        keys = [a["key"] for a in kind.attributes]
        return xlsx_response(
            filename=f"{kind.code}-ledger.xlsx",
            title=kind.name,
            headers=[
                "完成日期",
                "地区",
                f"数量（{kind.unit}）",
                *[a["label"] for a in kind.attributes],
                "佐证",
                "状态",
            ],
            rows=(
                [
                    e.recorded_on,
                    e.region.name,
                    float(e.quantity),
                    *[e.attributes.get(k, "") for k in keys],
                    e.evidence,
                    e.get_status_display(),
                ]
                for e in entries.order_by("recorded_on", "pk")
            ),
        )
    form = {"token": uuid.uuid4().hex, "recorded_on": timezone.localdate().isoformat()}
    return render(request, "monitoring/ledger_detail.html", _context(request, kind, entries, filters, form))


def _context(
    request: HttpRequest,
    kind: LedgerKind,
    entries: Any,
    filters: dict[str, str],
    form: dict[str, str],
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    department = getattr(request.user, "department", None)
    return {
        "kind": kind,
        "page": Paginator(entries.order_by("-recorded_on", "-pk"), 50).get_page(request.GET.get("page")),
        "filters": filters,
        "counties": Region.objects.filter(Q(parent=kind.plan.region) | Q(pk=kind.plan.region_id)).order_by("code"),
        "total": entries.aggregate(total=Sum("quantity"))["total"] or Decimal(0),
        "by_region": entries.values("region__name").annotate(total=Sum("quantity"), n=Count("id")).order_by("-total"),
        "can_record": department is not None and department.pk == kind.department_id,
        "form": form,
        "errors": errors or {},
    }


@require_POST
def record(request: HttpRequest, plan: str, code: str) -> HttpResponse:
    kind = get_visible_or_404(
        LedgerKind.objects.visible_to(request.user).select_related("department", "plan__region"),
        plan__code=plan,
        code=code,
    )
    form = {key: request.POST.get(key, "") for key in ("region", "recorded_on", "quantity", "evidence", "token")}
    attributes = {a["key"]: request.POST.get(f"attr-{a['key']}", "") for a in kind.attributes}
    errors: dict[str, str] = {}
    region = Region.objects.filter(code=form["region"]).first()
    if region is None:
        errors["region"] = "请选择地区"
    try:
        recorded_on = dt.date.fromisoformat(form["recorded_on"])
    except ValueError:
        errors["recorded_on"] = "日期格式应为 年-月-日"
    if not errors:
        try:
            ledgers.record_entry(
                actor=request.user,  # type: ignore[arg-type]
                kind=kind,
                region=region,  # type: ignore[arg-type]
                recorded_on=recorded_on,
                quantity=form["quantity"],
                attributes={k: v for k, v in attributes.items() if v},
                evidence=form["evidence"],
                idempotency_key=form["token"] or None,
            )
        except ValidationError as exc:
            errors = {("form" if k == "__all__" else k): "；".join(v) for k, v in exc.message_dict.items()}
        except PermissionDenied as exc:
            errors = {"form": str(exc)}
    if not errors:
        messages.success(request, f"已记录：{region.name} {form['quantity']}{kind.unit}")  # type: ignore[union-attr]
        return redirect("monitoring:ledger", plan=plan, code=code)
    entries, filters = _filtered(request, kind)
    form = {**form, **{f"attr-{k}": v for k, v in attributes.items()}}
    return render(
        request, "monitoring/ledger_detail.html", _context(request, kind, entries, filters, form, errors), status=400
    )


@require_POST
def void(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_visible_or_404(LedgerEntry.objects.visible_to(request.user).select_related("kind__plan"), pk=pk)
    try:
        ledgers.void_entry(actor=request.user, entry=entry, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
        messages.success(request, "记录已作废（保留在台账中，可按“已作废”筛选查看）")
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
    return redirect(reverse("monitoring:ledger", args=[entry.kind.plan.code, entry.kind.code]))
