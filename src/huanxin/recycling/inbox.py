"""待办 from the recycling network: for a recycler, bookings to accept and overdue ones; for a citizen or a
merchant, their open bookings; for the task force, recyclers' overdue bookings."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huanxin.core import inbox
from huanxin.core.roles import Role, is_task_force
from huanxin.recycling import selectors
from huanxin.recycling.models import Booking


@inbox.provider
def recycling_items(user: Any) -> list[inbox.Item]:
    role = getattr(user, "role", None)
    url = reverse("recycling:bookings")
    visible = Booking.objects.visible_to(user)
    if role == Role.RECYCLER:
        return [
            inbox.Item("超时的上门回收预约", selectors.overdue(visible).count(), f"{url}?overdue=1", "bad"),
            inbox.Item(
                "待接单的上门回收预约",
                visible.filter(status=Booking.Status.SUBMITTED).count(),
                f"{url}?status=submitted",
                "warn",
            ),
            inbox.Item(
                "已接单待上门", visible.filter(status=Booking.Status.ACCEPTED).count(), f"{url}?status=accepted"
            ),
        ]
    if role in (Role.CITIZEN, Role.MERCHANT):
        return [inbox.Item("进行中的回收预约", visible.filter(status__in=Booking.OPEN).count(), url)]
    if is_task_force(user):
        return [inbox.Item("回收企业超时未处理的预约", selectors.overdue(visible).count(), f"{url}?overdue=1", "warn")]
    return []
