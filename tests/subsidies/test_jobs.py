"""The subsidies' background jobs: the bank's result file imported by a worker (once, also when a worker died
half-way), the daily ledger check that puts a break in the auditors' 待办, and a merchant's long settlement
export built by a worker."""

from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import unquote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from huanxin.core import inbox
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.jobs import schedule
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.subsidies import jobs as subsidy_jobs
from huanxin.subsidies import selectors
from huanxin.subsidies.models import Application, Entry, Payment, PaymentBatch
from huanxin.subsidies.payments import create_batch, export_bank_file, import_bank_result
from tests.core.test_audit import tampering
from tests.factories import user_with_role
from tests.jobs.helpers import run_queued_jobs
from tests.subsidies.test_ledger_verify import _entry, _shift, written  # noqa: F401  (written: a fixture)
from tests.subsidies.test_payments import approved, pay_entries, programme, result_file  # noqa: F401
from tests.subsidies.test_refunds import merchant  # noqa: F401  (a fixture of `written`)
from tests.subsidies.test_settlement import now, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(hours=1)  # well past the time after which a silent worker is presumed dead


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def exported_batch(programme, finance, n: int = 3) -> tuple[PaymentBatch, list[Application]]:  # noqa: F811
    apps = approved(programme, n)
    batch = create_batch(actor=finance, programme=programme)
    export_bank_file(actor=finance, batch=batch)
    return batch, apps


def upload(client: Client, batch: PaymentBatch, data: bytes):
    url = f"/subsidies/payments/{batch.number}/"
    return client.post(url, {"action": "import", "file": SimpleUploadedFile("回单.csv", data, "text/csv")})


def test_the_bank_result_is_imported_by_a_worker_with_its_outcome_per_row(programme, finance) -> None:  # noqa: F811
    batch, (paid, failed, other) = exported_batch(programme, finance)
    client = logged_in(finance)
    data = result_file(
        [
            [paid.number, "成功", "BANK-1", ""],
            [failed.number, "失败", "", "户名不符"],
            ["APP-NOT-HERE", "成功", "BANK-3", ""],
            [other.number, "成功", "", ""],  # a success without the bank's reference
        ]
    )
    response = upload(client, batch, data)
    job = Job.objects.get(kind=subsidy_jobs.BANK_RESULT)
    assert response["Location"] == f"/jobs/{job.pk}/"
    assert (job.state, job.rows_total, job.params) == ("queued", 4, {"batch": batch.number})
    assert Payment.objects.filter(status=Payment.Status.PENDING).count() == 3  # nothing applied in the request
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done) == ("done", 4)
    assert job.message == (
        f"批次{batch.number}回单共 4 行：已到账 1 行；发放失败，已退回待发放，下一批次重新发放 1 行；未处理 2 行"
    )
    assert job.errors[0] == f"第 4 行（申请编号 APP-NOT-HERE）：申请编号APP-NOT-HERE不在批次{batch.number}中"
    assert job.errors[1] == f"第 5 行（申请编号 {other.number}）：成功的款项须有银行流水号"
    _, content = jobs.read_file(job, "result")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["行号", "申请编号", "处理结果", "说明"] and rows[1] == ["2", paid.number, "已处理", "已到账"]
    paid.refresh_from_db()
    failed.refresh_from_db()
    assert (paid.status, failed.status) == (Application.Status.PAID, Application.Status.APPROVED)
    page = client.get(f"/subsidies/payments/{batch.number}/").content.decode()
    assert f"/jobs/{job.pk}/" in page and "回单导入记录" in page  # the batch page links its imports
    detail = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "已到账 1 行" in detail and "下载结果文件" in detail and "不在批次" in detail
    assert logged_in(user_with_role(Role.FINANCE_OFFICER)).get(f"/jobs/{job.pk}/").status_code == 404


def test_what_can_be_told_at_once_is_refused_on_the_page(programme, finance) -> None:  # noqa: F811
    approved(programme, 1)
    draft = create_batch(actor=finance, programme=programme)
    client = logged_in(finance)
    refused = upload(client, draft, result_file([["X", "成功", "B", ""]]))
    assert refused.status_code == 200 and "尚未导出发放文件，不能导入回单" in refused.content.decode()
    export_bank_file(actor=finance, batch=draft)
    for data, message in [
        ("姓名,金额\r\n张三,1\r\n".encode(), "回单表头缺少：申请编号、结果"),
        (result_file([]), "回单文件没有数据行"),
    ]:
        assert message in upload(client, draft, data).content.decode()
    none = client.post(f"/subsidies/payments/{draft.number}/", {"action": "import"})
    assert "请选择银行回单文件" in none.content.decode()
    assert not Job.objects.filter(kind=subsidy_jobs.BANK_RESULT).exists()
    reviewer = logged_in(user_with_role(Role.REVIEWER))
    assert upload(reviewer, draft, result_file([["X", "成功", "B", ""]])).status_code == 403


