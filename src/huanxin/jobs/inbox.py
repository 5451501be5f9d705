"""待办: one's background jobs that ended since one last looked; for auditors, the daily checks that found a break."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from huanxin.core import inbox
from huanxin.core.roles import is_auditor, is_authenticated
from huanxin.jobs.models import Job


@inbox.provider
def ended_jobs(user: Any) -> list[inbox.Item]:
    if not is_authenticated(user):
        return []
    unseen = Job.objects.filter(owner=user, seen_at__isnull=True, state__in=[Job.State.DONE, Job.State.FAILED])
    failed = unseen.filter(state=Job.State.FAILED).count()
    done = unseen.filter(state=Job.State.DONE).count()
    url = reverse("jobs:list")
    items = [
        inbox.Item("后台任务失败", failed, url, "bad"),
        inbox.Item("后台任务已完成", done, url, "info"),
    ]
    if is_auditor(user):
        broken = Job.objects.filter(owner__isnull=True, state=Job.State.FAILED, seen_at__isnull=True).count()
        items.append(inbox.Item("定期校验发现问题", broken, reverse("jobs:checks"), "bad"))
    return items
