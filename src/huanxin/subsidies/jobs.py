"""The subsidies' background jobs: the bank's result file imported with a progress bar, the daily ledger check,
and exports too long to build inside a request.

- `bank_result`: the page checks what it can at once (who, which batch, a readable CSV with the right header) and
  queues the file; the job runs `payments.import_bank_result`. Run again after its worker died, it changes nothing
  twice: each row locks its payment and a row already applied is answered "此前已处理" (payments.py).
- `ledger_verify`: every programme through `reconcile.check_programme`, as `huanxin ledger verify` does, once a
  day; a problem fails the job, which puts it in the auditors' 待办.
- `subsidies_export`: a merchant's claims (商户清算) past `EXPORT_AT_ONCE` rows, built by a worker; its params
  name the merchant (an organisation), the view and the format, never a person.
"""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import PermissionDenied, ValidationError

from huanxin.core.exports import CSV, build_csv
from huanxin.core.models import User
from huanxin.jobs import kinds, schedule
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.subsidies import payments, reconcile
from huanxin.subsidies.models import PaymentBatch, Programme

BANK_RESULT = "bank_result"
LEDGER_VERIFY = "ledger_verify"
EXPORT = "subsidies_export"
RECENT = 5  # the batch page lists one's latest imports of its bank file
EXPORT_AT_ONCE = 5_000  # rows an export answers inside the request; past this a worker builds the file


# --- the bank's result file -------------------------------------------------------------------------------------


def start_bank_result(*, actor: User, batch: PaymentBatch, name: str, content_type: str, data: bytes) -> Job:
    """Queue the import of the bank's answer for `batch`, after the checks that take no time: a batch not yet
    exported, a file that is not a readable CSV with the result columns, are refused here, on the page."""
    if not payments.can_pay(actor):
        raise PermissionDenied("资金发放由财务人员办理")
    if batch.status == PaymentBatch.Status.DRAFT:
        raise ValidationError(f"批次{batch.number}尚未导出发放文件，不能导入回单", code="batch_not_exported")
    rows = payments.read_result_rows(data)
    if not rows:
        raise ValidationError("回单文件没有数据行", code="bad_file")
    return jobs.start(
        actor=actor,
        kind=BANK_RESULT,
        title=f"导入银行回单（批次{batch.number}）",
        params={"batch": batch.number},
        upload=jobs.Upload(name or "银行回单.csv", content_type or CSV, data),
        rows_total=min(len(rows), payments.MAX_ROWS),
    )


def recent_bank_results(user: User, batch: PaymentBatch) -> list[Job]:
    return list(Job.objects.filter(owner=user, kind=BANK_RESULT, params__batch=batch.number)[:RECENT])


def _owner(ctx: jobs.Context) -> User:
    if ctx.owner is None:
        raise PermissionDenied("任务缺少提交人")
    return ctx.owner


def run_bank_result(ctx: jobs.Context) -> kinds.Finished:
    owner = _owner(ctx)
    number = str(ctx.job.params.get("batch", ""))
    batch = PaymentBatch.objects.visible_to(owner).filter(number=number).first()
    if batch is None:
        raise ValidationError(f"发放批次{number}不存在，或您无权处理", code="not_found")
    results = payments.import_bank_result(actor=owner, batch=batch, data=ctx.input(), progress=ctx.progress)
    refused = [r for r in results if not r.ok]
    # each outcome as the row was answered ("已到账", "已到账，此前已处理，未重复发放" …), counted
    outcomes = Counter(r.message for r in results if r.ok)
    parts = [f"{message} {n} 行" for message, n in outcomes.most_common()]
    if refused:
        parts.append(f"未处理 {len(refused)} 行")
    batch.refresh_from_db()
    settled = "；批次已结清" if batch.status == PaymentBatch.Status.SETTLED else ""
    table = build_csv(
        headers=["行号", "申请编号", "处理结果", "说明"],
        rows=[[r.row, r.ref, "已处理" if r.ok else "未处理", r.message] for r in results],
    )
    return kinds.Finished(
        f"批次{batch.number}回单共 {len(results)} 行：{'；'.join(parts)}{settled}",
        result=kinds.Output(table, CSV, f"银行回单处理结果-{batch.number}.csv"),
        errors=[f"第 {r.row} 行{f'（申请编号 {r.ref}）' if r.ref else ''}：{r.message}" for r in refused],
    )


# --- the daily ledger check -------------------------------------------------------------------------------------


def run_ledger_verify(ctx: jobs.Context) -> kinds.Finished:
    """`huanxin ledger verify` as a job: each programme in its own snapshot, every problem one line."""
    programmes = list(Programme.objects.order_by("code"))
    problems: list[tuple[str, str]] = []  # (programme's code, problem)
    failed = 0
    for done, programme in enumerate(programmes, start=1):
        result = reconcile.check_programme(programme)
        if result.problems:
            failed += 1
            problems += [(programme.code, problem) for problem in result.problems]
        ctx.progress(done, len(programmes))
    if failed:
        listing = build_csv(headers=["补贴项目", "问题"], rows=problems)
        raise kinds.JobFailed(
            kinds.Finished(
                f"补贴额度台账校验未通过：{failed} 个项目共 {len(problems)} 处问题（共校验 {len(programmes)} 个）",
                result=kinds.Output(listing, CSV, "补贴额度台账校验问题.csv"),
                errors=[f"{code}：{problem}" for code, problem in problems],
            )
        )
    return kinds.Finished(f"补贴额度台账校验通过：{len(programmes)} 个项目，余额与分录一致，分录与申请和发放记录相符")


# --- exports ----------------------------------------------------------------------------------------------------


def start_export(*, actor: User, title: str, params: dict[str, str | int], rows_total: int) -> Job:
    return jobs.start(actor=actor, kind=EXPORT, title=title, params=params, rows_total=rows_total)


def run_export(ctx: jobs.Context) -> kinds.Finished:
    """The file the page would have answered with, as the owner may see it now (`claims_export` checks again)."""
    from huanxin.subsidies import settlement_views

    owner = _owner(ctx)
    params = ctx.job.params
    if params.get("export") != "settlement_claims":
        raise ValidationError("未知的导出类型", code="unknown_export")
    exported = settlement_views.claims_export(
        owner,
        organisation_id=int(params.get("organisation") or 0),
        view=str(params.get("view", "")),
        fmt=str(params.get("format", "")),
        progress=ctx.progress,
    )
    return kinds.Finished(
        f"已导出 {exported.rows} 笔", result=kinds.Output(exported.content, exported.content_type, exported.filename)
    )


kinds.register(kinds.Kind(BANK_RESULT, "银行回单导入", run_bank_result, back_url="subsidies:payments"))
kinds.register(kinds.Kind(LEDGER_VERIFY, "补贴额度台账校验", run_ledger_verify))
kinds.register(kinds.Kind(EXPORT, "补贴数据导出", run_export, back_url="subsidies:settlement"))
schedule.register(schedule.Periodic(LEDGER_VERIFY, kind=LEDGER_VERIFY, every="daily"))
