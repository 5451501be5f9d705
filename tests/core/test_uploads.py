"""Uploads are bounded before they are parsed, through the pages people upload on (core/uploads.py)."""

from __future__ import annotations

import io
import re
import time
import zipfile
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from huanxin.core import uploads
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.jobs import services as jobs
from huanxin.jobs.models import Job
from huanxin.monitoring import selectors
from huanxin.monitoring import services as monitoring
from huanxin.monitoring.models import ValueAttachment
from huanxin.monitoring.periods import Frequency
from huanxin.plans.models import Indicator, PlanImport
from huanxin.recycling import services as recycling
from huanxin.recycling.excel import HEADERS as RECORD_HEADERS
from huanxin.recycling.models import CollectionRecord, Site
from huanxin.subsidies.batch import HEADERS as BATCH_HEADERS
from tests.factories import UserFactory, officer, task_force
from tests.jobs.helpers import run_queued_jobs
from tests.recycling.conftest import recycler_org

pytestmark = pytest.mark.django_db
CJK = re.compile(r"[\u4e00-\u9fff]")


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """The same package with some members replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
    return out.getvalue()


def bomb(unpacked_mb: int) -> bytes:
    """A workbook whose sheet is many MB of one repeated row: a few hundred KB on the wire."""
    row = b'<row><c t="inlineStr"><is><t>AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA</t></is></c></row>'
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    sheet += row * (unpacked_mb * 1024 * 1024 // len(row)) + b"</sheetData></worksheet>"
    return rezip(xlsx([RECORD_HEADERS]), {"xl/worksheets/sheet1.xml": sheet})


@pytest.fixture
def site(plan: Any) -> Site:
    recycling.ensure_default_tax_rule()
    zhangbei = Region.objects.get(code="130722")
    clerk = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei))
    return recycling.save_site(
        actor=clerk,
        organisation=clerk.organisation,
        name="张北镇回收站",
        kind=Site.Kind.POINT,
        region=zhangbei,
        address="张北县张北镇新村路12号",
        categories=["tv", "scrap_steel"],
    )


def upload_records(site: Site, data: bytes, name: str = "回收记录.xlsx") -> Any:
    clerk = site.organisation.users.filter(role=Role.RECYCLER).first()  # type: ignore[attr-defined]
    return logged_in(clerk).post(reverse("recycling:record_upload"), {"file": SimpleUploadedFile(name, data)})


def record_results() -> dict[str, str]:
    """Run the queued upload job; its result workbook's 结果 by 业务单号."""
    run_queued_jobs()
    job = Job.objects.filter(kind="collection_records_import").first()
    assert job is not None and job.state == "done", job and job.message
    found = jobs.read_file(job, "result")
    assert found is not None
    sheet = load_workbook(io.BytesIO(found[1])).active
    assert sheet is not None
    return {str(row[0]): str(row[-1]) for row in sheet.iter_rows(min_row=2, values_only=True)}


def warm_up(site: Site) -> None:
    """One request first, so that a timed one does not pay for loading the URLs, views and templates."""
    clerk = site.organisation.users.filter(role=Role.RECYCLER).first()  # type: ignore[attr-defined]
    assert logged_in(clerk).get(reverse("recycling:record_upload")).status_code == 200


def record_row(ref: str, **cells: Any) -> list[Any]:
    row = dict(zip(RECORD_HEADERS, [ref, timezone.localdate().isoformat(), "张北镇回收站", "个人交售", "电视机", 1, 30,
                                    "80.00", ""], strict=True))  # fmt: skip
    row.update(cells)
    return list(row.values())


# --- zips -------------------------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_it_is_inflated(site: Site) -> None:
    data = bomb(60)
    assert len(data) < 1024 * 1024  # passes any limit on the upload's own size
    warm_up(site)
    started = time.perf_counter()
    response = upload_records(site, data)
    assert time.perf_counter() - started < 2
    assert "文件解压后超过50MB" in response.content.decode()
    assert not CollectionRecord.objects.exists()
    with pytest.raises(ValidationError) as exc:  # smaller, but compressed over 100 times
        uploads.check_zip(bomb(5))
    assert exc.value.error_list[0].code == "zip_bomb" and "压缩比异常" in exc.value.messages[0]


def test_a_docx_bomb_is_refused_by_the_plan_importer(plan: Any) -> None:
    sheet = b"<w:p><w:r><w:t>" + "实施方案".encode() * (20 * 1024 * 1024) + b"</w:t></w:r></w:p>"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", sheet)
    from tests.jobs.helpers import run_queued_jobs

    response = logged_in(task_force()).post(
        reverse("plans:import_upload"), {"file": SimpleUploadedFile("方案.docx", out.getvalue())}
    )
    assert response.status_code == 302  # a docx by name and content: read by the import job
    run_queued_jobs()
    record = PlanImport.objects.get()
    assert record.status == PlanImport.Status.FAILED and record.error_code == "too_large"
    assert CJK.search(record.error_message)


def test_what_is_not_a_zip_is_refused_as_xlsx(site: Site) -> None:
    response = upload_records(site, b"<html><body>not a workbook</body></html>")
    assert response.status_code == 200 and "无法读取文件：内容不是Excel 文件（.xlsx）" in response.content.decode()


