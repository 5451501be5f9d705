"""Telling people when their application or booking moves: a `Message` row written in the transaction of the change
(so the change and its message commit or fail together), an SMS handed to the gateway by a background task after
that commit, and the same text in the person's 消息 list.

- Services call `application_changed(...)` or `booking_changed(...)` once per transition, inside their
  transaction. Both are cheap: one plain INSERT of the message (`bulkinsert.insert_one`) and one of its task in
  the jobs queue (the same database, so it commits with the change; nothing is sent while the business
  transaction is open).
- `deliver(message_id)` runs in a worker (`tasks.send_sms`): the gateway is called outside any transaction; a
  failure is retried later (`BACKOFF`), and after `MAX_ATTEMPTS` the message is marked failed; the daily job
  `sms_check` (notices/jobs.py) lists failures and queues again any attempt whose task was lost.
- The text comes from `TEMPLATES`, one per event, with only what the public status page shows: the number, the
  status, the amount. Never a name, an ID number, an address or a reviewer's note; the phone is stored encrypted
  and appears masked in logs and on screen.
- A gateway is a class named by `HUANXIN_SMS_GATEWAY` (dotted path) with `send(sms) -> reference`; it raises
  `GatewayError(code)` for a refusal. The default, `LogGateway`, sends nothing and logs the masked phone and the
  message id only.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string

from huanxin.core import bulkinsert, pii
from huanxin.core.roles import is_authenticated
from huanxin.notices.models import Message

log = logging.getLogger("huanxin.notices.sms")

# One short line each (an SMS of 70 characters with the signature is one message, not two).
TEMPLATES: dict[str, tuple[str, str]] = {
    "application.reserved": ("已受理", "您的补贴申请{number}已受理，补贴{amount}元，额度已预留。"),
    "application.in_review": ("已受理", "您的补贴申请{number}已受理，正在人工审核，请留意后续通知。"),
    "application.queued": ("排队等待额度", "您的补贴申请{number}已受理，本批额度已用完，正按提交顺序排队。"),
    "application.promoted": ("已受理", "您的补贴申请{number}已转入受理，补贴{amount}元，额度已预留。"),
    "application.approved": ("审核通过", "您的补贴申请{number}审核通过，补贴{amount}元，等待发放。"),
    "application.more": ("退回补正", "您的补贴申请{number}需补充材料，请登录“我的申请”查看并补充。"),
    "application.supplied": ("已补充材料", "您的补贴申请{number}已补充材料，重新进入审核。"),
    "application.rejected": ("未通过", "您的补贴申请{number}未通过审核，请登录“我的申请”查看原因。"),
    "application.paid": ("已发放", "您的补贴申请{number}的补贴{amount}元已发放，请留意到账。"),
    "application.clawed_back": ("已追回", "您的补贴申请{number}的补贴已追回，如有疑问请致电咨询。"),
    "application.refunded": ("已退货", "您的补贴申请{number}已按退货处理，补贴不再发放或须退回。"),
    "booking.submitted": ("已预约", "您的上门回收预约{number}已提交，等待回收企业接单。"),
    "booking.accepted": ("预约已接单", "您的上门回收预约{number}已接单，约定{visit}上门。"),
    "booking.completed": ("已完成", "您的上门回收预约{number}已完成，感谢参与以旧换新。"),
    "booking.no_show": ("上门未遇", "您的上门回收预约{number}上门未遇，如仍需回收请重新预约。"),
    "booking.cancelled": ("已取消", "您的上门回收预约{number}已取消。"),
}

MAX_ATTEMPTS = 5
BACKOFF = (60, 300, 1800, 7200)  # seconds before the 2nd … 5th attempt: about two and a half hours in all


def title(event: str) -> str:
    return TEMPLATES[event][0] if event in TEMPLATES else event


def _yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:,.2f}"


def render(event: str, **values: Any) -> str:
    return TEMPLATES[event][1].format(**values)


# --- writing messages (inside the business transaction) -----------------------------------------------------------


def _write(
    *, user_id: int | None, phone: str, event: str, kind: str, subject: str, text: str, now: dt.datetime
) -> None:
    from huanxin.notices.tasks import send_sms

    sms = bool(phone)
    message = Message(
        user_id=user_id,
        event=event,
        subject_kind=kind,
        subject=subject,
        text=text,
        created_at=now,
        phone=phone,
        sms_state=Message.Sms.PENDING if sms else Message.Sms.NONE,
        sms_next_at=now if sms else None,
    )
    bulkinsert.insert_one(message)
    if sms:
        send_sms.enqueue(message.pk)  # a row of the jobs queue: it commits (or not) with the change


def application_changed(application: Any, event: str, *, now: dt.datetime | None = None) -> None:
    """One message about a subsidy application (`event`: a key of TEMPLATES). To its applicant's account, when they
    applied themself, and by SMS to the phone it was filed with."""
    _write(
        user_id=application.applicant_user_id,
        phone=application.phone,
        event=event,
        kind=Message.Subject.APPLICATION,
        subject=application.number,
        text=render(event, number=application.number, amount=_yuan(application.amount_fen)),
        now=now or timezone.now(),
    )


def application_accepted(application: Any, *, now: dt.datetime | None = None) -> None:
    """The message for an application just submitted or promoted, by the status it is in now (已受理, 人工审核,
    排队)."""
    event = f"application.{application.status}"
    if event in TEMPLATES:
        application_changed(application, event, now=now)


def booking_changed(booking: Any, event: str, *, now: dt.datetime | None = None) -> None:
    """One message about a pickup booking, to the citizen who booked (none for a merchant's customer) and by SMS
    to the booking's contact phone."""
    visit = f"{timezone.localtime(booking.visit_at):%m月%d日%H:%M}" if booking.visit_at else ""
    _write(
        user_id=booking.citizen_id,
        phone=booking.phone,
        event=event,
        kind=Message.Subject.BOOKING,
        subject=booking.number,
        text=render(event, number=booking.number, visit=visit),
        now=now or timezone.now(),
    )


# --- reading them (the 消息 list and its count) -------------------------------------------------------------------


def unread_count(user: Any) -> int:
    """How many of the user's messages they have not opened (the navigation's badge); 0 for anonymous users."""
    if not is_authenticated(user):
        return 0
    return Message.objects.filter(user=user, read_at__isnull=True).count()


def mark_read(*, user: Any, ids: list[int], now: dt.datetime | None = None) -> int:
    """The user saw these messages. A read marker, not a business write: not audited (like a job's `seen_at`)."""
    return Message.objects.filter(user=user, pk__in=ids, read_at__isnull=True).update(read_at=now or timezone.now())


# --- sending them (in a worker) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sms:
    phone: str
    text: str  # with the signature, as the phone shows it
    template: str  # the event: a provider's template code is usually chosen by it
    params: dict[str, str] = field(default_factory=dict)
    message_id: str = ""  # ours: the provider's callbacks and our logs name it


class GatewayError(Exception):
    """A refusal or failure of the SMS provider; `code` is kept on the message, so it names no personal data."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code[:200]


class Gateway(Protocol):
    def send(self, sms: Sms) -> str: ...


class LogGateway:
    """Development and any site without an SMS contract: logs that a message would be sent, never its text."""

    def send(self, sms: Sms) -> str:
        log.info("sms message=%s to=%s template=%s", sms.message_id, pii.mask_phone(sms.phone), sms.template)
        return f"log-{sms.message_id}"


def gateway() -> Gateway:
    gateway_class = import_string(settings.HUANXIN_SMS_GATEWAY)
    return gateway_class()


def _signed(text: str) -> str:
    signature = settings.HUANXIN_SMS_SIGNATURE
    return f"【{signature}】{text}" if signature else text


def deliver(message_id: int, *, now: dt.datetime | None = None) -> str:
    """Send one pending message: "sent", "retry" (failed, another attempt queued), "failed" (no attempts left) or
    "skipped" (not pending, or another worker took this attempt)."""
    from huanxin.notices.tasks import send_sms

    message = Message.objects.filter(pk=message_id, sms_state=Message.Sms.PENDING).first()
    if message is None:
        return "skipped"
    attempt = message.sms_attempts + 1
    # the claim: of two tasks for one attempt (the daily check queued a lost one again), one sends
    taken = Message.objects.filter(
        pk=message.pk, sms_state=Message.Sms.PENDING, sms_attempts=message.sms_attempts
    ).update(sms_attempts=F("sms_attempts") + 1)
    if not taken:
        return "skipped"
    sms = Sms(
        phone=message.phone,
        text=_signed(message.text),
        template=message.event,
        params={"number": message.subject},
        message_id=str(message.pk),
    )
    try:
        reference = gateway().send(sms)
    except Exception as exc:  # whatever the provider's library raises: the business change stands regardless
        code = exc.code if isinstance(exc, GatewayError) else type(exc).__name__
        now = now or timezone.now()
        mine = Message.objects.filter(pk=message.pk, sms_attempts=attempt)
        if attempt >= MAX_ATTEMPTS:
            mine.update(sms_state=Message.Sms.FAILED, sms_error=code[:200], sms_next_at=None)
            log.error("sms message=%s failed after %s attempts: %s", message.pk, attempt, code)
            return "failed"
        due = now + dt.timedelta(seconds=BACKOFF[attempt - 1])
        mine.update(sms_error=code[:200], sms_next_at=due)
        send_sms.using(run_after=due).enqueue(message.pk)
        log.warning("sms message=%s attempt %s failed: %s; again at %s", message.pk, attempt, code, due.isoformat())
        return "retry"
    Message.objects.filter(pk=message.pk, sms_attempts=attempt).update(
        sms_state=Message.Sms.SENT, sms_sent_at=now or timezone.now(), sms_reference=str(reference)[:64], sms_error=""
    )
    return "sent"
