"""待办 from the project library: projects waiting for the user's review, returned projects for an enterprise."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huanxin.core import inbox
from huanxin.core.roles import Role, county_of
from huanxin.projects.models import Project, department_fields


@inbox.provider
def project_items(user: Any) -> list[inbox.Item]:
    role = getattr(user, "role", None)
    url = reverse("projects:list")
    visible = Project.objects.visible_to(user)
    if role == Role.ENTERPRISE:
        return [
            inbox.Item(
                "退回修改的项目",
                visible.filter(status=Project.Status.RETURNED).count(),
                f"{url}?status=returned",
                "warn",
            )
        ]
    if role == Role.COUNTY_OFFICER and county_of(user) is not None:
        return [
            inbox.Item(
                "待县区审核的设备更新项目",
                visible.filter(status=Project.Status.SUBMITTED).count(),
                f"{url}?status=submitted",
                "warn",
            )
        ]
    if role == Role.DEPARTMENT_OFFICER and (fields := department_fields(user)):
        waiting = visible.filter(status=Project.Status.COUNTY_APPROVED, field__in=fields).count()
        return [inbox.Item("待市级审核的设备更新项目", waiting, f"{url}?status=county_approved", "warn")]
    return []
