"""Monitoring's background jobs.

- `monitoring_upload`: a department's filled Excel template (up to 20,000 rows, each saved in its own transaction
  by `excel.import_workbook`). The upload page checks size and that it is an Excel package at once; the job saves
  the rows with its progress, and answers with the counts (saved, 未变更 — a row repeating what the system holds,
  approved values included — and errors), the refused rows' reasons and a result file. Run again after its worker
  died, it saves each row with the same number, which changes nothing: no row is written twice.
- `derive_indicators`: the derived indicators of each frequency's latest ended period, from the ledgers and other
  metrics, monthly on the first day after a month ends (`huanxin monitoring derive` runs the same function).
  `derive_values` is idempotent, so a run repeated after a dead worker changes nothing more.
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone

from huanxin.core import uploads
from huanxin.core.exports import XLSX
from huanxin.core.models import User
from huanxin.jobs import kinds, schedule
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.monitoring import excel, services
from huanxin.monitoring.models import Period

UPLOAD = "monitoring_upload"
DERIVE = "derive_indicators"
RECENT = 5


def start_upload(*, actor: User, period: Period, filename: str, data: bytes) -> Job:
    """Queue a filled template for `period`. Refused at once: what is not an Excel package or would unpack too
    large (from the zip's directory, nothing inflated)."""
    uploads.check_zip(data)
    return jobs.start(
        actor=actor,
        kind=UPLOAD,
        title=f"Excel 批量填报：{period.label}",
        params={"period": period.code},
        upload=jobs.Upload(filename or "填报.xlsx", XLSX, data),
    )


def _line(result: excel.RowResult) -> str:
    where = " ".join(part for part in (result.indicator, result.region) if part)
    return f"第 {result.row} 行{f'（{where}）' if where else ''}：{result.message}"


def summary(results: list[excel.RowResult], period: Period) -> kinds.Finished:
    """The page's old answer as a job's: the counts, each refused row with its reason, every row in a file. Rows
    that repeat the system's values are counted apart, never as errors. An upload with errors of which no row was
    saved fails, so the owner's 待办 says so; one that changes nothing and has no error is done."""
    if not results:
        raise kinds.JobFailed(kinds.Finished("文件中没有填写数值的行"))
    failed = [r for r in results if r.outcome == excel.FAILED]
    same = sum(1 for r in results if r.outcome == excel.UNCHANGED)
    ok = len(results) - len(failed) - same
    counts = f"{ok} 行已保存" + (f"，{same} 行未变更" if same else "") + f"，{len(failed)} 行有错误"
    finished = kinds.Finished(
        f"共处理 {len(results)} 行：{counts}",
        result=kinds.Output(excel.results_workbook(results), XLSX, f"上传结果-{period.code}.xlsx"),
        errors=[_line(r) for r in failed],
    )
    if not ok and failed:
        raise kinds.JobFailed(finished)
    return finished


def run_upload(ctx: jobs.Context) -> kinds.Finished:
    owner = ctx.owner
    if owner is None:
        raise ValidationError("任务没有提交人", code="no_owner")
    period = Period.objects.filter(code=ctx.job.params.get("period", "")).first()
    if period is None:
        raise ValidationError("填报期间不存在", code="no_period")
    results = excel.import_workbook(
        user=owner, period=period, data=ctx.input(), progress=ctx.progress, since=ctx.job.created_at
    )
    return summary(results, period)


def recent(user: User) -> list[Job]:
    """The user's latest uploads, for the entry sheet's 最近的上传."""
    return list(Job.objects.filter(owner=user, kind=UPLOAD)[:RECENT])


def _as_of(slot: str) -> dt.date:
    """The day a monthly slot ("2025-06", the month that ended) was due: the first of the next month. A worker that
    was down starts it late and still derives the periods that had ended by then, not those of the day it ran."""
    year, month = (int(part) for part in slot.split("-"))
    return dt.date(year + month // 12, month % 12 + 1, 1)


def run_derive(ctx: jobs.Context) -> kinds.Finished:
    slot = str(ctx.job.params.get("slot", ""))
    try:
        today = _as_of(slot) if slot else timezone.localdate()
    except ValueError as exc:
        raise ValidationError(f"无法识别的期间：{slot}", code="bad_slot") from exc
    derived = services.derive_periods(today=today, progress=ctx.progress)
    changed = sum(n for _, n in derived)
    detail = "；".join(f"{ref.label}更新 {n} 个" for ref, n in derived)
    return kinds.Finished(f"派生指标已计算，共更新 {changed} 个数值（{detail}）")


kinds.register(kinds.Kind(UPLOAD, "数据填报上传", run_upload, back_url="monitoring:report"))
kinds.register(kinds.Kind(DERIVE, "派生指标计算", run_derive, unit="期"))
schedule.register(schedule.Periodic(DERIVE, kind=DERIVE, every="monthly"))
