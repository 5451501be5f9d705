"""Queued applications are promoted in submission order when the programme is funded again: each gets its
reservation, its status (reserved, or in review with risk reasons), an event and an audit record in one transaction;
the first that does not fit stops the promotion, so nobody jumps the queue. Also from the programme page (追加额度)
and the CLI, and, on PostgreSQL, by two promotions at once without reserving anything twice."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from huanxin.core.models import AuditEvent
from huanxin.core.roles import Role
from huanxin.subsidies import ledger, review, rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, ApplicationEvent, Entry, Programme
from huanxin.subsidies.queue import promote_queue
from tests import clock
from tests.conftest import postgres_only
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee
from tests.subsidies.conftest import YUAN, make_programme

NOW = timezone.now()  # every test here runs at this instant (clock pinned): TODAY is the app's today
TODAY = timezone.localdate(NOW)
pinned_clock = clock.pinned(NOW)


def queued_programme(boss, *, budget_yuan: int = 1_000, sample_pct: int = 0, code: str = "queue-2025") -> Programme:
    return make_programme(
        boss,
        code=code,
        parameters={**rules.DEFAULTS["appliance"], "sample_pct": sample_pct},
        budget_fen=budget_yuan * YUAN,
        on_exhaustion=Programme.OnExhaustion.QUEUE,
        stripes=2,
    )


def submit(programme: Programme, n: int, price_yuan: int = 4_999, minutes_ago: int = 0) -> Application:
    """An appliance application: a grade-1 fridge, 20% of the price (4,999 元 → 999.80 元)."""
    citizen = UserFactory(role=Role.CITIZEN, verified_name="林芳")  # verified as 林芳, a number of their own
    now = timezone.now() - dt.timedelta(minutes=minutes_ago)
    return submit_application(
        actor=citizen,
        programme=programme,
        applicant_name="林芳",
        applicant_id=citizen.verified_resident_id,
        phone=citizen.verified_phone,
        **payee("林芳"),  # a citizen filing alone is paid: the account is required
        items=[
            ItemIn(
                kind="refrigerator",
                invoice_no=f"Q{programme.pk}-{n}",
                invoice_date=timezone.localdate(now),  # minutes back may be yesterday just after midnight
                price_fen=price_yuan * YUAN,
                grade="1",
            )
        ],
        now=now,
    )


def line(programme: Programme, prices: list[int]) -> list[Application]:
    """Applications submitted one minute apart, oldest first."""
    return [submit(programme, n, price, minutes_ago=len(prices) - n) for n, price in enumerate(prices)]


@pytest.mark.django_db
def test_queued_applications_are_promoted_oldest_first_until_one_does_not_fit(boss, finance) -> None:
    programme = queued_programme(boss)
    first, *waiting = line(programme, [4_999, 4_999, 9_000, 2_000, 4_999])
    assert first.status == Application.Status.RESERVED
    assert [a.status for a in waiting] == [Application.Status.QUEUED] * 4
    amounts = [a.amount_fen for a in waiting]
    assert amounts == [999_80, 1_800_00, 400_00, 999_80]

    ledger.fund(actor=finance, programme=programme, amount_fen=2_000 * YUAN, note="第二批资金")
    report = promote_queue(actor=finance, programme=programme)
    # 1,000.20 元 were left + 2,000 元: the first (999.80) fits, the second (1,800) does not — the third (400),
    # which would fit, waits behind it
    assert report.promoted == [waiting[0].number] and report.amount_fen == 999_80
    assert (report.waiting, report.stopped_by) == (3, "budget_exhausted")
    assert "本批次补贴额度已用完" in report.message and "仍有 3 份排队" in report.summary
    promoted = Application.objects.get(pk=waiting[0].pk)
    assert promoted.status == Application.Status.RESERVED
    event = ApplicationEvent.objects.filter(application=promoted).last()
    assert event is not None and event.status == "reserved" and event.actor == finance
    assert "按提交顺序转入受理" in event.note
    audit = AuditEvent.objects.get(action="subsidies.application_promoted")
    assert audit.changes["number"] == promoted.number and audit.changes["status"] == ["queued", "reserved"]
    assert "林芳" not in str(audit.changes) and promoted.applicant_id not in str(audit.changes)
    assert Entry.objects.filter(programme=programme, kind="reserve", reference=promoted.number).count() == 1

    ledger.fund(actor=finance, programme=programme, amount_fen=5_000 * YUAN, note="第三批资金")
    report = promote_queue(actor=finance, programme=programme)
    assert report.promoted == [a.number for a in waiting[1:]] and report.waiting == 0 and not report.stopped_by
    assert not Application.objects.filter(status=Application.Status.QUEUED).exists()
    b = selectors.balances(programme)
    assert b.reserved_fen == sum(a.amount_fen for a in [first, *waiting])
    assert b.available_fen == 8_000 * YUAN - b.reserved_fen
    # nothing queued: a second promotion does nothing
    assert promote_queue(actor=finance, programme=programme).promoted == []


@pytest.mark.django_db
def test_flagged_applications_go_to_review_and_rejected_ones_leave_the_queue(boss, finance) -> None:
    programme = queued_programme(boss, budget_yuan=500, sample_pct=100)  # every application sampled
    flagged, rejected = line(programme, [4_999, 4_999])
    assert flagged.status == rejected.status == Application.Status.QUEUED
    review.decide(actor=user_with_role(Role.REVIEWER), application=rejected, decision="reject", reason="发票不实")
    ledger.fund(actor=finance, programme=programme, amount_fen=10_000 * YUAN, note="追加")
    report = promote_queue(actor=finance, programme=programme)
    assert report.promoted == [flagged.number]
    flagged.refresh_from_db()
    assert flagged.status == Application.Status.IN_REVIEW
    assert "随机抽查" in ApplicationEvent.objects.filter(application=flagged).last().note
    assert Application.objects.get(pk=rejected.pk).status == Application.Status.REJECTED
    assert not Entry.objects.filter(reference=rejected.number).exists()


@pytest.mark.django_db
def test_a_paused_programme_keeps_its_queue(boss, finance) -> None:
    programme = queued_programme(boss, budget_yuan=500)
    (waiting,) = line(programme, [4_999])
    ledger.fund(actor=finance, programme=programme, amount_fen=5_000 * YUAN, note="追加")
    ledger.change_status(actor=boss, programme=programme, status=Programme.Status.PAUSED)
    report = promote_queue(actor=finance, programme=programme)
    assert (report.promoted, report.waiting, report.stopped_by) == ([], 1, "programme_not_open")
    assert Application.objects.get(pk=waiting.pk).status == Application.Status.QUEUED


@pytest.mark.django_db
def test_funding_on_the_programme_page_promotes_the_queue(boss, finance) -> None:
    programme = queued_programme(boss, budget_yuan=500)
    waiting = line(programme, [4_999, 4_999])
    client = Client()
    client.force_login(finance)
    page = client.get(f"/subsidies/programmes/{programme.code}/").content.decode()
    assert "追加额度" in page and "按提交顺序处理排队申请（2 份）" in page
    done = client.post(
        f"/subsidies/programmes/{programme.code}/fund/", {"amount": "1,000.00", "note": "第二批"}, follow=True
    )
    html = done.content.decode()
    assert "已追加额度 1,000.00 元" in html and "1 份排队申请已按提交顺序转入受理" in html and "仍有 1 份排队" in html
    assert Application.objects.get(pk=waiting[0].pk).status == Application.Status.RESERVED
    bad = client.post(f"/subsidies/programmes/{programme.code}/fund/", {"amount": "-5"}, follow=True)
    assert "追加额度应为大于0、最多两位小数的金额" in bad.content.decode()
    assert programme.budget_fen + 1_000 * YUAN == Programme.objects.get(pk=programme.pk).budget_fen
    # the button alone promotes what fits now
    ledger.fund(actor=finance, programme=programme, amount_fen=1_000 * YUAN, note="第三批")
    again = client.post(f"/subsidies/programmes/{programme.code}/promote/", follow=True).content.decode()
    assert "1 份排队申请已按提交顺序转入受理" in again
    assert Application.objects.get(pk=waiting[1].pk).status == Application.Status.RESERVED
    citizen = Client()
    citizen.force_login(UserFactory(role=Role.CITIZEN))
    assert citizen.post(f"/subsidies/programmes/{programme.code}/promote/").status_code == 403
    reviewer = Client()
    reviewer.force_login(user_with_role(Role.REVIEWER))
    assert 'id="funding"' not in reviewer.get(f"/subsidies/programmes/{programme.code}/").content.decode()
    assert reviewer.post(f"/subsidies/programmes/{programme.code}/fund/", {"amount": "1"}).status_code == 403


@pytest.mark.django_db
def test_the_cli_promotes_the_queue(boss, finance) -> None:
    programme = queued_programme(boss, budget_yuan=500)
    (waiting,) = line(programme, [4_999])
    ledger.fund(actor=finance, programme=programme, amount_fen=1_000 * YUAN, note="追加")
    out = StringIO()
    call_command("queue", "promote", "--programme", programme.code, "--actor", finance.username, stdout=out)
    assert waiting.number in out.getvalue() and "1 份排队申请已按提交顺序转入受理" in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("queue", "promote", "--programme", programme.code, "--actor", UserFactory().username)


# --- PostgreSQL: two promotions at once -------------------------------------------------------------------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_parallel_promotions_reserve_each_application_once_and_in_order(plan, boss, finance) -> None:
    from tests.subsidies.test_concurrency import in_parallel

    programme = queued_programme(boss, budget_yuan=500, code="queue-parallel")
    waiting = line(programme, [4_999] * 12)  # 999.80 元 each, all queued (500 元 fit none)
    assert all(a.status == Application.Status.QUEUED for a in waiting)
    ledger.fund(actor=finance, programme=programme, amount_fen=7_000 * YUAN, note="追加")  # 7,500 元: seven fit

    def promote() -> Any:
        return promote_queue(actor=finance, programme=programme)

    reports, errors = in_parallel([promote for _ in range(4)])
    assert not errors, errors
    promoted = [number for r in reports for number in r.promoted]
    assert len(promoted) == len(set(promoted)) == 7
    assert set(promoted) == {a.number for a in waiting[:7]}  # the seven oldest, none skipped
    assert all(r.waiting == 5 for r in reports)
    reserves = Entry.objects.filter(programme=programme, kind="reserve").values_list("reference", flat=True)
    assert sorted(reserves) == sorted(promoted)
    assert AuditEvent.objects.filter(action="subsidies.application_promoted").count() == 7
    b = selectors.balances(programme)
    assert b.available_fen == 7_500 * YUAN - 7 * 999_80 and b.available_fen >= 0
    out = StringIO()
    call_command("ledger", "verify", "--programme", programme.code, stdout=out)
    assert "校验通过" in out.getvalue()