def test_a_declared_dimension_of_the_whole_sheet_is_ignored(site: Site) -> None:
    data = xlsx([RECORD_HEADERS, record_row("HS-1"), record_row("HS-2")])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert b'<dimension ref="A1:I3"/>' in sheet
    data = rezip(data, {"xl/worksheets/sheet1.xml": sheet.replace(b"A1:I3", b"A1:XFD1048576")})
    assert len(data) < 8 * 1024
    started = time.perf_counter()
    table = uploads.read_xlsx(data)
    assert time.perf_counter() - started < 0.2
    assert [n for n, _ in table.body] == [2, 3] and all(len(cells) == len(RECORD_HEADERS) for _, cells in table.body)
    warm_up(site)
    started = time.perf_counter()
    response = upload_records(site, data)
    assert time.perf_counter() - started < 1
    assert response.status_code == 302  # the rows go to a worker (recycling/jobs.py)
    assert record_results() == {"HS-1": "已导入", "HS-2": "已导入"}


def test_rows_past_the_limit_are_reported_not_read() -> None:
    table = uploads.read_xlsx(xlsx([["a", "b"], *[[n, n] for n in range(30)]]), max_rows=10)
    assert len(table.body) == 10 and table.overflow == 12
    with pytest.raises(ValidationError) as exc:
        uploads.read_xlsx(xlsx([[f"列{n}" for n in range(uploads.MAX_COLUMNS + 1)]]))
    assert exc.value.error_list[0].code == "too_many_columns"


def test_an_upload_over_its_size_is_refused_before_it_is_read() -> None:
    with pytest.raises(ValidationError) as exc:
        uploads.read_upload(SimpleUploadedFile("a.csv", b"x" * 2048), max_bytes=1024)
    assert exc.value.error_list[0].code == "file_too_large" and "文件超过" in exc.value.messages[0]


# --- cells and encodings ----------------------------------------------------------------------------------------


def test_one_bad_cell_fails_its_row_only(site: Site) -> None:
    rows = [
        RECORD_HEADERS,
        record_row("HS-1"),
        record_row("HS-2", **{"重量（千克）": "Infinity"}),
        record_row("HS-3", **{"重量（千克）": "1e30"}),
        record_row("HS-4", **{"数量（台/件）": "²"}),
        record_row("HS-5", **{"收购金额（元）": "NaN"}),
        record_row("HS-6", **{"数量（台/件）": "Infinity"}),
        record_row("HS-7"),
    ]
    response = upload_records(site, xlsx(rows))
    assert response.status_code == 302
    results = record_results()
    assert [ref for ref, message in results.items() if message == "已导入"] == ["HS-1", "HS-7"]
    for ref in ("HS-2", "HS-3", "HS-4", "HS-5", "HS-6"):
        assert CJK.search(results[ref]) and results[ref] != "已导入", results[ref]
    assert CollectionRecord.objects.count() == 2


def batch_csv(rows: list[list[str]]) -> str:
    return "\r\n".join(",".join(row) for row in [BATCH_HEADERS, *rows]) + "\r\n"


@pytest.fixture
def merchant(plan: Any) -> Any:
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return UserFactory(role=Role.MERCHANT, organisation=store)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32", "utf-8-sig", "utf-8", "gb18030"])
def test_a_csv_is_read_in_any_common_encoding(merchant: Any, encoding: str) -> None:
    text = batch_csv([["DD-1", "no-such-programme", "张三"], ["DD-2", "no-such-programme", "李四\x01"]])
    upload = SimpleUploadedFile("批量申请.csv", text.encode(encoding))
    response = logged_in(merchant).post(reverse("subsidies:batch"), {"file": upload})
    assert response.status_code == 200 and "error" not in response.context, response.context.get("error")
    results = {r.order: r.message for r in response.context["results"]}
    assert "补贴项目代码“no-such-programme”不存在" in results["DD-1"]
    assert results["DD-2"] == uploads.CONTROL_MESSAGE  # the control character fails its row only


def test_decode_text_reads_byte_order_marks() -> None:
    for encoding, name in [("utf-16-le", "utf-16"), ("utf-16-be", "utf-16"), ("utf-32-le", "utf-32")]:
        bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00"}[encoding]
        assert uploads.decode_text(bom + "订单号,姓名".encode(encoding)) == ("订单号,姓名", name)


# --- evidence ---------------------------------------------------------------------------------------------------


def test_evidence_is_checked_by_its_content(plan: Any, settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    call_command("monitoring", "setup", stdout=io.StringIO())
    clerk = officer("市住房和城乡建设局")
    period = monitoring.ensure_period(ref=selectors.latest_open_period(Frequency.QUARTER, timezone.localdate()))
    value = monitoring.save_value(
        actor=clerk,
        indicator=Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km"),
        period=period,
        region=Region.objects.get(code="130722"),
        value="2",
    )
    client = logged_in(clerk)
    url = reverse("monitoring:value", args=[value.pk])
    refused = {
        "验收单.pdf": b"<html><script>alert(1)</script></html>",
        "照片.png": b"\xff\xd8\xff\xe0 a jpeg named png",
        "清单.xlsx": b"%PDF-1.4 a pdf named xlsx",
        "清单.docx": rezip(xlsx([["a"]]), {}),  # a workbook is no Word document
    }
    for name, content in refused.items():
        response = client.post(url, {"evidence": SimpleUploadedFile(name, content)})
        assert response.status_code == 400, name
        assert "文件内容与扩展名不符" in response.content.decode(), name
    accepted = {
        "验收单.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        "照片.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF",
        "照片.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        "清单.xlsx": xlsx([["a"]]),
    }
    for name, content in accepted.items():
        assert client.post(url, {"evidence": SimpleUploadedFile(name, content)}).status_code == 302, name
    assert sorted(ValueAttachment.objects.values_list("name", flat=True)) == sorted(accepted)
    stored = ValueAttachment.objects.get(name="清单.xlsx")
    assert stored.file.read() == accepted["清单.xlsx"]  # the check rewound the file before it was saved
