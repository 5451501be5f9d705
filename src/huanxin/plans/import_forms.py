"""The forms that edit an imported draft on the review page: the plan's header (name, 文号, 成文日期, 发文机关, region)
and one section or measure (title, text, clauses with lead and co-operating departments, targets with value, unit
and year). The pages read the draft, the services in `imports.py` write it; the YAML editor stays as 高级."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from huanxin.core import inputs
from huanxin.core.views import actor, form_errors, get_visible_or_404
from huanxin.plans import imports
from huanxin.plans.models import PlanImport

COMPARATORS = [("gte", "≥ 不低于"), ("gt", "> 超过"), ("eq", "= 达到"), ("lte", "≤ 不超过")]


def _draft(plan_import: PlanImport) -> dict[str, Any]:
    try:
        data = yaml.safe_load(plan_import.draft_yaml or "")
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _confidence(entry: dict[str, Any]) -> float | None:
    value = entry.get("confidence")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- the header --------------------------------------------------------------------------------------------------


def header_form(plan_import: PlanImport, posted: dict[str, str] | None = None) -> dict[str, Any]:
    """The 方案信息 form's fields. A placeholder field is shown empty, so saving the form means typing what the
    document says; it is never confirmed by pressing 保存 over the importer's stand-in."""
    plan = _draft(plan_import).get("plan")
    plan = plan if isinstance(plan, dict) else {}
    left = set(plan.get("placeholders") or [])
    fields: list[dict[str, Any]] = []
    for key, label in imports.HEADER_LABELS.items():
        value = "" if key in left or imports._STAND_IN in str(plan.get(key) or "") else str(plan.get(key) or "")
        fields.append({"name": key, "label": label, "value": value, "placeholder": key in left or not value})
    code = str(plan.get("code") or "")
    fields.insert(
        0,
        {
            "name": "code",
            "label": "方案代码",
            "value": "" if code.startswith("draft-") else code,  # the importer's draft-2024-xxxxxx
            "placeholder": code.startswith("draft-"),
            "current": code if code.startswith("draft-") else "",
        },
    )
    region = str(plan.get("region") or "")
    names: dict[str, str] = {str(r.get("code")): str(r.get("name")) for r in plan_import_regions(plan_import)}
    fields.append(
        {
            "name": "region",
            "label": "地区代码",
            "value": "" if region == imports.PLACEHOLDER_REGION else region,
            "placeholder": region == imports.PLACEHOLDER_REGION,
            "current": names.get(region, ""),
        }
    )
    if posted is not None:
        for entry in fields:
            entry["value"] = posted.get(str(entry["name"]), "")
    return {"fields": fields}


def plan_import_regions(plan_import: PlanImport) -> list[dict[str, Any]]:
    regions = _draft(plan_import).get("regions")
    return [r for r in regions if isinstance(r, dict)] if isinstance(regions, list) else []


@require_POST
def import_header(request: HttpRequest, pk: int) -> HttpResponse:
    from huanxin.plans.views import _import_context

    user = actor(request)
    plan_import = get_visible_or_404(PlanImport.objects.visible_to(user), pk=pk)
    if plan_import.status != PlanImport.Status.DRAFT:  # the page shows no header form then: say it above the page
        messages.error(request, "只有待审阅的草稿可以修改")
        return redirect("plans:import_detail", pk=pk)
    posted = {key: request.POST.get(key, "") for key in ("code", *imports.HEADER_LABELS, "region")}
    try:
        issued_on = inputs.business_date(
            posted["issued_on"], label="成文日期", field="issued_on", earliest=dt.date(1990, 1, 1)
        )
        imports.save_header(
            actor=user,
            plan_import=plan_import,
            title=posted["title"],
            document_number=posted["document_number"],
            issuer=posted["issuer"],
            issued_on=issued_on,
            region_code=posted["region"],
            code=posted["code"],
        )
    except (ValidationError, PermissionDenied) as exc:
        errors = form_errors(exc)
        if isinstance(exc, ValidationError) and not hasattr(exc, "error_dict"):
            errors = {"form": "；".join(exc.messages)}
        context = _import_context(plan_import, header=header_form(plan_import, posted), header_errors=errors)
        return render(request, "plans/import_detail.html", context, status=400)
    messages.success(request, "方案信息已保存")
    return redirect(reverse("plans:import_detail", args=[pk]) + "#header")


