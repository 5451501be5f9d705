"""Project-level pages that draw on several apps (the home page). Apps never import this module."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huanxin.core import inbox
from huanxin.core.roles import Role, is_task_force
from huanxin.plans import selectors
from huanxin.plans.models import MeasureAction, Plan


def home(request: HttpRequest) -> HttpResponse:
    """工作台: what is waiting for me, my plans, my department's tasks, and for the task force the latest news."""
    user = request.user
    department = getattr(user, "department", None)
    recent_actions: list[MeasureAction] = []
    if is_task_force(user) or getattr(user, "role", None) == Role.AUDITOR:
        recent_actions = list(
            MeasureAction.objects.visible_to(user)
            .filter(status=MeasureAction.Status.SUBMITTED)
            .select_related("measure__plan", "department")
            .order_by("-submitted_at")[:10]
        )
    return render(
        request,
        "home.html",
        {
            "inbox": inbox.items_for(user),
            "plans": list(Plan.objects.visible_to(user).select_related("region")),
            "department": department,
            "tasks": selectors.department_tasks(user=user, department=department) if department else None,
            "recent_actions": recent_actions,
        },
    )
