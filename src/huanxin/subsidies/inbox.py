"""待办 from subsidies: the review queue for reviewers and county officers, approved applications waiting for
payment for finance, requests for material for the applicant."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huanxin.core import inbox
from huanxin.core.roles import Role
from huanxin.subsidies import payments, review
from huanxin.subsidies.models import Application, MaterialRequest, Programme


@inbox.provider
def subsidy_items(user: Any) -> list[inbox.Item]:
    items = []
    if review.can_review(user) and getattr(user, "role", None) != Role.COUNTY_OFFICER:
        items.append(inbox.Item("待审核的补贴申请", review.queue(user).count(), reverse("subsidies:review"), "warn"))
    if payments.can_pay(user) and getattr(user, "role", None) == Role.FINANCE_OFFICER:
        waiting = sum(payments.payable(p).count() for p in Programme.objects.visible_to(user))
        items.append(inbox.Item("审核通过待发放的补贴", waiting, reverse("subsidies:payments"), "warn"))
    if getattr(user, "role", None) in (Role.CITIZEN, Role.MERCHANT):
        asked = MaterialRequest.objects.filter(
            application__in=Application.objects.visible_to(user), supplied_at__isnull=True
        ).count()
        items.append(inbox.Item("需补充材料的补贴申请", asked, reverse("subsidies:home"), "bad"))
    return items
