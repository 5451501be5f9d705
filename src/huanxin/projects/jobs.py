"""The enterprise register's Excel import as a background job: the page checks the file at once (size, a
workbook, not a zip bomb) and queues it; the job runs `excel.import_enterprises` with a progress bar and keeps the
result workbook. Run again after its worker died it writes nothing twice: each row is one transaction, and an
enterprise already in the register is found by its credit code and updated (so a row the dead worker saved is
answered "已更新（或无变化）")."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from huanxin.core import uploads
from huanxin.core.exports import XLSX
from huanxin.core.models import User
from huanxin.jobs import kinds
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.projects import excel

IMPORT = "enterprise_import"
RECENT = 5
SHOWN_ERRORS = 200


def start_import(*, actor: User, name: str, content_type: str, data: bytes) -> Job:
    uploads.check_zip(data)  # not a workbook, or one that would unpack too far: refused now, from its directory
    return jobs.start(
        actor=actor,
        kind=IMPORT,
        title="导入企业名录",
        upload=jobs.Upload(name or "企业名录.xlsx", content_type or XLSX, data),
    )


def recent(user: User) -> list[Job]:
    return list(Job.objects.filter(owner=user, kind=IMPORT)[:RECENT])


def run_import(ctx: jobs.Context) -> kinds.Finished:
    owner = ctx.owner
    if owner is None:
        raise PermissionDenied("任务缺少提交人")
    results, workbook = excel.import_enterprises(actor=owner, data=ctx.input(), progress=ctx.progress)
    failed = [r for r in results if not r.ok]
    return kinds.Finished(
        f"共 {len(results)} 行：{len(results) - len(failed)} 行已导入或更新，{len(failed)} 行未导入",
        result=kinds.Output(workbook, XLSX, "企业名录导入结果.xlsx"),
        errors=[
            f"第 {r.row} 行{f'（信用代码 {r.uscc}）' if r.uscc else ''}：{r.message}" for r in failed[:SHOWN_ERRORS]
        ],
    )


kinds.register(kinds.Kind(IMPORT, "企业名录导入", run_import, back_url="projects:enterprise_import"))
