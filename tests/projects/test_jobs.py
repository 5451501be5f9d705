"""The enterprise register's Excel import as a background job: saved by a worker with a reason for each bad row,
and nothing saved twice when a worker died half-way."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from huanxin.core.models import AuditEvent
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.projects import jobs as project_jobs
from huanxin.projects.models import Enterprise, Recognition
from tests.jobs.helpers import run_queued_jobs
from tests.projects.conftest import credit_code
from tests.projects.test_pages import workbook

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(hours=1)  # well past the time after which a silent worker is presumed dead


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(user: Any, data: bytes) -> Any:
    return logged_in(user).post("/projects/enterprises/import/", {"file": SimpleUploadedFile("名录.xlsx", data)})


ROWS = [
    [credit_code(31), "张家口宏远机械有限公司", "宣化区", "工业", "C34", "是", "省级", 2024],
    [credit_code(32), "未知县区的企业", "火星县", "工业", "", "", "", ""],
    [credit_code(33), "蔚县现代农业公司", "蔚县", "农业", "A01", "否", "市级", 2025],
]


def test_the_import_is_saved_by_a_worker_with_a_reason_for_each_bad_row(boss) -> None:
    response = upload(boss, workbook(ROWS))
    job = Job.objects.get(kind=project_jobs.IMPORT)
    assert response["Location"] == f"/jobs/{job.pk}/" and not Enterprise.objects.exists()
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 3, 3)
    assert job.message == "共 3 行：2 行已导入或更新，1 行未导入"
    assert len(job.errors) == 1 and job.errors[0].startswith(f"第 3 行（信用代码 {credit_code(32)}）：")
    assert Enterprise.objects.count() == 2 and Recognition.objects.count() == 2
    file, content = jobs.read_file(job, "result")
    sheet = load_workbook(io.BytesIO(content)).active
    assert file.name == "企业名录导入结果.xlsx" and [sheet.cell(r, 9).value for r in (2, 4)] == ["已新增", "已新增"]
    page = logged_in(boss).get("/projects/enterprises/import/").content.decode()
    assert f"/jobs/{job.pk}/" in page and "最近的导入" in page


def test_what_is_no_workbook_is_refused_at_once(boss) -> None:
    refused = upload(boss, b"PK\x03\x04 not really a zip")
    assert "无法读取文件：Excel 文件（.xlsx）已损坏" in refused.content.decode()
    assert not Job.objects.exists()


class Killed(Exception):
    """The worker killed after its first row."""


def test_a_worker_that_died_half_way_saves_nothing_twice(boss, monkeypatch) -> None:
    upload(boss, workbook(ROWS))
    job = Job.objects.get(kind=project_jobs.IMPORT)
    claimed = jobs.claim(job.pk, "dead-worker")
    assert claimed is not None
    context = jobs.Context(claimed, "dead-worker")

    def dying(done: int, total: int | None = None) -> None:
        raise Killed

    monkeypatch.setattr(context, "progress", dying)
    with pytest.raises(Killed):
        project_jobs.run_import(context)
    assert Enterprise.objects.count() == 1  # the first row went in
    assert jobs.recover_stale(now=timezone.now() + LATER) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("done", 2)
    assert job.message == "共 3 行：2 行已导入或更新，1 行未导入"
    assert Enterprise.objects.count() == 2 and Recognition.objects.count() == 2
    registered = AuditEvent.objects.filter(action="projects.enterprise_registered")
    assert registered.count() == 2  # the first row's enterprise was found again, not registered twice
