"""待办 from supervision: for a department, notices awaiting its answer, overdue monthly reports and milestones;
for the task force, answered notices awaiting closure and notices past their due date."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from huanxin.core import inbox
from huanxin.core.roles import Role, is_task_force
from huanxin.supervision import selectors
from huanxin.supervision.models import Notice


@inbox.provider
def supervision_items(user: Any) -> list[inbox.Item]:
    today = timezone.localdate()
    notices_url = reverse("supervision:notices")
    items = []
    if is_task_force(user):
        visible = Notice.objects.visible_to(user)
        answered = visible.filter(status=Notice.Status.ANSWERED).count()
        overdue = visible.overdue(today).count()
        items += [
            inbox.Item("已答复待办结的督办单", answered, f"{notices_url}?status=answered", "warn"),
            inbox.Item("逾期未答复的督办单", overdue, f"{notices_url}?overdue=1", "bad"),
        ]
    department = getattr(user, "department", None)
    if department is not None and getattr(user, "role", None) == Role.DEPARTMENT_OFFICER:
        mine = reverse("supervision:mine")
        waiting = Notice.objects.visible_to(user).filter(department=department).awaiting_answer()
        late = waiting.filter(due_on__lt=today).exists()
        items.append(
            inbox.Item(
                "待答复的督办单",
                waiting.count(),
                f"{notices_url}?status={selectors.AWAITING}",
                "bad" if late else "warn",
            )
        )
        months = sum(len(m.months) for m in selectors.missing_reports(user=user, today=today, department=department))
        items.append(inbox.Item("逾期未报送的月度进展报告", months, f"{mine}#duties", "bad"))
        milestones = selectors.overdue_milestones(user=user, today=today, department=department).count()
        items.append(inbox.Item("逾期未完成的里程碑", milestones, f"{mine}#milestones", "bad"))
    return items
