"""审计日志 for the auditor: the audit log searched by actor, object, action and date, a page at a time; each event's
changes as they were logged (personal data already masked by the services that wrote them); the chains' status —
the last `audit_verify` job, the daily one of `huanxin.jobs` or one started here — and the filtered events as Excel.

This page sits above `jobs` (it starts a verification as a background job), like the other pages that start jobs;
core's models and services never import `jobs`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from huanxin.core import inputs
from huanxin.core.exports import xlsx_response
from huanxin.core.models import AuditCheckpoint, AuditEvent, User
from huanxin.core.roles import is_auditor
from huanxin.core.views import actor
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job

PER_PAGE = 50
EXPORT_LIMIT = 10_000  # events in one workbook; beyond, the auditor narrows the dates (the page says so)
MATCHING_USERS = 200  # users a name matches before the search gives up on it as too vague
SYSTEM = ("system", "系统", "worker")  # events written without a user: commands, the worker, the daily jobs
VERIFY_KIND = "audit_verify"


@dataclass(frozen=True)
class AuditFilter:
    """What the page's form asks, kept in its URL. `action` is exact, or a prefix when it ends in `*` or `.`
    (`subsidies.*`): the column compares bytes (CodeField), so the prefix runs on its index."""

    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_query(cls, query: Any) -> AuditFilter:
        return cls(
            actor=inputs.filter_text(query.get("actor"), max_length=150),
            object_type=inputs.filter_text(query.get("object_type"), max_length=80).lower(),
            object_id=inputs.filter_text(query.get("object_id"), max_length=64),
            action=inputs.filter_text(query.get("action"), max_length=80),
            since=inputs.filter_date(query.get("since")),
            until=inputs.filter_date(query.get("until")),
        )

    @property
    def active(self) -> bool:
        return any((self.actor, self.object_type, self.object_id, self.action, self.since, self.until))


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))  # Asia/Shanghai, the business's day


def events(user: Any, f: AuditFilter) -> QuerySet[AuditEvent]:
    """The events `user` may read (`AuditEvent.objects.visible_to`: auditors) that `f` asks for, newest first.
    An actor is looked up among the users (user name exactly, or part of the user name or name) and then found by
    the indexed actor column; "系统" finds the events written without a user."""
    qs = AuditEvent.objects.visible_to(user)
    if f.actor:
        who = Q(actor_id__in=_users_named(f.actor))
        if f.actor.lower() in SYSTEM:
            who |= Q(actor__isnull=True)
        qs = qs.filter(who)
    if f.object_type:
        qs = qs.filter(object_type=f.object_type)
    if f.object_id:
        qs = qs.filter(object_id=f.object_id)
    if f.action:
        prefix = f.action.rstrip("*")
        qs = qs.filter(action__startswith=prefix) if f.action.endswith(("*", ".")) else qs.filter(action=f.action)
    if f.since:
        qs = qs.filter(at__gte=_day_start(f.since))
    if f.until:
        qs = qs.filter(at__lt=_day_start(f.until + dt.timedelta(days=1)))
    return qs.order_by("-id")


def _users_named(text: str) -> list[int]:
    found = User.objects.filter(
        Q(username__iexact=text) | Q(username__icontains=text) | Q(display_name__icontains=text)
    ).values_list("pk", flat=True)[: MATCHING_USERS + 1]
    return list(found)


@dataclass(frozen=True)
class ChainStatus:
    chains: int  # chains with a signed checkpoint
    last: Job | None  # the last verification that ended
    running: Job | None  # one queued or running now


def chain_status(user: Any) -> ChainStatus:
    runs = Job.objects.visible_to(user).filter(kind=VERIFY_KIND)
    return ChainStatus(
        chains=AuditCheckpoint.objects.visible_to(user).count(),
        last=runs.filter(state__in=(Job.State.DONE, Job.State.FAILED)).order_by("-finished_at", "-pk").first(),
        running=runs.filter(state__in=(Job.State.QUEUED, Job.State.RUNNING)).order_by("-pk").first(),
    )


def _object_types() -> list[tuple[str, str]]:
    """The models of the project as (label, name), for the object-type field's suggestions."""
    return sorted(
        (m._meta.label_lower, str(m._meta.verbose_name))
        for m in apps.get_models()
        if m.__module__.startswith("huanxin.")
    )


def _changes(event: AuditEvent) -> list[tuple[str, str]]:
    """The event's changes as lines to read, each value as JSON unless it is plain text."""
    changes = event.changes if isinstance(event.changes, dict) else {"": event.changes}
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in changes.items()]


def audit_log(request: HttpRequest) -> HttpResponse:
    """GET: the search; `?format=xlsx` the filtered events as a workbook. POST: start a verification now."""
    user = actor(request)
    if not is_auditor(user):
        raise PermissionDenied("审计日志仅供审计人员查看")
    if request.method == "POST":
        return _verify_now(user)
    asked = AuditFilter.from_query(request.GET)
    if request.GET.get("format") == "xlsx":
        return _export(request, user, asked)
    number = inputs.page_number(request.GET.get("page"))
    start = (number - 1) * PER_PAGE
    # one row past the page tells whether there is a next one: no count(*) over a log of millions
    rows = list(events(user, asked)[start : start + PER_PAGE + 1])
    context = {
        "asked": asked,
        "rows": [(e, _changes(e)) for e in rows[:PER_PAGE]],
        "number": number,
        "has_next": len(rows) > PER_PAGE,
        "status": chain_status(user),
        "object_types": _object_types(),
        "export_limit": EXPORT_LIMIT,
    }
    return render(request, "core/audit_log.html", context)


def _verify_now(user: User) -> HttpResponse:
    """A verification as a background job (the whole log is read: minutes on a large one); one already waiting or
    running is shown instead of starting another."""
    running = chain_status(user).running
    if running is None:
        running = jobs.start(actor=user, kind=VERIFY_KIND, title="审计日志校验（手动发起）")
    return redirect("jobs:detail", pk=running.pk)


HEADERS = ["时间", "操作人", "动作", "对象类型", "对象编号", "对象", "变更内容", "链", "序号", "哈希"]


def _export(request: HttpRequest, user: User, asked: AuditFilter) -> HttpResponse:
    found = list(events(user, asked)[: EXPORT_LIMIT + 1])
    if len(found) > EXPORT_LIMIT:
        messages.error(request, f"符合条件的记录超过 {EXPORT_LIMIT} 条，请缩小日期范围或增加条件后再导出")
        query = request.GET.copy()
        query.pop("format", None)
        return redirect(f"{reverse('audit')}?{query.urlencode()}")
    rows = (
        [
            timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
            e.actor_label,
            e.action,
            e.object_type,
            e.object_id,
            e.object_repr,
            json.dumps(e.changes, ensure_ascii=False, sort_keys=True),
            e.chain,
            e.seq,
            e.hash,
        ]
        for e in found
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return xlsx_response(filename=f"审计日志-{stamp}.xlsx", title="审计日志", headers=HEADERS, rows=rows)
