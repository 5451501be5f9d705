"""The recycling jobs: the collection-record upload saved by a worker (rows once, also the rows without a 业务单号
when a worker died half-way), and the record list's long export built by one."""

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
from huanxin.recycling import excel, services
from huanxin.recycling import jobs as recycling_jobs
from huanxin.recycling.models import CollectionRecord
from tests.jobs.helpers import run_queued_jobs
from tests.recycling.test_network import workbook

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(hours=1)  # well past the time after which a silent worker is presumed dead


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def upload(user: Any, data: bytes) -> Any:
    return logged_in(user).post("/recycling/records/upload/", {"file": SimpleUploadedFile("回收记录.xlsx", data)})


def rows(site: Any) -> list[list[Any]]:
    day = timezone.localdate().isoformat()
    return [
        ["A-1", day, site.name, "个人交售", "冰箱", 2, 90, "150.00", ""],
        [None, day, site.name, "个人交售", "电视机", 1, 20, "30", ""],  # no 业务单号: nothing else tells it apart
        ["A-3", day, site.name, "个人交售", "冰箱", 1, -4, "10", ""],  # a negative weight
        [None, day, site.name, "企业交售", "废钢铁", 0, "1250.5", "3126.25", "张北县农机厂"],
        ["A-5", day, "别人的站点", "个人交售", "冰箱", 1, 40, "10", ""],
        ["A-1", day, site.name, "个人交售", "冰箱", 2, 90, "150.00", ""],  # repeated in the same file
        [None, day, site.name, "个人交售", "洗衣机", 1, 35, "40", ""],
    ]


def test_an_upload_is_saved_by_a_worker_with_a_reason_for_each_bad_row(recycler, site) -> None:
    response = upload(recycler, workbook(rows(site)))
    job = Job.objects.get(kind=recycling_jobs.IMPORT)
    assert response["Location"] == f"/jobs/{job.pk}/" and job.title == "批量导入回收记录"
    assert not CollectionRecord.objects.exists()  # nothing saved in the request
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 7, 7)
    assert job.message == "共 7 行：4 行已导入，1 行此前已导入（未重复计入），2 行未导入"
    assert job.errors == [
        "第 4 行（业务单号 A-3）：重量不能为负数",
        "第 6 行（业务单号 A-5）：站点“别人的站点”不是本企业的站点",
    ]
    assert CollectionRecord.objects.count() == 4
    file, content = jobs.read_file(job, "result")
    sheet = load_workbook(io.BytesIO(content)).active
    assert file.name == "回收记录导入结果.xlsx" and sheet.cell(1, len(excel.HEADERS) + 1).value == "结果"
    assert [sheet.cell(r, len(excel.HEADERS) + 1).value for r in (2, 4, 7)] == [
        "已导入",
        "重量不能为负数",
        excel.REPEATED,
    ]
    page = logged_in(recycler).get("/recycling/records/upload/").content.decode()
    assert f"/jobs/{job.pk}/" in page and "最近的导入" in page


def test_what_is_no_workbook_is_refused_at_once_and_a_wrong_header_by_the_job(recycler, site) -> None:
    refused = upload(recycler, b"<html>not a workbook</html>")
    assert "无法读取文件：内容不是Excel 文件（.xlsx）" in refused.content.decode()
    assert not Job.objects.exists()
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["随便", "什么"])
    buffer = io.BytesIO()
    wb.save(buffer)
    upload(recycler, buffer.getvalue())
    run_queued_jobs()
    job = Job.objects.get(kind=recycling_jobs.IMPORT)
    assert job.state == "failed" and job.message.startswith("表头缺少：回收日期")


class Killed(Exception):
    """The worker killed after its first chunk committed."""


def test_a_worker_that_died_half_way_writes_no_row_twice(recycler, site, monkeypatch) -> None:
    monkeypatch.setattr(recycling_jobs, "CHUNK", 3)
    upload(recycler, workbook(rows(site)))
    job = Job.objects.get(kind=recycling_jobs.IMPORT)
    claimed = jobs.claim(job.pk, "dead-worker")
    assert claimed is not None
    context = jobs.Context(claimed, "dead-worker")
    record = context.progress

    def dying(done: int, total: int | None = None) -> None:
        record(done, total)
        if done:
            raise Killed

    monkeypatch.setattr(context, "progress", dying)
    with pytest.raises(Killed):
        recycling_jobs.run_import(context)
    assert CollectionRecord.objects.count() == 2  # rows 2 and 3 (A-1, the one without a number) went in
    assert jobs.recover_stale(now=timezone.now() + LATER) == [job.pk]
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("done", 2)
    assert job.message == "共 7 行：4 行已导入，1 行此前已导入（未重复计入），2 行未导入"  # as if never killed
    assert CollectionRecord.objects.count() == 4
    assert CollectionRecord.objects.filter(external_ref="", category="tv").count() == 1
    written = AuditEvent.objects.filter(action=recycling_jobs.WRITTEN, object_id=str(job.pk))
    assert sorted(n for e in written for n in e.changes["rows"]) == [2, 3, 5, 8]


# --- the export -------------------------------------------------------------------------------------------------


def test_a_long_export_is_built_by_a_worker_and_a_short_one_at_once(recycler, site, boss, monkeypatch) -> None:
    today = timezone.localdate()
    for n in range(3):
        services.record_collection(
            actor=recycler, site=site, received_on=today, source="person", category="tv", units=1,
            seller_name="王小明", external_ref=f"E-{n}",
        )  # fmt: skip
    monkeypatch.setattr(recycling_jobs, "EXPORT_AT_ONCE", 2)
    client = logged_in(recycler)
    month = f"{today:%Y-%m}"
    response = client.get("/recycling/records/", {"format": "xlsx", "month": month})
    job = Job.objects.get(kind=recycling_jobs.EXPORT)
    assert response["Location"] == f"/jobs/{job.pk}/" and job.rows_total == 3
    assert job.params == {
        "export": "records",
        "filters": {"month": month, "category": "", "site": "", "source": "", "region": ""},
    }
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.message) == ("done", "已导出 3 条回收记录")
    file, content = jobs.read_file(job, "result")
    sheet = load_workbook(io.BytesIO(content)).active
    assert file.name == "回收记录.xlsx" and sheet.max_row == 4
    assert {sheet.cell(r, 10).value for r in (2, 3, 4)} == {"E-0", "E-1", "E-2"}
    assert sheet.cell(2, 9).value == "王**" and "王小明" not in str(job.params)  # the seller masked, as at once
    assert client.get(f"/jobs/{job.pk}/result/").content == content
    assert logged_in(boss).get(f"/jobs/{job.pk}/").status_code == 404  # the owner's file only
    # a narrower export stays under the limit: answered at once, as before
    at_once = client.get("/recycling/records/", {"format": "xlsx", "category": "refrigerator"})
    assert at_once.status_code == 200 and at_once["Content-Type"].startswith("application/vnd.openxmlformats")
    assert Job.objects.filter(kind=recycling_jobs.EXPORT).count() == 1
