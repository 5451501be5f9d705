"""Every workbook prints as officials print it and shows its numbers in a format: the builder's own settings, read
back with openpyxl (no office suite needed)."""

from __future__ import annotations

import io
from decimal import Decimal

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from huanxin.core.exports import add_sheet, build_workbook, new_workbook, workbook_bytes
from tests.core.test_exports_inert import inert_xlsx


def _sheet(content: bytes) -> Worksheet:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    assert isinstance(ws, Worksheet)
    return ws


def test_numbers_have_a_format_by_type_or_the_columns_own() -> None:
    rows = [["燃气管网", 6400, 10.69523809523809, Decimal("1234.5"), Decimal("12"), 0.309, "文本", None]]
    headers = ["名称", "台数", "小数", "金额", "整数", "占比", "说明", "空"]
    ws = _sheet(build_workbook(title="t", headers=headers, rows=rows))
    assert [c.number_format for c in ws[2][1:5]] == ["0", "#,##0.00##", "#,##0.00##", "0"]
    assert ws["G2"].number_format == "General" and ws["A2"].number_format == "General"  # text keeps its own
    formats = [None, '#,##0" 台"', None, "#,##0.00", None, "0.0%"]
    ws = _sheet(build_workbook(title="t", headers=headers, rows=rows, formats=formats))
    assert ws["B2"].number_format == '#,##0" 台"' and ws["B2"].value == 6400
    assert ws["F2"].number_format == "0.0%" and ws["D2"].number_format == "#,##0.00"
    assert ws["C2"].number_format == "#,##0.00##"  # no format given for the column: by type


def test_a_sheet_prints_a4_fitted_to_the_width_with_its_header_on_every_page() -> None:
    narrow = _sheet(build_workbook(title="t", headers=["编号", "名称"], rows=[["1", "甲"]] * 200))
    assert str(narrow.page_setup.paperSize) == narrow.PAPERSIZE_A4
    assert narrow.page_setup.orientation == "portrait"
    assert narrow.sheet_properties.pageSetUpPr.fitToPage
    assert (narrow.page_setup.fitToWidth, narrow.page_setup.fitToHeight) == (1, 0)
    assert narrow.print_title_rows == "$1:$1"
    assert "&P" in narrow.oddFooter.center.text and "&N" in narrow.oddFooter.center.text
    wide = _sheet(build_workbook(title="t", headers=[f"第{n}列很长的表头" for n in range(12)], rows=[]))
    assert wide.page_setup.orientation == "landscape"


def test_a_heading_spans_the_sheet_and_is_repeated_with_the_header() -> None:
    wb = new_workbook()
    heading = "=某市推动大规模设备更新和消费品以旧换新实施方案推进情况（截至2025年07月10日）"
    add_sheet(wb, title="总览", headers=["状态", "目标数"], rows=[["已完成", 3]], widths=[40, 12], heading=heading)
    content = workbook_bytes(wb)
    assert heading in inert_xlsx(content)  # the title is text like any other: kept inert
    ws = _sheet(content)
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:B1"]
    assert ws["A1"].alignment.wrap_text and ws["A1"].font.b
    assert ws.row_dimensions[1].height >= 48  # two lines for a title wider than the two columns
    assert ws["A2"].value == "状态" and ws["A2"].font.b
    assert ws.freeze_panes == "A3"
    assert ws.print_title_rows == "$1:$2"
