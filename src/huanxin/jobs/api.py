"""Jobs API (/api/v1/jobs/…): a till that sent a batch file polls its job, then fetches the result file."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, Router, Schema
from ninja.pagination import paginate

from huanxin.core.exports import attachment_response
from huanxin.core.schemas import Id, Pages, answers
from huanxin.core.views import actor
from huanxin.jobs import services
from huanxin.jobs.models import Job, JobFile

router = Router(tags=["后台任务"])


class JobOut(Schema):
    id: int
    kind: str
    title: str
    state: str = Field(description="queued 排队中 | running 处理中 | done 已完成 | failed 失败")
    state_label: str
    rows_done: int
    rows_total: int | None
    message: str
    errors: list[str]
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    result_url: str | None = Field(description="结果文件（任务结束后）")
    page_url: str = Field(description="任务页面（浏览器中查看进度）")
    link_url: str = Field(description="任务结束后的下一步页面，如导入生成的草稿；没有则为空")
    link_label: str

    @staticmethod
    def resolve_state_label(job: Job) -> str:
        return job.get_state_display()

    @staticmethod
    def resolve_result_url(job: Job) -> str | None:
        if not job.ended or not JobFile.objects.filter(job=job, role=JobFile.Role.RESULT).exists():
            return None
        return reverse("api:job_result", args=[job.pk])

    @staticmethod
    def resolve_page_url(job: Job) -> str:
        return reverse("jobs:detail", args=[job.pk])


@router.get("/jobs", response=answers(list[JobOut], 401, 422), summary="我的后台任务（新的在前）")
@paginate(Pages)
def list_jobs(request: HttpRequest):  # type: ignore[no-untyped-def]
    return Job.objects.filter(owner=actor(request))


@router.get("/jobs/{job_id}", response=answers(JobOut, 401, 404, 422), summary="一个后台任务：状态、进度、结果")
def get_job(request: HttpRequest, job_id: Id) -> Job:
    return get_object_or_404(Job.objects.visible_to(actor(request)), pk=job_id)


@router.get(
    "/jobs/{job_id}/result",
    response=answers({200: None}, 401, 404, 422),
    summary="下载任务的结果文件",
    url_name="job_result",
)
def get_result(request: HttpRequest, job_id: Id) -> HttpResponse:
    job = get_object_or_404(Job.objects.visible_to(actor(request)), pk=job_id)
    found = services.read_file(job, JobFile.Role.RESULT)
    if found is None:
        raise Http404("此任务没有结果文件")
    file, content = found
    return attachment_response(content, content_type=file.content_type, filename=file.name)
