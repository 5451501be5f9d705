"""Writes on plans: loading a plan file, and departments' 落实举措 (measure actions)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from huanxin.core import audit
from huanxin.core.models import Department, User
from huanxin.core.roles import Role
from huanxin.plans.loader import LoadReport, load_plan
from huanxin.plans.models import Measure, MeasureAction, Responsibility


def load_plan_file(*, path: Path, actor: User | None = None) -> LoadReport:
    """Validate and load a plan file; see huanxin.plans.loader (one transaction, audited when it changes)."""
    return load_plan(path, actor=actor)


def _acting_department(user: User, measure: Measure) -> Department:
    department = user.department
    if user.role != Role.DEPARTMENT_OFFICER or department is None:
        raise PermissionDenied("只有责任单位经办人可以填报落实举措")
    if not Responsibility.objects.filter(clause__measure=measure, department=department).exists():
        raise PermissionDenied("本单位不是该举措的责任单位")
    return department


def _clean_action_fields(title: str, body: str) -> tuple[str, str]:
    title, body = title.strip(), body.strip()
    errors = {}
    if not title:
        errors["title"] = "请填写举措名称"
    elif len(title) > 120:
        errors["title"] = "举措名称不超过120字"
    if not body:
        errors["body"] = "请填写具体内容"
    if errors:
        raise ValidationError(errors)
    return title, body


@transaction.atomic
def save_measure_action(
    *,
    actor: User,
    measure: Measure,
    title: str,
    body: str,
    due_on: dt.date | None = None,
    action: MeasureAction | None = None,
) -> MeasureAction:
    """Create or edit a draft 落实举措 for the actor's department."""
    department = _acting_department(actor, measure)
    title, body = _clean_action_fields(title, body)
    if action is None:
        action = MeasureAction.objects.create(
            measure=measure, department=department, title=title, body=body, due_on=due_on, created_by=actor
        )
        audit.record(
            actor=actor,
            action="measure_action.created",
            target=action,
            changes={"measure": measure.code, "department": department.code, "title": title},
        )
        return action
    action = MeasureAction.objects.select_for_update().get(pk=action.pk)
    if action.department_id != department.pk:
        raise PermissionDenied("不能修改其他单位的落实举措")
    if action.status != MeasureAction.Status.DRAFT:
        raise ValidationError("已报送的举措不能再修改")
    before = {"title": action.title, "body": action.body, "due_on": action.due_on}
    action.title, action.body, action.due_on = title, body, due_on
    action.save(update_fields=["title", "body", "due_on", "updated_at"])
    after = {"title": title, "body": body, "due_on": due_on}
    audit.record(actor=actor, action="measure_action.updated", target=action, changes=audit.diff(before, after))
    return action


@transaction.atomic
def submit_measure_action(*, actor: User, action: MeasureAction) -> MeasureAction:
    """报送: the draft becomes visible to the task force and the other departments. Submitting twice is a no-op."""
    action = MeasureAction.objects.select_for_update().get(pk=action.pk)
    department = _acting_department(actor, action.measure)
    if action.department_id != department.pk:
        raise PermissionDenied("不能报送其他单位的落实举措")
    if action.status == MeasureAction.Status.SUBMITTED:
        return action
    action.status = MeasureAction.Status.SUBMITTED
    action.submitted_at = timezone.now()
    action.save(update_fields=["status", "submitted_at", "updated_at"])
    audit.record(
        actor=actor,
        action="measure_action.submitted",
        target=action,
        changes={"status": ["draft", "submitted"]},
    )
    return action
