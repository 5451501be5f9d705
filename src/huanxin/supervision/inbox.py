from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from huanxin.core import inbox
from huanxin.core.roles import is_task_force
from huanxin.supervision import selectors
from huanxin.supervision.models import Notice


@inbox.provider
def supervision_items(user: Any) -> list[inbox.Item]:
    today = timezone.localdate()
    items = []
    notices_url = reverse("supervision:notices")
    if is_task_force(user):
        answered = Notice.objects.visible_to(user).filter(status=Notice.Status.ANSWERED).count()
        overdue = selectors.notices(user=user, overdue=True, today=today).count()
        items += [
            inbox.Item("已答复待办结的督办单", answered, notices_url + "?status=answered"),
            inbox.Item("逾期未答复的督办单", overdue, notices_url + "?overdue=1", "warn"),
        ]
    department = getattr(user, "department", None)
    if department is not None and getattr(user, "role", None) == "department_officer":
        waiting = selectors.notices(user=user, department=department.code).filter(
            status__in=[Notice.Status.ISSUED, Notice.Status.RETURNED]
        )
        late = waiting.filter(due_on__lt=today).count()
        items.append(inbox.Item("待答复的督办单", waiting.count(), notices_url, "bad" if late else "warn"))
        milestones = selectors.overdue_milestones(user=user, today=today, department=department).count()
        items.append(inbox.Item("逾期的里程碑", milestones, reverse("supervision:mine"), "bad"))
        missing = sum(
            len(d.missing) for d in selectors.department_duties(user=user, department=department, today=today)
        )
        items.append(inbox.Item("未报送的月度进展报告", missing, reverse("supervision:mine"), "warn"))
    return items
