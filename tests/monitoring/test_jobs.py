"""Monitoring's background jobs: the Excel upload (progress, result file, a dead worker's run done again writing
nothing twice) and deriving indicators (the monthly periodic job, and the command sharing its function)."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from openpyxl import load_workbook

from huanxin.core.models import AuditEvent
from huanxin.jobs import schedule
from huanxin.jobs import services as job_services
from huanxin.jobs.models import Job, ScheduledRun
from huanxin.monitoring import excel, selectors, services
from huanxin.monitoring import jobs as monitoring_jobs
from huanxin.monitoring.models import IndicatorValue, Period, ValueRevision
from huanxin.monitoring.periods import Frequency, PeriodRef
from tests.clock import beijing
from tests.factories import officer
from tests.jobs.helpers import run_queued_jobs
from tests.monitoring.test_ledgers import buses, record, setup, transport

pytestmark = pytest.mark.django_db
__all__ = ["buses", "setup", "transport"]  # fixtures, used by name


@pytest.fixture
def period(setup) -> Period:
    ref = selectors.latest_open_period(Frequency.QUARTER, timezone.localdate())
    return services.ensure_period(ref=ref)


@pytest.fixture
def clerk(setup):
    return officer("市住房和城乡建设局")


def filled(clerk, period: Period, value=1.5, bad_rows: int = 0) -> bytes:
    """The clerk's template with every row filled; the first `bad_rows` with text instead of a number."""
    wb = load_workbook(io.BytesIO(excel.build_template(user=clerk, period=period)))
    ws = wb["填报"]
    for row in range(2, ws.max_row + 1):
        ws.cell(row=row, column=6, value="两公里" if row - 2 < bad_rows else value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_upload_job_reports_progress_and_answers_with_a_result_file(clerk, period) -> None:
    heard: list[tuple[int, int]] = []
    refused = filled(clerk, period, bad_rows=76)  # read row by row, nothing saved
    excel.import_workbook(user=clerk, period=period, data=refused, progress=lambda d, t: heard.append((d, t)))
    assert heard == [(0, 76), (50, 76), (76, 76)]  # as the rows go, every PROGRESS_EVERY rows and at the end
    assert not IndicatorValue.objects.exists()

    data = filled(clerk, period, bad_rows=2)
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="住建局.xlsx", data=data)
    assert (job.state, job.params, job.title) == ("queued", {"period": period.code}, f"Excel 批量填报：{period.label}")
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 76, 76)
    assert job.message == "共处理 76 行：74 行已保存，2 行有错误"
    assert len(job.errors) == 2 and job.errors[0].startswith("第 2 行（") and "“两公里”不是数字" in job.errors[0]
    assert IndicatorValue.objects.filter(period=period, status="draft").count() == 74
    file, content = job_services.read_file(job, "result")
    assert file.name == f"上传结果-{period.code}.xlsx"
    sheet = list(load_workbook(io.BytesIO(content))["上传结果"].iter_rows(values_only=True))
    assert sheet[0] == tuple(excel.RESULT_HEADERS) and len(sheet) == 77
    assert sheet[1][3] == "未保存" and sheet[3][3:] == ("已保存", "已保存（草稿）")


def test_an_upload_run_again_after_its_worker_died_writes_nothing_twice(clerk, period) -> None:
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="住建局.xlsx", data=filled(clerk, period))
    claimed = job_services.claim(job.pk, "dead-worker")
    assert claimed is not None
    monitoring_jobs.run_upload(job_services.Context(claimed, "dead-worker"))  # every row saved; then kill -9
    revisions, events = ValueRevision.objects.count(), AuditEvent.objects.filter(action="indicator_value.saved")
    assert revisions == events.count() == 76
    later = timezone.now() + job_services.stale_after() + dt.timedelta(seconds=1)
    assert job_services.recover_stale(now=later) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.attempts, job.message) == ("done", 2, "共处理 76 行：76 行已保存，0 行有错误")
    assert ValueRevision.objects.count() == events.count() == 76  # the same numbers again: nothing new


def test_an_upload_of_which_no_row_was_saved_fails_its_job(clerk, period) -> None:
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="x.xlsx", data=filled(clerk, period, -1))
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "failed" and job.message == "共处理 76 行：0 行已保存，76 行有错误"
    assert "数值不能为负数" in job.errors[0] and job_services.read_file(job, "result") is not None
    assert not IndicatorValue.objects.exists()


