"""The dashboard, an indicator's page and the monthly report exports, on real approved data."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt, Twips
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from huanxin.core.models import Region
from huanxin.core.roles import Role
from huanxin.monitoring import services
from huanxin.monitoring.periods import PeriodRef
from huanxin.plans.models import Indicator
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(plan):
    """Gas pipeline: 20 km by 2024 Q4 and 60 km by 2025 Q2 in 张北县 — ahead of the path; approved."""
    call_command("monitoring", "setup", stdout=StringIO())
    gas = Indicator.objects.get(plan=plan, code="gas-pipeline-renewed-km")
    clerk, boss = officer("市住房和城乡建设局"), task_force()
    for code, amount in [("2024-Q4", "20"), ("2025-Q1", "15"), ("2025-Q2", "25")]:
        period = services.ensure_period(ref=PeriodRef.parse(code))
        value = services.save_value(
            actor=clerk,
            indicator=gas,
            period=period,
            region=Region.objects.get(code="130722"),
            value=amount,
            today=dt.date(2025, 7, 1),
        )
        services.submit_values(actor=clerk, values=[value])
        services.approve_value(actor=boss, value=value)
    return plan


def test_dashboard_shows_every_target_with_a_status(client: Client, data, django_assert_max_num_queries) -> None:
    client.force_login(task_force())
    with django_assert_max_num_queries(12):
        response = client.get(reverse("monitoring:dashboard"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="tag status-') == Indicator.objects.filter(plan=data).count()
    assert "60.0 公里" in html  # 20 + 15 + 25, summed over periods
    assert "暂无数据" in html
    rows = {row["department"]: row for row in response.context["by_department"]}
    assert rows["市住房和城乡建设局"]["total"] == 4  # the four pipelines; the video devices are 公安局's


def test_only_officials_see_the_dashboard(client: Client, data) -> None:
    for role in [Role.MERCHANT, Role.CITIZEN, Role.ENTERPRISE]:
        client.force_login(user_with_role(role))
        assert client.get(reverse("monitoring:dashboard")).status_code == 403
        assert client.get(reverse("monitoring:report_xlsx")).status_code == 403
    client.force_login(user_with_role(Role.COUNTY_OFFICER))
    assert client.get(reverse("monitoring:dashboard")).status_code == 200


def test_indicator_page_has_its_chart_data_and_county_breakdown(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:indicator", args=[data.code, "gas-pipeline-renewed-km"]))
    assert response.status_code == 200
    chart = response.context["chart"]
    assert [point[1] for point in chart["actual"]] == [20.0, 35.0, 60.0]
    assert chart["path"] == [["2024-05-28", 0.0], ["2027-12-31", 180.6]]
    assert response.context["counties"] == [("张北县", 60)]


def test_monthly_excel_report_has_a_sheet_per_section(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:report_xlsx"))
    wb = load_workbook(io.BytesIO(response.content))
    assert wb.sheetnames[:2] == ["总览", "一、总体目标"]
    assert "二、实施设备更新行动" in wb.sheetnames and "七、强化政策要素保障" in wb.sheetnames
    rows = list(wb["二、实施设备更新行动"].iter_rows(values_only=True))
    assert rows[0][0].startswith("二、实施设备更新行动（截至")  # each sheet's title, above its header
    assert rows[1][:3] == ("编号", "任务举措", "牵头单位")
    gas_row = next(r for r in rows if r[0] == "二（二）2")
    assert gas_row[2] == "市住房和城乡建设局、市公安局" and "淘汰更新改造燃气老旧管网" in gas_row[4]
    assert len(list(wb["全部指标"].iter_rows())) == 2 + Indicator.objects.filter(plan=data).count()


def test_every_figure_of_the_report_has_its_unit_and_precision(client: Client, data) -> None:
    """60 km of gas pipeline: 60.0 公里 at the target's one decimal; progress 33.2% as a percentage; the path's
    figure (54.67… km) rounded to what is shown, not 10.69523809523809; counts as whole numbers of 项."""
    client.force_login(task_force())
    wb = load_workbook(io.BytesIO(client.get(reverse("monitoring:report_xlsx")).content))
    ws = wb["全部指标"]
    header = [c.value for c in ws[2]]
    assert header[:5] == ["指标", "目标", "当前", "应达", "进度"]
    gas = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "淘汰更新改造燃气老旧管网")
    assert gas[1].value == "≥180.6公里"
    assert (gas[2].value, gas[2].number_format) == (60.0, '#,##0.0" 公里"')
    assert gas[3].number_format == '#,##0.0" 公里"' and gas[3].value == round(gas[3].value, 1)
    assert (gas[4].value, gas[4].number_format) == (0.332, "0.0%")
    video = next(row for row in ws.iter_rows(min_row=3) if row[0].value == "公安视频图像前端采集设备累计更新")
    assert video[1].value == "≥6,400个" and video[3].number_format == '#,##0" 个"'
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if isinstance(cell.value, int | float):
                    assert cell.number_format != "General", f"{sheet.title}!{cell.coordinate} has no format"
                    if isinstance(cell.value, float):
                        assert cell.value == round(cell.value, 4), f"{sheet.title}!{cell.coordinate} {cell.value}"
    assert wb["总览"]["B3"].number_format == '0" 项"'


def test_every_sheet_of_the_report_prints_with_its_title_on_the_page(client: Client, data) -> None:
    client.force_login(task_force())
    wb = load_workbook(io.BytesIO(client.get(reverse("monitoring:report_xlsx")).content))
    for ws in wb.worksheets:
        assert ws.page_setup.fitToWidth == 1 and ws.page_setup.fitToHeight == 0, ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$2", ws.title  # the title and the header row on every page
        width = max(c.column for c in ws[2])
        assert any(str(r) == f"A1:{get_column_letter(width)}1" for r in ws.merged_cells.ranges), ws.title
        assert ws["A1"].alignment.wrap_text
    assert wb["总览"].page_setup.orientation == "portrait"
    assert wb["全部指标"].page_setup.orientation == "landscape"


def _fonts_of(element) -> dict[str, str]:
    fonts = element.find(qn("w:rFonts"))
    return {key.split("}")[1]: value for key, value in fonts.attrib.items()} if fonts is not None else {}


def test_word_briefing_has_the_status_table_and_the_risks(client: Client, data) -> None:
    client.force_login(task_force())
    response = client.get(reverse("monitoring:report_docx"))
    doc = Document(io.BytesIO(response.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "推进情况简报" in text and "需要关注的事项" in text and "工作简报" in text
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["指标", "目标", "当前", "进度", "状态", "预计达成"]
    assert len(table.rows) == 1 + Indicator.objects.filter(plan=data).count()
    gas = next(row for row in table.rows if row.cells[0].text == "淘汰更新改造燃气老旧管网")
    assert [c.text for c in gas.cells[1:4]] == ["≥180.6公里", "60.0 公里", "33.2%"]


def test_word_briefing_is_laid_out_as_an_official_document(client: Client, data) -> None:
    """GB/T 9704: A4, margins 37/35/28/26 mm, 22 lines of 28 characters, 仿宋_GB2312 三号 body, 方正小标宋简体 二号
    title, 黑体 headings, "— 1 —" page numbers left and right, the table as wide as the type area."""
    client.force_login(task_force())
    content = client.get(reverse("monitoring:report_docx")).content
    doc = Document(io.BytesIO(content))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m.mm) for m in margins] == [37, 35, 28, 26]
    grid = section._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:linePitch")) == "579"  # 225 mm / 22 lines
    normal = doc.styles["Normal"]
    assert normal.font.size == Pt(16) and _fonts_of(normal.element.rPr)["eastAsia"] == "仿宋_GB2312"
    assert normal.paragraph_format.line_spacing == Twips(579)
    spacing = normal.element.rPr.find(qn("w:spacing"))
    assert 28 * (16 + int(spacing.get(qn("w:val"))) / 20) <= 156 / 25.4 * 72  # 28 characters fit a line
    title = next(p for p in doc.paragraphs if p.text.endswith("推进情况简报"))
    assert title.runs[0].font.size == Pt(22) and _fonts_of(title.runs[0]._r.rPr)["eastAsia"] == "方正小标宋简体"
    heading = next(p for p in doc.paragraphs if p.text == "一、目标推进情况")
    assert _fonts_of(heading.runs[0]._r.rPr)["eastAsia"] == "黑体"
    # the fonts' alternates, for a machine without the GB2312-era fonts
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        font_table = z.read("word/fontTable.xml").decode()
    assert '<w:font w:name="仿宋_GB2312"><w:altName w:val="仿宋"/><w:charset w:val="86"/>' in font_table
    assert '<w:font w:name="方正小标宋简体"><w:altName w:val="黑体"/>' in font_table
    # page numbers: odd on the right, even on the left, "— PAGE —"
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, side in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        paragraph = footer.paragraphs[0]
        assert paragraph.alignment == side
        assert paragraph.text == "— 1 —" and " PAGE " in paragraph._p.xml
    # the table: fixed layout, 156 mm, header repeated, names in a column wide enough for two lines
    table = doc.tables[0]
    assert table._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
    widths = [c.width for c in table.rows[0].cells]
    assert round(sum(w.mm for w in widths)) == 156 and widths[0].mm >= 40
    assert table.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    longest = max(len(row.cells[0].text) for row in table.rows)
    per_line = int((widths[0].mm - 3.8) / (10.5 / 72 * 25.4))  # 五号 characters in the column, less its padding
    assert longest <= 2 * per_line, (longest, per_line)
