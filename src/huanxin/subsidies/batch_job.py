"""A merchant's batch file as a background job: the same `batch.import_batch`, with a progress bar and the result
file kept for download. Run again after its worker died, it answers every row once: the 订单号 are idempotency
keys, so rows already written are found and answered as accepted by this batch, and nothing is written twice."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.jobs import kinds, services
from huanxin.jobs.models import Job
from huanxin.jobs.services import Context
from huanxin.subsidies import batch

KIND = "subsidy_batch"
SHOWN_ERRORS = 200
MAX_FILE = 20 * 1024 * 1024


def start(*, actor: User, name: str, content_type: str, data: bytes) -> Job:
    """Queue a merchant's batch file (the page and the API): refused at once if it cannot be one."""
    if actor.role != Role.MERCHANT or not actor.organisation_id:
        raise PermissionDenied("批量申请由关联了商户单位的商户账号提交")
    if not data:
        raise ValidationError("文件是空的", code="empty_file")
    if len(data) > MAX_FILE:
        raise ValidationError("文件超过20MB，请分文件上传", code="file_too_large")
    return services.start(
        actor=actor,
        kind=KIND,
        title=f"补贴批量申请：{name or '文件'}",
        params={"filename": name},
        upload=services.Upload(name, content_type, data),
    )


def run(ctx: Context) -> kinds.Finished:
    owner = ctx.owner
    if owner is None:
        raise PermissionDenied("批量申请任务缺少提交人")
    params = ctx.job.params
    results, result = batch.import_batch(
        actor=owner,
        data=ctx.input(),
        filename=str(params.get("filename", "")),
        progress=ctx.progress,
        resumed_since=ctx.job.created_at if ctx.job.attempts > 1 else None,
    )
    failed = [r for r in results if not r.ok]
    ok = len(results) - len(failed)
    message = f"共 {len(results):,} 行：{ok:,} 行已受理（含此前已提交的），{len(failed):,} 行未受理"
    errors = [f"第 {r.row} 行{f'（订单号 {r.order}）' if r.order else ''}：{r.message}" for r in failed[:SHOWN_ERRORS]]
    return kinds.Finished(message, kinds.Output(result.content, result.content_type, result.filename), errors)


kinds.register(kinds.Kind(KIND, "补贴批量申请", run, back_url="subsidies:batch"))