# --- a section or a measure --------------------------------------------------------------------------------------


def _rows(data: dict[str, Any], kind: str, node: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    clauses = []
    for n, clause in enumerate(node.get("responsibilities") or [] if kind == "measure" else []):
        codes = [str(c) for c in clause.get("departments") or []]
        confidence = _confidence(clause)
        clauses.append(
            {
                "n": n,
                "clause": clause.get("clause", ""),
                "lead": codes[0] if codes else "",
                "co": codes[1:],
                "open": bool(clause.get("open_ended")),
                "checked": confidence is not None and confidence >= imports.LOW_CONFIDENCE,
                "confidence": confidence,
            }
        )
    targets = []
    for n, target in enumerate(node.get("indicators") or []):
        confidence = _confidence(target)
        value = target.get("target")
        targets.append(
            {
                "n": n,
                "statement": target.get("statement", ""),
                "qualitative": target.get("kind") == "qualitative",
                "kind": target.get("kind", ""),
                "name": target.get("name", ""),
                "comparator": target.get("comparator") or "gte",
                "target": "" if value is None else str(value),
                "unit": target.get("unit") or "",
                "year": str(target.get("target_year") or ""),
                "aspirational": bool(target.get("aspirational")),
                "measures": [str(m) for m in target.get("measures") or []] if kind == "section" else None,
                "checked": confidence is not None and confidence >= imports.LOW_CONFIDENCE,
                "delete": False,
                "confidence": confidence,
            }
        )
    return clauses, targets


def _overlay(request: HttpRequest, clauses: list[dict[str, Any]], targets: list[dict[str, Any]]) -> None:
    """Put what was typed back into the rows, so a refused form shows the reviewer's input, not the draft's."""
    post = request.POST
    for row in clauses:
        p = f"c{row['n']}-"
        row.update(
            lead=post.get(p + "lead", ""),
            co=post.getlist(p + "co"),
            open=bool(post.get(p + "open")),
            checked=bool(post.get(p + "checked")),
        )
    for row in targets:
        p = f"t{row['n']}-"
        row.update(
            name=post.get(p + "name", ""),
            comparator=post.get(p + "comparator", ""),
            target=post.get(p + "target", ""),
            unit=post.get(p + "unit", ""),
            year=post.get(p + "year", ""),
            aspirational=bool(post.get(p + "aspirational")),
            checked=bool(post.get(p + "checked")),
            delete=bool(post.get(p + "delete")),
        )
        if row["measures"] is not None:
            row["measures"] = post.getlist(p + "measures")


def _parse(request: HttpRequest, clauses: list[dict[str, Any]], targets: list[dict[str, Any]]) -> imports.ItemEdit:
    """The POST as an edit, or a ValidationError naming each bad field (c0-lead, t1-target …)."""
    post = request.POST
    errors: dict[str, str] = {}
    edit = imports.ItemEdit(title=post.get("title", ""), text=post.get("text", ""), checked=bool(post.get("checked")))
    for row in clauses:
        p = f"c{row['n']}-"
        lead = post.get(p + "lead", "").strip()
        departments = list(dict.fromkeys([lead, *post.getlist(p + "co")])) if lead else []
        edit.clauses.append(
            imports.ClauseEdit(
                departments=[d for d in departments if d],
                open_ended=bool(post.get(p + "open")),
                checked=bool(post.get(p + "checked")),
            )
        )
    for row in targets:
        p = f"t{row['n']}-"
        target = imports.TargetEdit(
            name=post.get(p + "name", ""),
            target_year=0,
            aspirational=bool(post.get(p + "aspirational")),
            checked=bool(post.get(p + "checked")),
            delete=bool(post.get(p + "delete")),
            measures=post.getlist(p + "measures") if row["measures"] is not None else None,
        )
        edit.targets.append(target)
        if target.delete:
            continue
        try:
            target.target_year = inputs.whole_number(
                post.get(p + "year", ""), label="目标年", minimum=1990, maximum=2100, field=p + "year"
            )
            if not row["qualitative"]:
                comparator = post.get(p + "comparator", "")
                if comparator not in dict(COMPARATORS):
                    raise ValidationError({p + "comparator": "请选择比较方式"})
                target.comparator = comparator
                target.target = inputs.decimal(
                    post.get(p + "target", ""), label="目标值", max_digits=14, decimal_places=4, field=p + "target"
                )
                target.unit = inputs.clean_text(
                    post.get(p + "unit", ""), label="单位", max_length=20, required=True, field=p + "unit"
                )
        except ValidationError as exc:
            errors.update(form_errors(exc))
    if errors:
        raise ValidationError(errors)
    return edit


def import_item(request: HttpRequest, pk: int, path: str) -> HttpResponse:
    """One section or measure of the draft in a form, beside its text in the document."""
    user = actor(request)
    plan_import = get_visible_or_404(PlanImport.objects.visible_to(user), pk=pk)
    data = _draft(plan_import)
    try:
        kind, node, code = imports.node_at(data, path)
    except KeyError:
        raise Http404("草稿中没有这一项") from None
    clauses, targets = _rows(data, kind, node)
    errors: dict[str, str] = {}
    values = {"title": node.get("title", ""), "text": node.get("text", ""), "checked": False}
    if request.method == "POST":
        try:
            edit = _parse(request, clauses, targets)
            imports.save_item(actor=user, plan_import=plan_import, path=path, edit=edit)
        except (ValidationError, PermissionDenied) as exc:
            errors = form_errors(exc)
            _overlay(request, clauses, targets)
            values = {key: request.POST.get(key, "") for key in ("title", "text", "checked")}
        else:
            messages.success(request, f"{code} 已保存")
            anchor = next((item.anchor for item in imports.outline(plan_import).items() if item.path == path), "")
            return redirect(reverse("plans:import_detail", args=[pk]) + (f"#{anchor}" if anchor else ""))
    source = node.get("source")
    excerpt = ""
    if isinstance(source, list) and len(source) == 2 and all(isinstance(n, int) for n in source):
        excerpt = plan_import.text[source[0] : source[1]]
    departments = [
        (str(d.get("code")), str(d.get("name"))) for d in data.get("departments") or [] if isinstance(d, dict)
    ]
    measure_options = [(m_code, title) for m_code, title in _measure_options(data)] if kind == "section" else []
    confidence = _confidence(node)
    return render(
        request,
        "plans/import_item_edit.html",
        {
            "imp": plan_import,
            "path": path,
            "kind": kind,
            "code": code,
            "node": node,
            "values": values,
            "confidence": confidence,
            "low": confidence is not None and confidence < imports.LOW_CONFIDENCE,
            "excerpt": excerpt,
            "clauses": clauses,
            "targets": targets,
            "departments": departments,
            "measure_options": measure_options,
            "comparators": COMPARATORS,
            "errors": errors,
            "low_threshold": imports.LOW_CONFIDENCE,
            "editable": plan_import.status == PlanImport.Status.DRAFT,
        },
        status=400 if errors else 200,
    )


def _measure_options(data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for top in data.get("sections") or []:
        if not isinstance(top, dict):
            continue
        for sub in [None, *(s for s in top.get("sections") or [] if isinstance(s, dict))]:
            for m in (sub or top).get("measures") or []:
                if isinstance(m, dict):
                    code = f"{top.get('number', '')}{(sub or {}).get('number', '')}{m.get('number', '')}"
                    out.append((code, str(m.get("title", ""))))
    return out
