"""My background jobs: the list, one job with its live progress (htmx polls the bar while it runs), its result."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from huanxin.core.exports import attachment_response
from huanxin.core.roles import is_auditor
from huanxin.core.views import actor, get_visible_or_404, is_htmx
from huanxin.jobs import kinds, services
from huanxin.jobs.models import Job, JobFile

PER_PAGE = 20


def job_list(request: HttpRequest) -> HttpResponse:
    user = actor(request)
    state = request.GET.get("state", "")
    jobs = Job.objects.filter(owner=user)
    if state in Job.State.values:
        jobs = jobs.filter(state=state)
    page = Paginator(jobs, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request, "jobs/list.html", {"page": page, "state": state, "states": Job.State.choices, "checks": False}
    )


def checks(request: HttpRequest) -> HttpResponse:
    """The periodic jobs (audit and ledger verification, derived indicators): auditors read their outcomes."""
    user = actor(request)
    if not is_auditor(user):
        raise PermissionDenied("定期校验结果仅供审计人员查看")
    page = Paginator(Job.objects.visible_to(user).filter(owner__isnull=True), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "jobs/list.html", {"page": page, "state": "", "states": [], "checks": True})


def _job(request: HttpRequest, pk: int) -> Job:
    return get_visible_or_404(Job.objects.visible_to(actor(request)), pk=pk)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.ended:
        services.mark_seen(actor=actor(request), job=job)
    template = "jobs/_progress.html" if is_htmx(request) else "jobs/detail.html"
    try:
        kind = kinds.get(job.kind)
    except KeyError:
        kind = None
    result = JobFile.objects.filter(job=job, role=JobFile.Role.RESULT).only("name", "size").first()
    return render(request, template, {"job": job, "kind": kind, "result": result})


def result(request: HttpRequest, pk: int) -> HttpResponse:
    found = services.read_file(_job(request, pk), JobFile.Role.RESULT)
    if found is None:
        raise Http404("此任务没有结果文件")
    file, content = found
    return attachment_response(content, content_type=file.content_type, filename=file.name)
