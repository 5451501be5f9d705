"""Promoting queued applications (排队申请转入受理) once a programme is funded again.

An application submitted when the pool was exhausted, in a programme whose `on_exhaustion` is queue, is kept with
status `queued` and no reservation. When money is added, `promote_queue` takes the queued applications oldest first
(submission time, then id) and reserves each one's amount in the ledger (reference = its number). On success the
application becomes reserved — or in review when it carries risk reasons — with its event and an audit record, all
in the same transaction. The first application that does not fit (budget exhausted, today's quota reached, the
programme no longer open) stops the promotion, so nobody behind it jumps the queue.

Each application is promoted in its own short transaction: the application row is locked first (then the ledger's
account rows, the same order as review and rejection), so a promotion never holds the stripes of the pool for
longer than one reservation. Two promotions running at once wait for each other on the oldest queued row; the one
that gets it second finds it no longer queued and moves on, and the ledger reserves a reference only once anyway.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from huanxin.core import audit, retry
from huanxin.core.models import User
from huanxin.notices import notify
from huanxin.subsidies import ledger
from huanxin.subsidies.models import Application, ApplicationEvent, Programme

FUNDING_ROLES = ledger.FUNDING_ROLES


def can_fund(user: object) -> bool:
    """The task force and finance officers add money to a programme and promote its queue."""
    return ledger.may_fund(user)


@dataclass
class PromotionReport:
    programme: str  # the programme's code
    promoted: list[str] = field(default_factory=list)  # application numbers, in the order they were reserved
    amount_fen: int = 0  # reserved for them in all
    waiting: int = 0  # still queued afterwards
    stopped_by: str = ""  # the code of the refusal that stopped the promotion (budget_exhausted …), if any
    message: str = ""  # … and its message

    @property
    def summary(self) -> str:
        text = f"{len(self.promoted)} 份排队申请已按提交顺序转入受理（预留 {ledger.yuan(self.amount_fen)} 元）"
        if self.waiting:
            text += f"，仍有 {self.waiting} 份排队"
            if self.message:
                text += f"：{self.message}"
        return text


def _oldest_queued(programme: Programme) -> Application | None:
    """The oldest queued application of the programme, row-locked. A row another promotion holds is waited for
    (not skipped: skipping would let a younger application pass an older one); once it is no longer queued the
    database moves on to the next."""
    return (
        Application.objects.select_for_update(no_key=True, of=("self",))
        .filter(programme=programme, status=Application.Status.QUEUED)
        .order_by("created_at", "pk")
        .first()
    )


def _promote_one(*, actor: User, programme: Programme, now: dt.datetime, position: int) -> Application | None:
    """Reserve the oldest queued application's amount and move it on. None when the queue is empty; a
    `ValidationError` from the ledger (nothing written) when it does not fit."""
    with transaction.atomic():
        application = _oldest_queued(programme)
        if application is None:
            return None
        reservation = ledger.reserve(
            actor=actor, programme=programme, reference=application.number, amount_fen=application.amount_fen, now=now
        )
        status = Application.Status.IN_REVIEW if application.risk_reasons else Application.Status.RESERVED
        application.status = status
        application.save(update_fields=["status"])
        note = "追加额度后按提交顺序转入受理，额度已预留"
        if status == Application.Status.IN_REVIEW:
            note += "；转人工审核：" + "；".join(application.risk_reasons)
        ApplicationEvent.objects.create(application=application, status=status, actor=actor, at=now, note=note[:200])
        notify.application_changed(
            application, "application.promoted" if status == Application.Status.RESERVED else "application.in_review"
        )
        audit.record(
            actor=actor,
            action="subsidies.application_promoted",
            target=application,
            changes={
                "number": application.number,
                "programme": programme.code,
                "amount_fen": application.amount_fen,
                "status": ["queued", status],
                "stripe": reservation.stripe,
                "position": position,
            },
        )
        return application


@retry.retrying
def promote_queue(
    *, actor: User, programme: Programme, now: dt.datetime | None = None, limit: int | None = None
) -> PromotionReport:
    """Promote the programme's queued applications in submission order until one does not fit (or `limit` were
    promoted). Returns what was done and why it stopped."""
    if not can_fund(actor):
        raise PermissionDenied("处理排队申请由工作专班或财务人员办理")
    report = PromotionReport(programme=programme.code)
    while limit is None or len(report.promoted) < limit:
        try:
            application = _promote_one(
                actor=actor, programme=programme, now=now or timezone.now(), position=len(report.promoted) + 1
            )
        except ValidationError as exc:
            errors = next(iter(exc.error_dict.values())) if hasattr(exc, "error_dict") else exc.error_list
            report.stopped_by, report.message = errors[0].code or "refused", errors[0].messages[0]
            break
        if application is None:
            break
        report.promoted.append(application.number)
        report.amount_fen += application.amount_fen
    report.waiting = _queued(programme).count()
    return report


def _queued(programme: Programme) -> QuerySet[Application]:
    return Application.objects.filter(programme=programme, status=Application.Status.QUEUED)
