from __future__ import annotations

from typing import Any

from django.urls import reverse

from huanxin.core import inbox
from huanxin.plans.models import MeasureAction


@inbox.provider
def draft_actions(user: Any) -> list[inbox.Item]:
    department = getattr(user, "department", None)
    if department is None:
        return []
    drafts = MeasureAction.objects.visible_to(user).filter(department=department, status=MeasureAction.Status.DRAFT)
    return [inbox.Item("未报送的落实举措草稿", drafts.count(), reverse("plans:department", args=[department.code]))]
