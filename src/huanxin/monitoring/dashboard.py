"""The task force's dashboard: every target's status, each indicator's path, actual and forecast, the county
breakdown, and departments' on-time reporting."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from huanxin.core.roles import is_official
from huanxin.core.views import get_visible_or_404
from huanxin.monitoring import progress, status
from huanxin.monitoring.models import IndicatorValue
from huanxin.plans.models import Indicator, Plan


def _plan(request: HttpRequest) -> Plan:
    """The plan asked for (or the newest), for officials only: the public sees figures once they are published."""
    if not is_official(request.user):
        raise PermissionDenied("监测数据仅供政府工作人员查看")
    plans = Plan.objects.visible_to(request.user)
    code = request.GET.get("plan")
    return get_visible_or_404(plans, code=code) if code else get_visible_or_404(plans.order_by("-issued_on")[:1])


def on_time_reporting(*, plan: Plan, today: dt.date) -> list[dict[str, Any]]:
    """Per reporting department: values of periods already due, how many were submitted by the due date."""
    rows = (
        IndicatorValue.objects.filter(indicator__plan=plan, derived=False, period__due_on__lt=today)
        .values("indicator__setting__reporting_department__name")
        .annotate(
            total=Count("id"),
            on_time=Count("id", filter=Q(submitted_at__date__lte=F("period__due_on"))),
        )
        .order_by("indicator__setting__reporting_department__name")
    )
    return [
        {
            "department": row["indicator__setting__reporting_department__name"],
            "total": row["total"],
            "on_time": row["on_time"],
            "rate": round(100 * row["on_time"] / row["total"]) if row["total"] else None,
        }
        for row in rows
    ]


def dashboard(request: HttpRequest) -> HttpResponse:
    plan = _plan(request)
    today = timezone.localdate()
    statuses = status.plan_status(user=request.user, plan=plan, today=today)
    counts = Counter(s.status for s in statuses)
    overview = [{"name": st.label, "value": counts.get(st, 0), "status": st.value} for st in progress.Status]
    by_department: dict[str, Counter[progress.Status]] = {}
    for s in statuses:
        department = s.setting.reporting_department if s.setting is not None else None
        if department is not None:
            by_department.setdefault(department.name, Counter())[s.status] += 1
    return render(
        request,
        "monitoring/dashboard.html",
        {
            "plan": plan,
            "today": today,
            "statuses": statuses,
            "overview": overview,
            "at_risk": [s for s in statuses if s.status == progress.Status.AT_RISK],
            "reporting": on_time_reporting(plan=plan, today=today),
            "by_department": [
                {"department": name, "cells": [c.get(st, 0) for st in progress.Status], "total": sum(c.values())}
                for name, c in sorted(by_department.items(), key=lambda kv: -kv[1][progress.Status.AT_RISK])
            ],
            "status_labels": [st.label for st in progress.Status],
        },
    )


def indicator_detail(request: HttpRequest, plan: str, code: str) -> HttpResponse:
    if not is_official(request.user):
        raise PermissionDenied("监测数据仅供政府工作人员查看")
    indicator = get_visible_or_404(
        Indicator.objects.visible_to(request.user).select_related("plan", "setting", "measure"),
        plan__code=plan,
        code=code,
    )
    today = timezone.localdate()
    found = next(
        s
        for s in status.plan_status(user=request.user, plan=indicator.plan, today=today)
        if s.indicator.pk == indicator.pk
    )
    target = status.target_of(indicator, found.setting, indicator.plan)
    chart = _chart(found, target, today)
    return render(
        request,
        "monitoring/indicator_detail.html",
        {
            "plan": indicator.plan,
            "item": found,
            "chart": chart,
            "counties": status.county_breakdown(indicator=indicator, today=today),
        },
    )


def _chart(item: status.IndicatorStatus, target: progress.Target, today: dt.date) -> dict[str, Any]:
    """Series for ECharts: the planned path, the actual figures, the forecast line to the deadline."""
    actual = [[o.on.isoformat(), float(o.value)] for o in item.series]
    a = item.assessment
    path_start = float(target.start_value or 0)
    goal = float(target.target_value) if target.target_value is not None else None
    if target.kind == "growth_vs_baseline" and target.baseline_value:
        goal = float(target.baseline_value) * (1 + (goal or 0) / 100)
        path_start = float(target.baseline_value)
    path = [[target.start.isoformat(), path_start], [target.deadline.isoformat(), goal]] if goal is not None else []
    forecast = []
    if item.series and a.forecast is not None:
        last = item.series[-1]
        value = float(a.forecast)
        if target.kind == "growth_vs_baseline" and target.baseline_value:
            value = float(target.baseline_value) * (1 + value / 100)
        forecast = [[last.on.isoformat(), float(last.value)], [target.deadline.isoformat(), value]]
    return {"actual": actual, "path": path, "forecast": forecast, "today": today.isoformat()}
