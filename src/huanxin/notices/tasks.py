"""The SMS task in the jobs queue (the worker that runs jobs runs these): one task per attempt at one message."""

from __future__ import annotations

from django.tasks import task

from huanxin.notices import notify


@task()
def send_sms(message_id: int) -> str:
    return notify.deliver(message_id)
