"""An application's applicant is told at each change of state: a message written with the change, an SMS sent after
it by a worker, the same text in the 消息 list; never a name, an ID number or the phone in the text; a gateway that
fails leaves the change standing and the message retried, then marked failed and listed by the daily check."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from django_tasks_db.models import DBTaskResult

from huanxin.core.roles import Role
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.notices import notify
from huanxin.notices.jobs import requeue_lost
from huanxin.notices.models import Message
from huanxin.subsidies import bulk, queue
from huanxin.subsidies.models import Application, Programme
from huanxin.subsidies.payments import clawback, create_batch, export_bank_file, import_bank_result
from huanxin.subsidies.refunds import report_refund
from huanxin.subsidies.review import decide, supply_material
from tests import clock
from tests.factories import UserFactory, user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.notices.helpers import assert_no_personal_data, events, failing, recording
from tests.subsidies.test_bulk import people, row
from tests.subsidies.test_payments import result_file
from tests.subsidies.test_review import NAME, appliance_programme, apply

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(boss) -> Programme:
    return appliance_programme(boss)


def citizen():
    return UserFactory(role=Role.CITIZEN, verified_name=NAME)


def secrets_of(application: Application) -> list[str]:
    return [application.applicant_name, application.applicant_id, application.phone, application.applicant_id[-6:]]


def test_each_step_of_an_application_is_a_message_and_an_sms(programme, finance, settings, caplog) -> None:
    sent = recording(settings)
    person = citizen()
    application = apply(person, programme)
    reviewer = user_with_role(Role.REVIEWER)
    decide(actor=reviewer, application=application, decision="more", reason="请上传发票照片")
    supply_material(actor=person, application=application, note="已上传")
    decide(actor=reviewer, application=application, decision="approve")
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch, fmt="csv")
    import_bank_result(actor=finance, batch=batch, data=result_file([[application.number, "成功", "B1", ""]]))
    clawback(actor=finance, application=application, reason="核查发现发票伪造")

    assert events(application.number) == [
        "application.reserved",
        "application.more",
        "application.approved",
        "application.paid",
        "application.clawed_back",
    ]  # supplying material is the applicant's own step: no message about it
    messages = Message.objects.filter(subject=application.number).order_by("created_at", "pk")
    first = messages[0]
    assert first.user == person and first.phone == application.phone
    amount = f"{application.amount_fen / 100:,.2f}"
    assert first.text == f"您的补贴申请{application.number}已受理，补贴{amount}元，额度已预留。"
    assert "请上传发票照片" not in messages[1].text  # a reviewer's words stay on the page, behind the login
    assert_no_personal_data(application.number, *secrets_of(application))
    assert {m.sms_state for m in messages} == {Message.Sms.PENDING}  # nothing sent inside the transactions

    with caplog.at_level(logging.INFO, logger="huanxin.notices"):
        run_queued_jobs()
    assert [s.template for s in sent] == events(application.number)
    assert all(s.phone == application.phone and s.text.startswith("【") for s in sent)
    assert {m.sms_state for m in Message.objects.filter(subject=application.number)} == {Message.Sms.SENT}
    assert notify.unread_count(person) == 5


def test_the_log_gateway_logs_the_masked_phone_and_id_only(programme, settings, caplog) -> None:
    settings.HUANXIN_SMS_GATEWAY = "huanxin.notices.notify.LogGateway"
    application = apply(citizen(), programme)
    with caplog.at_level(logging.INFO, logger="huanxin.notices.sms"):
        run_queued_jobs()
    message = Message.objects.get(subject=application.number)
    assert message.sms_state == Message.Sms.SENT and message.sms_reference == f"log-{message.pk}"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "huanxin.notices.sms")
    assert f"message={message.pk}" in logged
    assert message.masked_phone in logged
    for secret in [*secrets_of(application), message.text, application.number]:
        assert secret not in logged


def test_rejection_refund_and_the_queue_tell_the_applicant(boss, settings) -> None:
    recording(settings)
    programme = appliance_programme(boss, budget_fen=1_500_00, on_exhaustion=Programme.OnExhaustion.QUEUE)
    reviewer = user_with_role(Role.REVIEWER)
    first = apply(citizen(), programme)
    assert 750_00 < first.amount_fen <= 1_500_00  # one fits the budget, two do not
    decide(actor=reviewer, application=first, decision="reject", reason="发票与身份证姓名不一致")
    assert events(first.number) == ["application.reserved", "application.rejected"]

    merchant = user_with_role(Role.MERCHANT)
    sold = apply(merchant, programme)  # a till's customer: no account, the SMS only
    waiting = apply(citizen(), programme)
    assert waiting.status == Application.Status.QUEUED
    assert events(waiting.number) == ["application.queued"]
    report_refund(actor=merchant, application=sold, reason="顾客退货")
    assert [(m.event, m.user_id, m.sms_state) for m in Message.objects.filter(subject=sold.number)] == [
        ("application.refunded", None, Message.Sms.PENDING),
        ("application.reserved", None, Message.Sms.PENDING),
    ]
    queue.promote_queue(actor=boss, programme=programme)
    assert events(waiting.number) == ["application.queued", "application.promoted"]


def test_a_failing_gateway_leaves_the_application_and_retries_then_fails_visibly(
    programme, settings, monkeypatch
) -> None:
    gateway = failing(settings)
    now = clock.freeze(monkeypatch)
    application = apply(citizen(), programme)
    run_queued_jobs()
    application.refresh_from_db()
    assert application.status == Application.Status.RESERVED  # the business write stands
    message = Message.objects.get(subject=application.number)
    assert (message.sms_state, message.sms_attempts, message.sms_error) == (
        Message.Sms.PENDING,
        1,
        "isv.BUSINESS_LIMIT_CONTROL",
    )
    assert message.sms_next_at == now + dt.timedelta(seconds=notify.BACKOFF[0])
    assert DBTaskResult.objects.ready().count() == 0  # the retry waits for its time
    for delay in notify.BACKOFF:
        now += dt.timedelta(seconds=delay)
        clock.freeze(monkeypatch, now)
        run_queued_jobs()
    message.refresh_from_db()
    assert gateway.calls == notify.MAX_ATTEMPTS
    assert (message.sms_state, message.sms_attempts) == (Message.Sms.FAILED, notify.MAX_ATTEMPTS)
    assert notify.unread_count(application.applicant_user) == 1  # the 消息 list has it all the same

    job = jobs.start(actor=None, kind="sms_check", title="短信发送检查")
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and "1 条短信发送失败" in job.message
    assert application.number in job.errors[0] and application.phone not in job.errors[0]
    assert message.masked_phone in job.errors[0]


def test_a_lost_attempt_is_queued_again_and_sent_once(programme, settings, monkeypatch) -> None:
    sent = recording(settings)
    now = clock.freeze(monkeypatch)
    application = apply(citizen(), programme)
    DBTaskResult.objects.all().delete()  # the worker died with the task in hand
    clock.freeze(monkeypatch, now + dt.timedelta(hours=2))
    assert requeue_lost() == 1
    run_queued_jobs()
    assert len(sent) == 1 and sent[0].params == {"number": application.number}
    assert requeue_lost() == 0
    message = Message.objects.get(subject=application.number)
    assert notify.deliver(message.pk) == "skipped"  # a stray second task sends nothing
    assert len(sent) == 1


@pytest.mark.parametrize("chunk", [500, 1])
def test_a_batch_rows_applicants_get_no_accepted_sms(programme, monkeypatch, chunk) -> None:
    """A batch's rows are a till's customers; the 已受理 SMS is skipped for them (the batch's speed), also for rows
    the batch does one by one; their later steps are told as for anyone."""
    monkeypatch.setattr(bulk, "CHUNK", chunk)
    merchant = user_with_role(Role.MERCHANT)
    ids = people(3)
    rows = [row(n, programme, ids[n], f"INVB{n}") for n in range(3)]
    if chunk == 1:  # a till took row 0's invoice meanwhile: that chunk is done again row by row
        rows.append(row(3, programme, people(4, seed=9)[3], "INVB2"))
    outcomes = bulk.submit_rows(actor=merchant, rows=rows)
    numbers = [o.number for o in outcomes if o.ok]
    assert len(numbers) == 3
    assert Message.objects.filter(subject__in=numbers).count() == 0
    application = Application.objects.get(number=numbers[0])
    decide(actor=user_with_role(Role.REVIEWER), application=application, decision="approve")
    assert events(application.number) == ["application.approved"]
    assert Message.objects.get(subject=application.number).user is None


def test_the_messages_page_lists_newest_first_and_reads_them(client, programme) -> None:
    person, other = citizen(), citizen()
    application = apply(person, programme)
    decide(actor=user_with_role(Role.REVIEWER), application=application, decision="approve")
    apply(other, programme)
    client.force_login(person)
    assert notify.unread_count(person) == 2
    page = client.get("/messages/")
    html = page.content.decode()
    assert page.status_code == 200
    assert html.index("审核通过，补贴") < html.index("已受理，补贴")  # newest first
    assert html.count("notice-new") == 2 and f"/subsidies/applications/{application.number}/" in html
    assert notify.unread_count(person) == 0 and notify.unread_count(other) == 1
    assert "notice-new" not in client.get("/messages/").content.decode()
    client.force_login(other)
    assert application.number not in client.get("/messages/").content.decode()
