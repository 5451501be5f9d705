"""Payments: approved applications go into a batch, the bank's file is exported, the bank's result imported row by
row; a paid application is never paid again, a failed one is paid in the next batch; clawback of a paid one."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from huanxin.core.models import AuditEvent, User
from huanxin.core.roles import Role
from huanxin.subsidies import selectors
from huanxin.subsidies.models import Application, Claim, Entry, Payment, PaymentBatch, Programme
from huanxin.subsidies.payments import clawback, create_batch, export_bank_file, import_bank_result
from huanxin.subsidies.review import decide
from tests.conftest import postgres_only
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import BANK, BANK_CODE, CARD
from tests.subsidies.test_application_concurrency import race
from tests.subsidies.test_review import NAME, appliance_programme, apply, code_of, item

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(boss: User) -> Programme:
    return appliance_programme(boss)


def approved(programme: Programme, n: int = 1) -> list[Application]:
    reviewer = user_with_role(Role.REVIEWER)
    apps = []
    for _ in range(n):
        application = apply(UserFactory(role=Role.CITIZEN, verified_name=NAME), programme, [item()])  # applies as NAME
        apps.append(decide(actor=reviewer, application=application, decision="approve"))
    return apps


def result_file(rows: list[list[str]], encoding: str = "utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["申请编号", "结果", "银行流水号", "失败原因"])
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def pay_entries(application: Application) -> int:
    return Entry.objects.filter(kind="pay", reference=application.number).count()


def test_a_batch_takes_the_approved_applications_once(programme, finance) -> None:
    apps = approved(programme, 3)
    apply(UserFactory(role=Role.CITIZEN), programme)  # not yet approved: not in a batch
    batch = create_batch(actor=finance, programme=programme, limit=2)
    assert batch.status == PaymentBatch.Status.DRAFT and batch.number.startswith("FF")
    assert [p.application for p in batch.payments.all()] == apps[:2]
    assert all(p.status == "pending" and p.amount_fen == p.application.amount_fen for p in batch.payments.all())
    second = create_batch(actor=finance, programme=programme)
    assert [p.application for p in second.payments.all()] == apps[2:]
    with pytest.raises(ValidationError) as exc:
        create_batch(actor=finance, programme=programme)
    assert code_of(exc.value) == "nothing_to_pay"
    event = AuditEvent.objects.filter(action="subsidies.payment_batch_created").first()
    assert event.changes["count"] == 2 and NAME not in str(event.changes)


def test_only_finance_and_the_task_force_run_payments(programme, finance, boss) -> None:
    apps = approved(programme)
    for actor in (user_with_role(Role.REVIEWER), user_with_role(Role.AUDITOR), UserFactory(role=Role.CITIZEN)):
        with pytest.raises(PermissionDenied):
            create_batch(actor=actor, programme=programme)
        with pytest.raises(PermissionDenied):
            clawback(actor=actor, application=apps[0], reason="骗补")
    batch = create_batch(actor=boss, programme=programme)
    with pytest.raises(PermissionDenied):
        export_bank_file(actor=user_with_role(Role.REVIEWER), batch=batch)
    with pytest.raises(PermissionDenied):
        import_bank_result(actor=user_with_role(Role.REVIEWER), batch=batch, data=b"")


def test_the_bank_file(programme, finance) -> None:
    """The columns of a 代发 template; CSV in UTF-8 with BOM and CRLF; a second export only with a reason.
    (tests/subsidies/test_payees.py: the Excel file, merchant-paid rows, the re-export's mark and audit.)"""
    apps = approved(programme, 2)
    batch = create_batch(actor=finance, programme=programme)
    data = export_bank_file(actor=finance, batch=batch, fmt="csv").content
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, as Chinese bank portals take
    rows = read_csv(data)
    assert rows[0] == ["序号", "收款账号", "收款户名", "金额（元）", "开户行", "联行号", "用途/附言"]
    assert rows[1] == ["1", CARD, NAME, "999.80", BANK, BANK_CODE, f"以旧换新补贴{apps[0].number}"]
    assert rows[2][0] == "2" and rows[2][6] == f"以旧换新补贴{apps[1].number}"
    assert data.count(b"\r\n") == 3
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED and batch.exported_at is not None
    again = export_bank_file(actor=finance, batch=batch, fmt="csv", reason="银行系统退回文件，重新上传")
    assert again.content == data and again.sequence == 2  # the same rows again, audited again
    events = AuditEvent.objects.filter(
        action__in=["subsidies.payment_batch_exported", "subsidies.bank_file_reexported"]
    )
    assert [e.action for e in events.order_by("id")] == [
        "subsidies.payment_batch_exported",
        "subsidies.bank_file_reexported",
    ]
    assert all(NAME not in str(e.changes) and CARD not in str(e.changes) for e in events)


def test_importing_the_result_pays_once_and_settles_the_batch(programme, finance) -> None:
    apps = approved(programme, 2)
    total = sum(a.amount_fen for a in apps)
    batch = create_batch(actor=finance, programme=programme)
    with pytest.raises(ValidationError) as exc:
        import_bank_result(actor=finance, batch=batch, data=result_file([]))
    assert code_of(exc.value) == "batch_not_exported"
    export_bank_file(actor=finance, batch=batch)
    data = result_file([[a.number, "成功", f"BANK{n}", ""] for n, a in enumerate(apps)])
    results = import_bank_result(actor=finance, batch=batch, data=data)
    expected = [(2, True, True, "已到账"), (3, True, True, "已到账")]
    assert [(r.row, r.ok, r.changed, r.message) for r in results] == expected
    for application in apps:
        application.refresh_from_db()
        assert application.status == Application.Status.PAID
        assert pay_entries(application) == 1
        assert application.events.last().note.startswith("补贴已发放")
    balances = selectors.balances(programme)
    assert balances.paid_fen == total and balances.reserved_fen == 0
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.SETTLED and batch.settled_at is not None
    assert Payment.objects.get(application=apps[0]).bank_reference == "BANK0"
    # the same file again: nothing changes, not even the audit log
    events = AuditEvent.objects.count()
    again = import_bank_result(actor=finance, batch=batch, data=data)
    assert [(r.ok, r.changed) for r in again] == [(True, False), (True, False)]
    assert "未重复发放" in again[0].message
    assert AuditEvent.objects.count() == events
    assert all(pay_entries(a) == 1 for a in apps) and selectors.balances(programme).paid_fen == total
    assert selectors.check_ledger(programme).problems == []
    # a paid application is never in a batch again
    with pytest.raises(ValidationError) as exc:
        create_batch(actor=finance, programme=programme)
    assert code_of(exc.value) == "nothing_to_pay"
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database says so too
        Payment.objects.create(batch=batch, application=apps[0], amount_fen=apps[0].amount_fen)


def test_a_duplicate_success_row_changes_nothing(programme, finance) -> None:
    (application,) = approved(programme)
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    results = import_bank_result(
        actor=finance,
        batch=batch,
        data=result_file([[application.number, "成功", "B1", ""], [application.number, "成功", "B1", ""]]),
    )
    assert [(r.ok, r.changed) for r in results] == [(True, True), (True, False)]
    assert pay_entries(application) == 1
    assert AuditEvent.objects.filter(action="subsidies.payment_paid").count() == 1


def test_a_failed_payment_goes_into_the_next_batch(programme, finance) -> None:
    ok, bad = approved(programme, 2)
    first = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=first)
    results = import_bank_result(
        actor=finance,
        batch=first,
        data=result_file([[ok.number, "成功", "B1", ""], [bad.number, "失败", "", "账户已销户"]]),
    )
    assert [r.changed for r in results] == [True, True]
    bad.refresh_from_db()
    assert bad.status == Application.Status.APPROVED
    failed = Payment.objects.get(batch=first, application=bad)
    assert failed.status == "failed" and failed.failure_reason == "账户已销户"
    assert "账户已销户" not in str(AuditEvent.objects.get(action="subsidies.payment_failed").changes)
    first.refresh_from_db()
    assert first.status == PaymentBatch.Status.SETTLED
    # a late contradicting row is refused, a repeated one changes nothing
    results = import_bank_result(
        actor=finance, batch=first, data=result_file([[bad.number, "成功", "B9", ""], [bad.number, "失败", "", ""]])
    )
    assert [(r.ok, r.changed) for r in results] == [(False, False), (True, False)]
    assert "与银行核实" in results[0].message
    second = create_batch(actor=finance, programme=programme)
    assert [p.application for p in second.payments.all()] == [bad]
    rows = read_csv(export_bank_file(actor=finance, batch=second, fmt="csv").content)
    assert [r[6] for r in rows[1:]] == [f"以旧换新补贴{bad.number}"]
    import_bank_result(actor=finance, batch=second, data=result_file([[bad.number, "成功", "B2", ""]]))
    bad.refresh_from_db()
    assert bad.status == Application.Status.PAID and pay_entries(bad) == 1
    assert Payment.objects.filter(application=bad).count() == 2
    assert selectors.balances(programme).paid_fen == ok.amount_fen + bad.amount_fen


