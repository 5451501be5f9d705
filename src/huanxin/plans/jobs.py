"""A plan document read in the background: the upload page refuses what it can tell at once (who, size, format by
name and first bytes) and starts a `plan_import` job; the job runs the importer, which takes seconds on a long PDF,
and keeps its result through `imports.create_import`.

Run again after its worker died, the job finds the import it already made (`PlanImport.job`, written in the
import's own transaction) and answers from it: one upload, one import."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.urls import reverse

from huanxin.core.models import User
from huanxin.jobs import kinds
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job, JobFile
from huanxin.plans import imports
from huanxin.plans.importer import ImportFailed
from huanxin.plans.importer.extract import check_format
from huanxin.plans.models import PlanImport

KIND = "plan_import"
RECENT = 5


def start_import(*, actor: User, filename: str, data: bytes, content_type: str = "") -> Job | PlanImport:
    """Queue the import of an uploaded document. A file the importer would refuse by its name or first bytes is
    kept as a failed import at once (the same record the importer would have written), so the page can say why
    without a round through the queue."""
    name = imports.check_upload(actor=actor, filename=filename, data=data)
    try:
        check_format(data, name)
    except ImportFailed:
        return imports.create_import(actor=actor, filename=name, data=data)
    return jobs.start(
        actor=actor,
        kind=KIND,
        title=f"导入方案文件：{name}",
        upload=jobs.Upload(name, content_type or "application/octet-stream", data),
    )


def outcome(record: PlanImport) -> kinds.Finished:
    if record.status == PlanImport.Status.FAILED:
        raise kinds.JobFailed(kinds.Finished(f"“{record.filename}”未能导入：{record.error_message}"))
    low = len(record.low_confidence)
    checks = f"{low} 项需人工核对" if low else "没有需人工核对的项"
    return kinds.Finished(
        f"已生成“{record.filename}”的方案草稿（{checks}），请审阅后发布",
        link=(reverse("plans:import_detail", args=[record.pk]), "审阅草稿"),
    )


def run_import(ctx: jobs.Context) -> kinds.Finished:
    owner = ctx.owner
    if owner is None:
        raise ValidationError("任务没有提交人", code="no_owner")
    record = PlanImport.objects.filter(job_id=ctx.job.pk).defer("data", "text", "draft_yaml").first()
    if record is None:
        found = jobs.read_file(ctx.job, JobFile.Role.INPUT)
        if found is None:
            raise ValidationError("任务缺少上传文件", code="no_file")
        file, data = found
        record = imports.create_import(actor=owner, filename=file.name, data=data, job=ctx.job)
    return outcome(record)


@dataclass(frozen=True)
class Recent:
    job: Job
    import_pk: int | None  # the import it made, once it has


def recent(user: User) -> list[Recent]:
    """The user's latest import jobs with the import each made, for the upload and list pages' 最近的导入."""
    rows = list(Job.objects.filter(owner=user, kind=KIND)[:RECENT])
    made = dict(PlanImport.objects.filter(job__in=rows).values_list("job_id", "pk"))
    return [Recent(job, made.get(job.pk)) for job in rows]


kinds.register(kinds.Kind(KIND, "方案文件导入", run_import, back_url="plans:imports"))
