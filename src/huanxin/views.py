"""Project-level pages that draw on several apps (the home page). Apps never import this module."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from huanxin import homes
from huanxin.core import inbox
from huanxin.core.roles import Role, is_task_force
from huanxin.plans import selectors
from huanxin.plans.models import MeasureAction, Plan


def home(request: HttpRequest) -> HttpResponse:
    """工作台: each role's own work (homes.py). Officials who plan and report see what is waiting for them, the
    plans, their department's tasks, and for the task force the latest news."""
    user = request.user
    role = getattr(user, "role", None)
    if role in homes.HOMES and not user.is_superuser:
        template, build = homes.HOMES[role]
        return render(request, template, {"inbox": inbox.items_for(user), **build(user)})
    department = getattr(user, "department", None)
    extra = homes.auditor(user) if role == Role.AUDITOR else {}
    recent_actions: list[MeasureAction] = []
    if is_task_force(user) or role == Role.AUDITOR:
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
            **extra,
        },
    )