def test_bad_rows_get_their_reason_and_the_others_are_applied(programme, finance) -> None:
    apps = approved(programme, 2)
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    rows = [
        ["BT000000000000", "成功", "B1", ""],
        [apps[0].number, "已处理", "B1", ""],
        [apps[0].number, "成功", "", ""],
        ["", "", "", ""],  # an empty line is skipped
        [apps[1].number, "成功", "B2", ""],
    ]
    results = import_bank_result(actor=finance, batch=batch, data=result_file(rows))
    assert [(r.row, r.ok) for r in results] == [(2, False), (3, False), (4, False), (6, True)]
    assert "不在批次" in results[0].message
    assert "无法识别" in results[1].message
    assert "银行流水号" in results[2].message
    assert pay_entries(apps[0]) == 0 and pay_entries(apps[1]) == 1
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.EXPORTED  # one payment still pending
    with pytest.raises(ValidationError) as exc:
        import_bank_result(actor=finance, batch=batch, data="姓名,金额\n".encode())
    assert code_of(exc.value) == "bad_header"
    gbk = import_bank_result(actor=finance, batch=batch, data=result_file([[apps[0].number, "成功", "B3", ""]], "gbk"))
    assert gbk[0].changed
    batch.refresh_from_db()
    assert batch.status == PaymentBatch.Status.SETTLED


