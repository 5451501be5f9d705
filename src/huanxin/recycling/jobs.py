"""The recycling network's background jobs: the collection-record Excel upload, and the records' export when it is
too long to build inside a request.

- `collection_records_import`: the page checks the file at once (size, a workbook, not a zip bomb) and queues it;
  the job saves its rows through `excel.RecordImport` a chunk at a time, each chunk in one transaction with an
  audit event naming the rows it wrote. Run again after its worker died, the job answers those rows as imported
  and does not write them again — also the rows without a 业务单号, which nothing else could tell apart.
- `recycling_export`: the record list's Excel export past `EXPORT_AT_ONCE` rows; its params are the list's filters
  (month, category, site, source, county), never a person."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from huanxin.core import audit, uploads
from huanxin.core.exports import XLSX
from huanxin.core.models import AuditEvent, User
from huanxin.jobs import kinds
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.recycling import excel

IMPORT = "collection_records_import"
EXPORT = "recycling_export"
WRITTEN = "recycling.collection_import_rows"  # audit action: the rows of an upload job one chunk wrote
CHUNK = 200  # rows per transaction: the progress moves, and a dead worker's chunk is undone whole
EXPORT_AT_ONCE = 5_000  # rows the record list exports inside the request; past this a worker builds the file
RECENT = 5
SHOWN_ERRORS = 200


def _owner(ctx: jobs.Context) -> User:
    if ctx.owner is None:
        raise PermissionDenied("任务缺少提交人")
    return ctx.owner


def recent(user: User, kind: str) -> list[Job]:
    """One's latest jobs of a kind, for the upload page's 最近的导入."""
    return list(Job.objects.filter(owner=user, kind=kind)[:RECENT])


# --- the collection-record upload -------------------------------------------------------------------------------


def start_import(*, actor: User, name: str, content_type: str, data: bytes) -> Job:
    uploads.check_zip(data)  # not a workbook, or one that would unpack too far: refused now, from its directory
    return jobs.start(
        actor=actor,
        kind=IMPORT,
        title="批量导入回收记录",
        upload=jobs.Upload(name or "回收记录.xlsx", content_type or XLSX, data),
    )


def _written_before(job: Job) -> set[int]:
    """The rows earlier runs of this job wrote: their chunks committed with their audit event, or not at all."""
    if job.attempts <= 1:
        return set()
    events = AuditEvent.objects.filter(object_type="jobs.job", object_id=str(job.pk), action=WRITTEN)
    return {int(n) for changes in events.values_list("changes", flat=True) for n in (changes or {}).get("rows", [])}


def run_import(ctx: jobs.Context) -> kinds.Finished:
    owner = _owner(ctx)
    table = excel.read_rows(ctx.input())  # a wrong header fails the job with its message
    run = excel.RecordImport(actor=owner, table=table)
    written = _written_before(ctx.job)
    total = len(table.body)
    ctx.progress(0, total)
    for start in range(0, total, CHUNK):
        chunk = table.body[start : start + CHUNK]
        with transaction.atomic():
            created = []
            for number, cells in chunk:
                if number in written:
                    run.written_before(number, cells)
                elif run.row(number, cells)[1]:
                    created.append(number)
            if created:
                audit.record(actor=owner, action=WRITTEN, target=ctx.job, changes={"rows": created})
        ctx.progress(start + len(chunk), total)
    results, workbook = run.finish()
    failed = [r for r in results if not r.ok]
    imported = sum(1 for r in results if r.ok and r.message == excel.IMPORTED)
    repeated = sum(1 for r in results if r.ok and r.message == excel.REPEATED)
    return kinds.Finished(
        f"共 {len(results)} 行：{imported} 行已导入，{repeated} 行此前已导入（未重复计入），{len(failed)} 行未导入",
        result=kinds.Output(workbook, XLSX, "回收记录导入结果.xlsx"),
        errors=[f"第 {r.row} 行{f'（业务单号 {r.ref}）' if r.ref else ''}：{r.message}" for r in failed[:SHOWN_ERRORS]],
    )


# --- exports ----------------------------------------------------------------------------------------------------


def start_export(*, actor: User, export: str, filters: dict[str, str], rows: int) -> Job:
    if export != "records":
        raise ValidationError("未知的导出类型", code="unknown_export")
    return jobs.start(
        actor=actor,
        kind=EXPORT,
        title=f"导出回收记录（{rows} 条）",
        params={"export": export, "filters": filters},
        rows_total=rows,
    )


def run_export(ctx: jobs.Context) -> kinds.Finished:
    """The list's export as the owner sees the records now: their rights are checked again, the count taken again."""
    from huanxin.recycling import views

    owner = _owner(ctx)
    params = ctx.job.params
    if params.get("export") != "records":
        raise ValidationError("未知的导出类型", code="unknown_export")
    given = params.get("filters") or {}
    qs = views.filtered_records(owner, {k: str(given.get(k, "")) for k in views.RECORD_FILTERS})
    total = qs.count()
    ctx.progress(0, total)
    workbook = views.records_workbook(qs, progress=ctx.progress)
    return kinds.Finished(f"已导出 {total} 条回收记录", result=kinds.Output(workbook, XLSX, "回收记录.xlsx"))


kinds.register(kinds.Kind(IMPORT, "回收记录批量导入", run_import, back_url="recycling:record_upload"))
kinds.register(kinds.Kind(EXPORT, "回收记录导出", run_export, back_url="recycling:records"))
