"""Roles (see docs/architecture.md) and the few questions views and selectors ask about them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from huanxin.core.models import User


class Role(models.TextChoices):
    TASK_FORCE = "task_force", "工作专班"
    DEPARTMENT_OFFICER = "department_officer", "责任单位经办人"
    COUNTY_OFFICER = "county_officer", "县区经办人"
    REVIEWER = "reviewer", "审核员"
    FINANCE_OFFICER = "finance_officer", "财务人员"
    AUDITOR = "auditor", "审计监督"
    MERCHANT = "merchant", "商户"
    RECYCLER = "recycler", "回收企业"
    ENTERPRISE = "enterprise", "企业"
    CITIZEN = "citizen", "居民"


OFFICIAL_ROLES = frozenset(
    {
        Role.TASK_FORCE,
        Role.DEPARTMENT_OFFICER,
        Role.COUNTY_OFFICER,
        Role.REVIEWER,
        Role.FINANCE_OFFICER,
        Role.AUDITOR,
    }
)


def is_authenticated(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_official(user: User | Any) -> bool:
    return is_authenticated(user) and (user.is_superuser or user.role in OFFICIAL_ROLES)


def reads_everything(user: User | Any) -> bool:
    """The task force and auditors read across departments (auditors change nothing)."""
    return is_authenticated(user) and (user.is_superuser or user.role in {Role.TASK_FORCE, Role.AUDITOR})


def is_task_force(user: User | Any) -> bool:
    return is_authenticated(user) and (user.is_superuser or user.role == Role.TASK_FORCE)


def is_auditor(user: User | Any) -> bool:
    return is_authenticated(user) and (user.is_superuser or user.role == Role.AUDITOR)


def belongs_to(user: User | Any, organisation_id: int | None) -> bool:
    """Whether the user works for this organisation. An account linked to none belongs to none: comparing two
    missing links would otherwise match every record without an organisation."""
    own = getattr(user, "organisation_id", None)
    return is_authenticated(user) and own is not None and organisation_id is not None and own == organisation_id


def county_of(user: User | Any) -> Any:
    """The region a county officer works for (their organisation's); None for everyone else."""
    if getattr(user, "role", None) != Role.COUNTY_OFFICER or not getattr(user, "organisation_id", None):
        return None
    return user.organisation.region  # type: ignore[union-attr]
