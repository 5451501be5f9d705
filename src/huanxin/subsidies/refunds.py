"""Returned goods (退货): the merchant that sold the item reports the return, and the subsidy goes with it.

One transaction, on the application's row lock:
- not yet paid (reserved, in review, approved, queued): the reservation is released to the available money;
- paid: the ledger claws it back (paid → clawed back) — the money is owed back by whoever received it;
- in a payment the bank has not answered yet: refused until the bank's result is in (the money may be on its way);
- the application's identifiers (invoice, serial, certificate, VIN) are let go, so the same item sold again to
  someone else can be subsidised; its applicant's per-person share is given back (`limits.give_back`);
- the application becomes 已退货, with an event and an audit record.

Reporting the same return again answers the first report: a till that retries does not act twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from huanxin.core import audit, retry
from huanxin.core.models import User
from huanxin.core.roles import Role, is_authenticated
from huanxin.notices import notify
from huanxin.subsidies import errors, ledger
from huanxin.subsidies.applications import give_back_limits
from huanxin.subsidies.models import Application, ApplicationEvent, Claim, Entry, MaterialRequest, Payment, Refund

NOT_PAID = (
    Application.Status.RESERVED,
    Application.Status.IN_REVIEW,
    Application.Status.APPROVED,
    Application.Status.QUEUED,
)
MAX_REASON = 200


def can_report(user: Any, application: Application) -> bool:
    """The merchant that filed the application at its till (or in its batch)."""
    return (
        is_authenticated(user)
        and user.role == Role.MERCHANT
        and user.organisation_id is not None
        and application.merchant_id == user.organisation_id
    )


def _refuse(message: str, code: str = errors.NOT_REFUNDABLE) -> ValidationError:
    return ValidationError(message, code=code)


@retry.retrying
def report_refund(*, actor: User, application: Application, reason: str, now: dt.datetime | None = None) -> Refund:
    """Record the return of an application's goods and undo its subsidy. Idempotent per application."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise _refuse("请填写退货原因", "reason_required")
    if len(reason) > MAX_REASON:
        raise _refuse(f"退货原因不超过{MAX_REASON}个字", "reason_too_long")
    now = now or timezone.now()
    with transaction.atomic():
        locked = (
            Application.objects.select_for_update(no_key=True, of=("self",))
            .select_related("programme")
            .filter(pk=application.pk)
            .first()
        )
        if locked is None or not can_report(actor, locked):
            raise PermissionDenied("只有销售该商品的商户可以报告退货")
        if (earlier := Refund.objects.filter(application=locked).first()) is not None:
            return earlier  # reported before: the same answer, nothing done twice
        if Payment.objects.filter(application=locked, status=Payment.Status.PENDING).exists():
            raise _refuse("该申请的补贴正在银行发放中，请在银行回单导入后再报告退货")
        programme, clawed_back = locked.programme, False
        if locked.status == Application.Status.PAID:
            ledger.clawback(actor=actor, programme=programme, reference=locked.number, reason="退货：" + reason)
            clawed_back = True
        elif locked.status in NOT_PAID:
            reserved = Entry.objects.filter(programme=programme, kind=Entry.Kind.RESERVE, reference=locked.number)
            if reserved.exists():  # a queued application has nothing reserved yet
                ledger.release(actor=actor, programme=programme, reference=locked.number, reason="退货：" + reason)
        else:
            raise _refuse(f"申请当前状态为“{locked.get_status_display()}”，不能报告退货")
        let_go = Claim.objects.filter(application=locked, active=True).update(active=False)
        give_back_limits(locked)
        MaterialRequest.objects.filter(application=locked, supplied_at__isnull=True).update(supplied_at=now)
        refund = Refund.objects.create(
            application=locked,
            reason=reason,
            reported_by=actor,
            at=now,
            clawed_back=clawed_back,
            amount_fen=locked.amount_fen,
        )
        old = locked.status
        locked.status = Application.Status.REFUNDED
        locked.save(update_fields=["status"])
        note = ("已退货，已发放的补贴须退回：" if clawed_back else "已退货，补贴额度已释放：") + reason
        ApplicationEvent.objects.create(application=locked, status=locked.status, actor=actor, at=now, note=note[:200])
        notify.application_changed(locked, "application.refunded", now=now)
        audit.record(
            actor=actor,
            action="subsidies.application_refunded",
            target=locked,
            changes={
                "number": locked.number,
                "status": [old, locked.status],
                "amount_fen": locked.amount_fen,
                "clawed_back": clawed_back,
                "claims_released": let_go,
                "reason": reason,
            },
        )
    return refund