def test_a_worker_that_died_half_way_pays_nobody_twice(programme, finance) -> None:  # noqa: F811
    batch, apps = exported_batch(programme, finance)
    data = result_file([[a.number, "成功", f"BANK-{n}", ""] for n, a in enumerate(apps)])
    upload(logged_in(finance), batch, data)
    job = Job.objects.get(kind=subsidy_jobs.BANK_RESULT)
    # the first worker took the job, applied the first row, and was killed
    assert jobs.claim(job.pk, "dead-worker") is not None
    import_bank_result(actor=finance, batch=batch, data=result_file([[apps[0].number, "成功", "BANK-0", ""]]))
    assert jobs.recover_stale(now=timezone.now() + LATER) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("done", 2)
    assert "已到账 2 行" in job.message and "已到账，此前已处理，未重复发放 1 行" in job.message
    assert all(pay_entries(a) == 1 for a in apps)
    assert Payment.objects.filter(status=Payment.Status.PAID).count() == 3
    # the same file once more, as a second job: nothing is paid again
    upload(logged_in(finance), batch, data)
    run_queued_jobs()
    again = Job.objects.filter(kind=subsidy_jobs.BANK_RESULT).first()
    assert again is not None and again.pk != job.pk and again.state == "done"
    assert again.message.endswith("已到账，此前已处理，未重复发放 3 行；批次已结清")
    assert Entry.objects.filter(kind="pay").count() == 3
    assert selectors.balances(programme).paid_fen == sum(a.amount_fen for a in apps)
    assert selectors.check_ledger(programme).problems == []


# --- the daily ledger check -------------------------------------------------------------------------------------


def _ledger_job(at: dt.datetime | None = None) -> Job:
    at = at or timezone.now()
    assert "ledger_verify" in schedule.start_due(at)
    run_queued_jobs()
    return Job.objects.get(kind=subsidy_jobs.LEDGER_VERIFY, scheduled_run__slot=timezone.localdate(at).isoformat())


def test_the_daily_ledger_check_passes_on_a_ledger_the_services_wrote(written) -> None:  # noqa: F811
    job = _ledger_job()
    assert job.state == "done" and job.owner is None
    assert job.message == "补贴额度台账校验通过：1 个项目，余额与分录一致，分录与申请和发放记录相符"
    auditor = user_with_role(Role.AUDITOR)
    assert not [i for i in inbox.items_for(auditor) if i.title == "定期校验发现问题"]


def test_a_break_in_the_ledger_goes_to_the_auditors(written) -> None:  # noqa: F811
    broken, victim = written.programme, written.holding
    entry = _entry(broken, "reserve", victim.number)
    with tampering():  # 100 yuan moved out of a reservation, both balances to match (test_ledger_verify)
        Entry.objects.filter(pk=entry.pk).update(amount_fen=entry.amount_fen - 100_00)
        _shift(entry.debit, -100_00)
        _shift(entry.credit, +100_00)
    job = _ledger_job()
    assert job.state == "failed" and job.message.startswith("补贴额度台账校验未通过：1 个项目共")
    assert any(e.startswith(f"{broken.code}：申请 {victim.number} 的预留分录为") for e in job.errors)
    _, listing = jobs.read_file(job, "result")
    assert victim.number in listing.decode("utf-8-sig")
    auditor = user_with_role(Role.AUDITOR)
    items = {i.title: i for i in inbox.items_for(auditor)}
    assert items["定期校验发现问题"].count == 1 and items["定期校验发现问题"].url == "/jobs/checks/"
    checks = logged_in(auditor).get("/jobs/checks/").content.decode()
    assert "补贴额度台账校验" in checks
    # the next day's run is another job: one per day, whichever worker comes first
    tomorrow = _ledger_job(timezone.now() + dt.timedelta(days=1))
    assert tomorrow.pk != job.pk and Job.objects.filter(kind=subsidy_jobs.LEDGER_VERIFY).count() == 2


# --- the settlement export --------------------------------------------------------------------------------------


def test_a_long_settlement_export_is_built_by_a_worker(world, monkeypatch) -> None:  # noqa: F811
    a, b = world["a"], world["b"]
    client = logged_in(a)
    at_once = client.get("/subsidies/settlement/", {"format": "csv"})  # 3 pending claims: answered at once
    assert at_once.status_code == 200 and not Job.objects.filter(kind=subsidy_jobs.EXPORT).exists()
    monkeypatch.setattr(subsidy_jobs, "EXPORT_AT_ONCE", 2)
    response = client.get("/subsidies/settlement/", {"format": "csv"})
    job = Job.objects.get(kind=subsidy_jobs.EXPORT)
    assert response["Location"] == f"/jobs/{job.pk}/" and job.rows_total == 3
    assert job.params == {"export": "settlement_claims", "organisation": a.organisation_id, "view": "pending",
                          "format": "csv"}  # fmt: skip
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.message) == ("done", "已导出 3 笔")
    file, content = jobs.read_file(job, "result")
    assert content == at_once.content  # the same file as the page answers at once
    assert file.name == unquote(at_once["Content-Disposition"].split("''")[1]) and file.name.endswith(".csv")
    assert logged_in(b).get(f"/jobs/{job.pk}/result/").status_code == 404  # another merchant's: not found
    # an official's export of one merchant's settled claims, as a workbook
    finance = logged_in(user_with_role(Role.FINANCE_OFFICER))
    monkeypatch.setattr(subsidy_jobs, "EXPORT_AT_ONCE", 0)
    started = finance.get(f"/subsidies/settlement/{a.organisation_id}/", {"format": "xlsx", "show": "settled"})
    assert started.status_code == 302
    run_queued_jobs()
    settled = Job.objects.filter(kind=subsidy_jobs.EXPORT).first()
    assert settled is not None and settled.state == "done" and settled.message == "已导出 1 笔"
    assert finance.get(started["Location"] + "result/")["Content-Type"].startswith("application/vnd.openxmlformats")