def test_clawback_of_a_paid_application(programme, finance) -> None:
    (application,) = approved(programme)
    with pytest.raises(ValidationError) as exc:
        clawback(actor=finance, application=application, reason="骗补")
    assert code_of(exc.value) == "not_paid"
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    import_bank_result(actor=finance, batch=batch, data=result_file([[application.number, "成功", "B1", ""]]))
    with pytest.raises(ValidationError) as exc:
        clawback(actor=finance, application=application, reason=" ")
    assert code_of(exc.value) == "reason_required"
    result = clawback(actor=finance, application=application, reason="经核查系虚假交易")
    assert result.status == Application.Status.CLAWED_BACK
    kinds = list(Entry.objects.filter(reference=application.number).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["reserve", "pay", "clawback"]
    balances = selectors.balances(programme)
    assert balances.paid_fen == 0 and balances.clawed_back_fen == application.amount_fen
    assert Claim.objects.filter(application=application, active=True).count() == 2  # nobody claims them again
    assert clawback(actor=finance, application=application, reason="再次").status == "clawed_back"
    assert Entry.objects.filter(kind="clawback", reference=application.number).count() == 1
    assert selectors.check_ledger(programme).problems == []
    event = AuditEvent.objects.get(action="subsidies.application_clawed_back")
    assert event.changes["reason"] == "经核查系虚假交易" and NAME not in str(event.changes)


def test_no_personal_data_in_the_audit_log_or_the_logs(programme, finance, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    application = approved(programme)[0]
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    import_bank_result(actor=finance, batch=batch, data=result_file([[application.number, "成功", "B1", ""]]))
    clawback(actor=finance, application=application, reason="虚假交易")
    secrets = [NAME, application.applicant_id, application.phone, CARD]
    for event in AuditEvent.objects.all():
        assert not any(s in str(event.changes) for s in secrets), event.action
    assert not any(s in caplog.text for s in secrets)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_finance_officers_import_the_same_success_at_once(boss) -> None:
    programme = appliance_programme(boss)
    apps = approved(programme, 3)
    finance = user_with_role(Role.FINANCE_OFFICER)
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    data = result_file([[a.number, "成功", f"B{n}", ""] for n, a in enumerate(apps)])
    officers = [user_with_role(Role.FINANCE_OFFICER) for _ in range(4)]
    results, errors = race([lambda u=u: import_bank_result(actor=u, batch=batch, data=data) for u in officers])
    assert errors == []
    changed = [r for rows in results for r in rows if r.changed]
    assert len(changed) == 3 and all(r.ok for rows in results for r in rows)
    for application in apps:
        assert pay_entries(application) == 1
        application.refresh_from_db()
        assert application.status == Application.Status.PAID
    assert AuditEvent.objects.filter(action="subsidies.payment_paid").count() == 3
    assert AuditEvent.objects.filter(action="subsidies.payment_batch_settled").count() == 1
    assert selectors.balances(programme).paid_fen == sum(a.amount_fen for a in apps)
    assert selectors.check_ledger(programme).problems == []


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_batches_made_at_once_share_no_application(boss) -> None:
    programme = appliance_programme(boss)
    apps = approved(programme, 4)
    officers = [user_with_role(Role.FINANCE_OFFICER) for _ in range(4)]
    results, errors = race([lambda u=u: create_batch(actor=u, programme=programme) for u in officers])
    assert len(results) == 1 and len(errors) == 3
    assert all(code_of(e) == "nothing_to_pay" for e in errors)  # type: ignore[arg-type]
    assert sorted(Payment.objects.values_list("application_id", flat=True)) == sorted(a.pk for a in apps)