def test_deriving_indicators_is_a_monthly_job_for_the_periods_ended_by_its_slot(buses, transport, setup) -> None:
    record(transport, buses, dt.date(2025, 5, 1), "9", fuel="纯电动")
    record(transport, buses, dt.date(2025, 5, 2), "1", fuel="柴油")
    # a worker's housekeeping on 10 July: the month that ended is June, its run derives what had ended by 1 July
    started = schedule.start_due(beijing(2025, 7, 10, 9))
    assert "derive_indicators" in started
    assert "derive_indicators" not in schedule.start_due(beijing(2025, 7, 31, 23))  # once per month
    run_queued_jobs()
    job = ScheduledRun.objects.get(name="derive_indicators", slot="2025-06").job
    assert (job.kind, job.state, job.owner) == ("derive_indicators", "done", None)
    assert job.message.startswith("派生指标已计算，共更新 ") and "2025年第二季度更新 " in job.message
    value = IndicatorValue.objects.get(
        indicator__code="nev-share-new-buses", period__code="2025-Q2", region=setup.region
    )
    assert (value.value, value.status, value.derived) == (Decimal("90.0000"), "approved", True)
    assert not Period.objects.filter(code="2025-Q3").exists()  # not yet over on 1 July
    assert Job.objects.filter(kind="derive_indicators", pk=job.pk).count() == 1


def test_the_derive_command_shares_the_jobs_function(buses, transport, setup) -> None:
    record(transport, buses, dt.date(2025, 5, 1), "4", fuel="纯电动")
    out = StringIO()
    call_command("monitoring", "derive", "2025-Q2", stdout=out)
    assert out.getvalue().startswith(f"{PeriodRef.parse('2025-Q2').label}: 更新 ")
    assert IndicatorValue.objects.filter(period__code="2025-Q2", derived=True).exists()
    assert services.derive_periods(refs=[PeriodRef.parse("2025-Q2")]) == [(PeriodRef.parse("2025-Q2"), 0)]
    ahead = PeriodRef.containing(Frequency.YEAR, timezone.localdate()).next()
    with pytest.raises(CommandError, match="尚未结束"):
        call_command("monitoring", "derive", "2025-Q2", ahead.code, stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("monitoring", "derive", "2025-Q9", stdout=StringIO())


def test_a_template_repeating_approved_values_answers_unchanged_not_errors(clerk, period) -> None:
    """The department's own template, downloaded after its figures were approved, with one new figure: the
    approved rows are 未变更, the new one saved, and only a real change of an approved value is an error."""
    from tests.factories import task_force

    boss = task_force()
    rows = list(selectors.entry_sheet(user=clerk, period=period))
    for n, row in enumerate(rows[:57]):
        services.save_value(
            actor=clerk, indicator=row.setting.indicator, period=period, region=row.region, value=f"{n}.25"
        )
    drafts = list(IndicatorValue.objects.filter(period=period))
    services.submit_values(actor=clerk, values=drafts)
    for value in IndicatorValue.objects.filter(period=period):
        services.approve_value(actor=boss, value=value)
    wb = load_workbook(io.BytesIO(excel.build_template(user=clerk, period=period)))
    ws = wb["填报"]
    assert ws.cell(row=2, column=8).value == "已审核"
    ws.cell(row=59, column=6, value=3)  # the one new figure (row 59 is the 58th indicator row)
    out = io.BytesIO()
    wb.save(out)
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="住建局.xlsx", data=out.getvalue())
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.message, job.errors) == ("done", "共处理 58 行：1 行已保存，57 行未变更，0 行有错误", [])
    sheet = list(
        load_workbook(io.BytesIO(job_services.read_file(job, "result")[1]))["上传结果"].iter_rows(values_only=True)
    )
    assert sheet[1][3:] == ("未变更", "与系统中的数值相同（已审核）") and sheet[58][3] == "已保存"
    assert IndicatorValue.objects.filter(period=period, status="approved").count() == 57

    ws.cell(row=2, column=6, value=99)  # a real change of an approved value: the one error
    out = io.BytesIO()
    wb.save(out)
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="住建局.xlsx", data=out.getvalue())
    run_queued_jobs()
    job.refresh_from_db()
    assert job.message == "共处理 58 行：0 行已保存，57 行未变更，1 行有错误" and job.state == "failed"
    assert len(job.errors) == 1 and "（系统中为 0.25），不能直接修改，请在系统中提交更正" in job.errors[0]

    # the same file again with nothing new and no error: done, nothing saved, nothing wrong
    ws.cell(row=2, column=6, value=0.25)
    out = io.BytesIO()
    wb.save(out)
    job = monitoring_jobs.start_upload(actor=clerk, period=period, filename="住建局.xlsx", data=out.getvalue())
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.message) == ("done", "共处理 58 行：0 行已保存，58 行未变更，0 行有错误")
