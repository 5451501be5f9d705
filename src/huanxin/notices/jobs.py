"""The daily check of SMS delivery (`sms_check`, a periodic job on /jobs/, seen by auditors): an attempt whose task
was lost (a worker killed mid-send) is queued again, and the messages that failed in the last day are listed — the
job fails with them, so a broken gateway is visible, not silent."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from huanxin.jobs import kinds, schedule
from huanxin.jobs.services import Context
from huanxin.notices import notify
from huanxin.notices.models import Message

LOST_AFTER = dt.timedelta(hours=1)  # a pending attempt this far past its time has no task left to run it
MAX_LISTED = 50


def requeue_lost(now: dt.datetime | None = None) -> int:
    from huanxin.notices.tasks import send_sms

    cutoff = (now or timezone.now()) - LOST_AFTER
    lost = list(
        Message.objects.filter(sms_state=Message.Sms.PENDING, sms_next_at__lt=cutoff).values_list("pk", flat=True)
    )
    for pk in lost:
        send_sms.enqueue(pk)  # deliver() claims by attempt number: a task that turns up after all sends nothing
    return len(lost)


def check_sms(ctx: Context) -> kinds.Finished:
    now = timezone.now()
    requeued = requeue_lost(now)
    failed = Message.objects.filter(sms_state=Message.Sms.FAILED, created_at__gte=now - dt.timedelta(days=1))
    count = failed.count()
    tail = f"；{requeued} 条中断的发送已重新排队" if requeued else ""
    if count:
        errors = [
            f"消息 {m.pk}（{notify.title(m.event)}，{m.subject}，{m.masked_phone}）：{m.sms_error}"
            for m in failed.order_by("-created_at")[:MAX_LISTED]
        ]
        raise kinds.JobFailed(
            kinds.Finished(f"近一天有 {count} 条短信发送失败（已重试 {notify.MAX_ATTEMPTS} 次）{tail}", errors=errors)
        )
    return kinds.Finished(f"近一天的短信均已发送或正在重试{tail}")


kinds.register(kinds.Kind("sms_check", "短信发送检查", check_sms))
schedule.register(schedule.Periodic("sms_check", kind="sms_check", every="daily"))
