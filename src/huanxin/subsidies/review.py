"""Manual review of subsidy applications (see docs/subsidy-review-and-payments.md).

Reviewers (role 审核员, every application) and county officers (县区经办人, the applications whose region is their
county) work through `queue(user)`, sorted by risk, and `decide` on each: approve, reject with a reason (the
reservation goes back to the pool; the identifiers are let go unless the rejection is for fraud), or ask for
more material (the application stays in review and leaves the queue until the applicant `supply_material`s).
Above the programme's two-person amount an approval needs two reviewers: the first approval is recorded and the
application waits for a second person (待复核).

Each service is one transaction: the application row is locked first, so two reviewers deciding at the same
moment queue, and the second sees the first's decision.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from huanxin.core import audit, retry
from huanxin.core.models import User
from huanxin.core.roles import Role, is_authenticated, reads_everything
from huanxin.notices import notify
from huanxin.subsidies import ledger
from huanxin.subsidies.applications import give_back_limits
from huanxin.subsidies.models import (
    Application,
    ApplicationEvent,
    Claim,
    Entry,
    MaterialRequest,
    ReviewDecision,
)

REVIEWER_ROLES = frozenset({Role.REVIEWER, Role.COUNTY_OFFICER})
TWO_PERSON_DEFAULT_FEN = 500_000  # 5,000 yuan
IN_QUEUE = (Application.Status.RESERVED, Application.Status.IN_REVIEW)
Decision = ReviewDecision.Decision


def can_review(user: Any) -> bool:
    return is_authenticated(user) and user.role in REVIEWER_ROLES


def two_person_above_fen(application: Application) -> int:
    """Approvals of amounts above this need two reviewers (programme parameter `two_person_above_fen`)."""
    value = application.programme.parameters.get("two_person_above_fen", TWO_PERSON_DEFAULT_FEN)
    return value if isinstance(value, int) and not isinstance(value, bool) else TWO_PERSON_DEFAULT_FEN


def _open_request() -> Exists:
    return Exists(MaterialRequest.objects.filter(application=OuterRef("pk"), supplied_at__isnull=True))


def queue(user: Any) -> QuerySet[Application]:
    """Applications awaiting a decision that `user` may review: reserved or in review, not waiting for the
    applicant's material; highest risk first, then oldest."""
    if not (can_review(user) or reads_everything(user)):
        return Application.objects.none()
    return (
        Application.objects.visible_to(user)
        .filter(status__in=IN_QUEUE)
        .exclude(_open_request())
        .select_related("programme", "region")
        .order_by("-risk_score", "created_at", "pk")
    )


def pending_approvals(application: Application) -> list[ReviewDecision]:
    """Approvals that count towards the two-person rule: those after the latest request for more material
    (new material deserves a fresh look)."""
    decisions = list(application.decisions.order_by("at", "pk"))
    since = max((i for i, d in enumerate(decisions) if d.decision == Decision.MORE), default=-1)
    return [d for d in decisions[since + 1 :] if d.decision == Decision.APPROVE]


def _locked(actor: User, application: Application) -> Application:
    """The application, row-locked, if the reviewer may see it (a county officer: its county only)."""
    if not can_review(actor):
        raise PermissionDenied("只有审核员或县区经办人可以审核补贴申请")
    found = (
        Application.objects.visible_to(actor)
        .select_for_update(no_key=True, of=("self",))
        .select_related("programme")
        .filter(pk=application.pk)
    )
    locked = found.first()
    if locked is None:
        raise PermissionDenied("该申请不在您的审核范围内")
    return locked


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _set_status(application: Application, status: str, *, actor: User, note: str, now: dt.datetime) -> None:
    old = application.status
    if old != status:
        application.status = status
        application.save(update_fields=["status"])
    ApplicationEvent.objects.create(application=application, status=status, actor=actor, at=now, note=note[:200])


