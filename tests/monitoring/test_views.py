"""The entry sheet, the review page and a value's history, as their users use them."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core.models import Region
from huanxin.jobs.models import Job
from huanxin.monitoring import selectors
from huanxin.monitoring.models import IndicatorValue
from huanxin.monitoring.periods import Frequency, PeriodRef
from huanxin.plans.models import Indicator
from tests import clock
from tests.factories import officer, task_force
from tests.jobs.helpers import run_queued_jobs

pytestmark = pytest.mark.django_db
SHEET = reverse("monitoring:report")


@pytest.fixture
def setup(plan):
    call_command("monitoring", "setup", stdout=StringIO())
    return plan


@pytest.fixture
def period() -> PeriodRef:
    return selectors.latest_open_period(Frequency.QUARTER, timezone.localdate())


def key(plan, code: str, region_code: str) -> str:
    indicator = Indicator.objects.get(plan=plan, code=code)
    return f"{indicator.pk}-{Region.objects.get(code=region_code).pk}"


def test_the_sheet_lists_my_indicators_by_county(client: Client, setup, period) -> None:
    client.force_login(officer("市住房和城乡建设局"))
    html = client.get(SHEET).content.decode()
    assert period.label in html
    for name in ["淘汰更新改造燃气老旧管网", "淘汰更新改造排水管网", "张北县", "察北管理区"]:
        assert name in html
    assert "公安视频图像" not in html  # 公安局's, not ours


def test_one_bad_row_keeps_its_reason_and_the_good_rows_are_saved(client: Client, setup, period) -> None:
    client.force_login(officer("市住房和城乡建设局"))
    good = key(setup, "gas-pipeline-renewed-km", "130722")
    bad = key(setup, "gas-pipeline-renewed-km", "130723")
    negative = key(setup, "water-pipeline-renewed-km", "130724")
    response = client.post(
        f"{SHEET}?period={period.code}",
        {
            f"value-{good}": "3.5",
            f"note-{good}": "验收单",
            f"value-{bad}": "三公里",
            f"value-{negative}": "-1",
            "action": "submit",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "“三公里”不是数字" in html and "数值不能为负数" in html
    assert "有 2 行未保存" in html
    assert 'value="三公里"' in html  # what the clerk typed is kept on screen
    saved = IndicatorValue.objects.get()
    assert str(saved.value.normalize()) == "3.5" and saved.status == "draft"  # nothing was submitted

    response = client.post(f"{SHEET}?period={period.code}", {f"value-{bad}": "2", "action": "submit"})
    assert response.status_code == 302
    assert set(IndicatorValue.objects.values_list("status", flat=True)) == {"submitted"}
    assert IndicatorValue.objects.count() == 2


def test_a_period_not_yet_over_cannot_be_filled(client: Client, setup, monkeypatch) -> None:
    # the first quarter whose reporting has not opened: the one under way, or on its last day (when it opens) the
    # next; the clock is pinned so that the sheet judges it on the same day
    today = timezone.localdate(clock.freeze(monkeypatch))
    current = selectors.latest_open_period(Frequency.QUARTER, today).next()
    assert today < current.end  # periods open on their last day
    client.force_login(officer("市住房和城乡建设局"))
    html = client.get(f"{SHEET}?period={current.code}").content.decode()
    assert "尚未结束" in html
    row = key(setup, "gas-pipeline-renewed-km", "130722")
    response = client.post(f"{SHEET}?period={current.code}", {f"value-{row}": "1", "action": "save"})
    assert response.status_code == 400
    assert not IndicatorValue.objects.exists()


def test_people_without_indicators_see_an_empty_state(client: Client, setup) -> None:
    client.force_login(officer("市教育局"))
    assert "没有需要填报数值的指标" in client.get(SHEET).content.decode()


def test_task_force_reviews_and_the_clerk_sees_the_reason(client: Client, setup, period) -> None:
    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    a, b = key(setup, "gas-pipeline-renewed-km", "130722"), key(setup, "gas-pipeline-renewed-km", "130731")
    client.post(f"{SHEET}?period={period.code}", {f"value-{a}": "3", f"value-{b}": "40", "action": "submit"})
    first, second = IndicatorValue.objects.order_by("region__code")

    client.force_login(officer("市商务局"))
    assert client.get(reverse("monitoring:review")).status_code == 403

    client.force_login(task_force())
    html = client.get(reverse("monitoring:review")).content.decode()
    assert "张北县" in html and "涿鹿县" in html
    client.post(reverse("monitoring:review_action", args=[first.pk]), {"action": "approve"})
    response = client.post(reverse("monitoring:review_action", args=[second.pk]), {"action": "return", "reason": ""})
    assert "退回时请写明原因" in client.get(response["Location"]).content.decode()
    client.post(
        reverse("monitoring:review_action", args=[second.pk]), {"action": "return", "reason": "数值偏大，请核实"}
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("approved", "returned")

    client.force_login(clerk)
    html = client.get(f"{SHEET}?period={period.code}").content.decode()
    assert "退回原因：数值偏大，请核实" in html


def test_history_and_correction_page(client: Client, setup, period) -> None:
    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    row = key(setup, "gas-pipeline-renewed-km", "130722")
    client.post(f"{SHEET}?period={period.code}", {f"value-{row}": "3", "action": "submit"})
    value = IndicatorValue.objects.get()
    client.force_login(task_force())
    client.post(reverse("monitoring:review_action", args=[value.pk]), {"action": "approve"})

    client.force_login(clerk)
    url = reverse("monitoring:value", args=[value.pk])
    assert "更正已审核的数值" in client.get(url).content.decode()
    response = client.post(url, {"value": "3.4", "reason": ""})
    assert response.status_code == 400 and "更正时请写明原因" in response.content.decode()
    client.post(url, {"value": "3.4", "reason": "补录遗漏路段"})
    html = client.get(url).content.decode()
    for text in ["填写", "报送", "审核通过", "更正", "补录遗漏路段", "3.4"]:
        assert text in html
    assert client.get(url).context["revisions"].count() == 4

    client.force_login(officer("市商务局"))  # not approved any more: another department cannot see it
    assert client.get(url).status_code == 404


def test_bulk_approval(client: Client, setup, period) -> None:
    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    rows = [key(setup, "gas-pipeline-renewed-km", code) for code in ("130722", "130723", "130724")]
    client.post(f"{SHEET}?period={period.code}", {**{f"value-{r}": "1" for r in rows}, "action": "submit"})
    ids = list(IndicatorValue.objects.order_by("pk").values_list("pk", flat=True))
    client.force_login(task_force())
    response = client.post(reverse("monitoring:review_bulk"), {"ids": ids[:2]}, follow=True)
    assert "已审核通过 2 项" in response.content.decode()
    assert list(IndicatorValue.objects.order_by("pk").values_list("status", flat=True)) == [
        "approved",
        "approved",
        "submitted",
    ]
    response = client.post(reverse("monitoring:review_bulk"), {"ids": ids[:1]}, follow=True)
    assert "不在待审核状态" in response.content.decode()  # a second click: reported, nothing changes


def test_home_shows_what_is_waiting(client: Client, setup, period) -> None:
    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    html = client.get(reverse("home")).content.decode()
    assert f"<b>76</b> {period.label}未报送" in html  # 4 pipeline indicators x 19 county-level divisions
    row = key(setup, "gas-pipeline-renewed-km", "130722")
    client.post(f"{SHEET}?period={period.code}", {f"value-{row}": "2", "action": "submit"})
    boss = task_force()
    client.force_login(boss)
    assert "<b>1</b> 待审核的填报数值" in client.get(reverse("home")).content.decode()
    value = IndicatorValue.objects.get()
    client.post(reverse("monitoring:review_action", args=[value.pk]), {"action": "return", "reason": "请核实"})
    assert "待审核的填报数值" not in client.get(reverse("home")).content.decode()
    client.force_login(clerk)
    assert "<b>1</b> 被退回待修改的数值" in client.get(reverse("home")).content.decode()


def test_excel_template_round_trip_keeps_good_rows(client: Client, setup, period) -> None:
    import io

    from openpyxl import load_workbook

    client.force_login(officer("市住房和城乡建设局"))
    response = client.get(reverse("monitoring:report_template"), {"period": period.code})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))
    ws = wb["填报"]
    header = [c.value for c in ws[1]]
    assert header[:6] == ["指标代码", "指标名称", "地区代码", "地区", "填报单位", "本期数值"]
    assert ws.max_row == 1 + 76
    # fill three rows: one good, one with text, one negative; and a forged row outside our indicators
    ws.cell(row=2, column=6, value=2.5)
    ws.cell(row=3, column=6, value="两公里")
    ws.cell(row=4, column=6, value=-1)
    ws.append(["police-video-devices-renewed", "公安视频", "130722", "张北县", "个", 99, "", ""])
    buffer = io.BytesIO()
    wb.save(buffer)
    upload = io.BytesIO(buffer.getvalue())
    upload.name = "filled.xlsx"
    response = client.post(f"{reverse('monitoring:report_upload')}?period={period.code}", {"file": upload})
    job = Job.objects.get(kind="monitoring_upload")
    assert response.status_code == 302 and response["Location"] == reverse("jobs:detail", args=[job.pk])
    assert not IndicatorValue.objects.exists()  # the rows are saved by the job, not in the request
    run_queued_jobs()
    response = client.get(response["Location"])
    html = response.content.decode()
    assert "共处理 4 行：1 行已保存，3 行有错误" in html
    assert "“两公里”不是数字" in html and "数值不能为负数" in html and "不在本单位本期的填报范围内" in html
    saved = IndicatorValue.objects.get()
    assert str(saved.value.normalize()) == "2.5" and saved.status == "draft"
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.rows_total) == ("done", 77, 77)  # the sheet's rows, filled or not
    sheet = client.get(f"{SHEET}?period={period.code}").content.decode()  # 最近的上传 links the job
    assert "最近的上传" in sheet and reverse("jobs:detail", args=[job.pk]) in sheet


def test_a_file_that_is_not_excel_is_refused(client: Client, setup, period) -> None:
    import io

    client.force_login(officer("市住房和城乡建设局"))
    upload = io.BytesIO(b"not a spreadsheet")
    upload.name = "notes.xlsx"
    response = client.post(f"{reverse('monitoring:report_upload')}?period={period.code}", {"file": upload})
    assert response.status_code == 400 and "无法读取文件" in response.content.decode()  # at once, no job
    assert not IndicatorValue.objects.exists() and not Job.objects.exists()


def test_lists_export_to_excel(client: Client, setup, period) -> None:
    import io

    from openpyxl import load_workbook

    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    row = key(setup, "gas-pipeline-renewed-km", "130722")
    client.post(f"{SHEET}?period={period.code}", {f"value-{row}": "2", "action": "submit"})
    client.force_login(task_force())
    response = client.get(reverse("monitoring:review"), {"format": "xlsx"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[1][1:4] == ("淘汰更新改造燃气老旧管网", "张北县", 2)
    response = client.get(reverse("plans:departments"), {"format": "xlsx", "q": "商务"})
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[1][0] == "市商务局" and len(rows) == 2


def test_evidence_files_are_uploaded_checked_and_served_to_those_who_may_see(
    client: Client, setup, period, settings, tmp_path
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    clerk = officer("市住房和城乡建设局")
    client.force_login(clerk)
    row = key(setup, "gas-pipeline-renewed-km", "130722")
    client.post(f"{SHEET}?period={period.code}", {f"value-{row}": "2", "action": "save"})
    value = IndicatorValue.objects.get()
    url = reverse("monitoring:value", args=[value.pk])
    response = client.post(url, {"evidence": SimpleUploadedFile("run.exe", b"MZ", "application/octet-stream")})
    assert response.status_code == 400 and "不支持的文件类型" in response.content.decode()
    pdf = SimpleUploadedFile("燃气管网验收单.pdf", b"%PDF-1.4 acceptance", "application/pdf")
    assert client.post(url, {"evidence": pdf}).status_code == 302
    attachment = value.attachments.get()
    assert attachment.name == "燃气管网验收单.pdf" and "燃气" not in attachment.file.name  # stored under our name
    download = reverse("monitoring:evidence", args=[attachment.pk])
    assert b"".join(client.get(download).streaming_content) == b"%PDF-1.4 acceptance"

    client.force_login(task_force())
    assert client.get(download).status_code == 404  # still a draft
    client.force_login(clerk)
    client.post(f"{SHEET}?period={period.code}", {"action": "submit"})
    client.force_login(task_force())
    assert client.get(download).status_code == 200
    client.force_login(officer("市商务局"))
    assert client.get(download).status_code == 404