@retry.retrying
def decide(
    *,
    actor: User,
    application: Application,
    decision: str,
    reason: str = "",
    fraud: bool = False,
    now: dt.datetime | None = None,
) -> Application:
    """Approve, reject or ask for more material. Returns the application as it now stands."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if decision not in Decision.values:
        raise _refuse("审核意见只能是通过、不通过或补充材料", "invalid_decision")
    if decision in (Decision.REJECT, Decision.MORE) and not reason:
        raise _refuse(
            "请填写不通过的理由" if decision == Decision.REJECT else "请写明需要补充的材料", "reason_required"
        )
    if len(reason) > 200:
        raise _refuse("理由不超过 200 个字", "reason_too_long")
    if fraud and decision != Decision.REJECT:
        raise _refuse("只有不通过时才能认定骗补", "fraud_needs_reject")
    with transaction.atomic():
        application = _locked(actor, application)
        if decision == Decision.APPROVE:
            return _approve(actor, application, reason, now)
        if decision == Decision.REJECT:
            return _reject(actor, application, reason, fraud, now)
        return _ask_more(actor, application, reason, now)


def _check_open_for_review(application: Application, *, allowed: tuple[str, ...]) -> None:
    if application.status not in allowed:
        raise _refuse(f"申请当前状态为“{application.get_status_display()}”，不能审核", "not_in_review")


def _approve(actor: User, application: Application, reason: str, now: dt.datetime) -> Application:
    _check_open_for_review(application, allowed=IN_QUEUE)
    if MaterialRequest.objects.filter(application=application, supplied_at__isnull=True).exists():
        raise _refuse("申请人尚未补充材料，暂不能通过", "awaiting_material")
    earlier = pending_approvals(application)
    threshold = two_person_above_fen(application)
    needs_two = application.amount_fen > threshold
    if needs_two and any(d.actor_id == actor.pk for d in earlier):
        raise _refuse("补贴金额超过双人复核标准，须由另一名审核人员复核通过", "same_reviewer")
    ReviewDecision.objects.create(
        application=application, actor=actor, decision=Decision.APPROVE, reason=reason, at=now
    )
    first_of_two = needs_two and not earlier
    if first_of_two:
        _set_status(
            application,
            Application.Status.IN_REVIEW,
            actor=actor,
            note=f"初审通过，待复核（金额超过{ledger.yuan(threshold)}元须两人审核）",
            now=now,
        )
    else:
        _set_status(application, Application.Status.APPROVED, actor=actor, note="审核通过，等待发放", now=now)
        notify.application_changed(application, "application.approved", now=now)
    audit.record(
        actor=actor,
        action="subsidies.application_approved" if not first_of_two else "subsidies.application_first_approval",
        target=application,
        changes={
            "number": application.number,
            "status": application.status,
            "amount_fen": application.amount_fen,
            "two_person": needs_two,
            "approvals": len(earlier) + 1,
            "reason": reason,
        },
    )
    return application


def _reject(actor: User, application: Application, reason: str, fraud: bool, now: dt.datetime) -> Application:
    _check_open_for_review(application, allowed=(*IN_QUEUE, Application.Status.QUEUED))
    ReviewDecision.objects.create(
        application=application, actor=actor, decision=Decision.REJECT, reason=reason, fraud=fraud, at=now
    )
    released = False
    if Entry.objects.filter(
        programme=application.programme, kind=Entry.Kind.RESERVE, reference=application.number
    ).exists():
        ledger.release(actor=actor, programme=application.programme, reference=application.number, reason=reason)
        released = True
    give_back_limits(application)  # a rejected application does not count against the person's limits
    let_go = 0
    if not fraud:  # the identifiers are free again: the citizen may apply again with the same invoice
        let_go = Claim.objects.filter(application=application, active=True).update(active=False)
    MaterialRequest.objects.filter(application=application, supplied_at__isnull=True).update(supplied_at=now)
    _set_status(
        application,
        Application.Status.REJECTED,
        actor=actor,
        note=("未通过（认定骗补）：" if fraud else "未通过：") + reason,
        now=now,
    )
    notify.application_changed(application, "application.rejected", now=now)  # the reason is on the page only
    audit.record(
        actor=actor,
        action="subsidies.application_rejected",
        target=application,
        changes={
            "number": application.number,
            "amount_fen": application.amount_fen,
            "fraud": fraud,
            "released": released,
            "claims_released": let_go,
            "reason": reason,
        },
    )
    return application


def _ask_more(actor: User, application: Application, question: str, now: dt.datetime) -> Application:
    _check_open_for_review(application, allowed=IN_QUEUE)
    if MaterialRequest.objects.filter(application=application, supplied_at__isnull=True).exists():
        raise _refuse("已要求补充材料，请等待申请人答复", "awaiting_material")
    ReviewDecision.objects.create(application=application, actor=actor, decision=Decision.MORE, reason=question, at=now)
    MaterialRequest.objects.create(application=application, asked_by=actor, question=question, asked_at=now)
    _set_status(application, Application.Status.IN_REVIEW, actor=actor, note="请补充材料：" + question, now=now)
    notify.application_changed(application, "application.more", now=now)  # 退回补正; the question is on the page
    audit.record(
        actor=actor,
        action="subsidies.material_requested",
        target=application,
        changes={"number": application.number, "question": question},
    )
    return application


@retry.retrying
def supply_material(
    *, actor: User, application: Application, note: str, now: dt.datetime | None = None
) -> MaterialRequest:
    """The applicant (or the merchant that filed the application) answers a request for more material; the
    application goes back into the review queue. The answer is stored encrypted and kept out of the audit log."""
    now = now or timezone.now()
    note = (note or "").strip()
    if not note:
        raise _refuse("请填写补充说明", "note_required")
    if len(note) > 2000:
        raise _refuse("补充说明不超过 2000 个字", "note_too_long")
    if not is_authenticated(actor) or actor.role not in (Role.CITIZEN, Role.MERCHANT):
        raise PermissionDenied("补充材料由申请人或代办商户提交")
    with transaction.atomic():
        locked = Application.objects.visible_to(actor).select_for_update(no_key=True).filter(pk=application.pk).first()
        if locked is None:
            raise PermissionDenied("只能为本人（本商户）的申请补充材料")
        request = (
            MaterialRequest.objects.select_for_update().filter(application=locked, supplied_at__isnull=True).first()
        )
        if request is None or locked.status != Application.Status.IN_REVIEW:
            raise _refuse("该申请目前不需要补充材料", "no_material_requested")
        request.answer = note
        request.supplied_by = actor
        request.supplied_at = now
        request.save(update_fields=["answer", "supplied_by", "supplied_at"])
        _set_status(locked, Application.Status.IN_REVIEW, actor=actor, note="申请人已补充材料，重新进入审核", now=now)
        audit.record(
            actor=actor,
            action="subsidies.material_supplied",
            target=locked,
            changes={"number": locked.number, "request": request.pk, "length": len(note)},
        )
    return request
