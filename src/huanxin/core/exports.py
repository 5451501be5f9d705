"""Every Excel and CSV file the project hands out is built here, so that none of them can run anything.

A spreadsheet runs a text cell starting with `=`, `+`, `-` or `@` (and, after a tab or line break, whatever
follows) as a formula: a name typed as `=HYPERLINK("http://…","点此")` becomes a live link in an official's copy.
Every text cell is therefore cleaned (`clean_text`: the control characters XML cannot carry removed) and, when it
starts so, kept as text: in a workbook with Excel's quote prefix, in a CSV with a leading apostrophe (`csv_safe`).
Numbers stay numbers, and text that is just a negative number ("-12.50") is left as it is.

One sheet: `build_workbook`; several, or a sheet laid out by hand: `new_workbook`, `add_sheet`, `append_row`,
`workbook_bytes`. Nothing else in the project writes a workbook or a CSV (tests/core/test_exports_inert.py).

Every sheet `add_sheet` builds prints as officials print it (`print_setup`): A4, landscape when its columns are
wider than a portrait page, fitted to the page's width (as many pages down as it needs), the header row (and the
title above it, when there is one) repeated on every page, page numbers in the footer. Every number has a number
format: the column's own when the caller gives one (`formats`: "#,##0" 台 …, 0.0%, money with thousands
separators), else by type — whole numbers as they are, decimals with two to four places and thousands separators —
so no cell shows 10.69523809523809.
"""

from __future__ import annotations

import csv
import io
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from django.utils.functional import Promise
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.cell import coordinate_from_string
from openpyxl.worksheet.worksheet import Worksheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"

# a cell starting so is run as a formula by some spreadsheet (the full-width forms by Chinese input methods)
FORMULA_START = frozenset("=+-@\t\r\n＝＋－＠")
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(?:\.[0-9]+)?")
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/?*\[\]:']")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)
TITLE_FONT = Font(bold=True, size=14)
WHOLE_FORMAT = "0"
DECIMAL_FORMAT = "#,##0.00##"  # two decimals, up to four when the value has them (raw figures keep theirs)
LINE_HEIGHT = 15  # points a line of 11 pt text takes in a row
PORTRAIT_WIDTH = 100  # column widths (in characters) an A4 portrait page holds at 100%; wider prints landscape


def clean_text(text: str) -> str:
    """The text without the control characters an xlsx (XML 1.0) cannot hold; openpyxl refuses them."""
    return ILLEGAL_CHARACTERS_RE.sub("", text)


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet would run this (cleaned) text as a formula."""
    return text[:1] in FORMULA_START and not _NEGATIVE_NUMBER.fullmatch(text)


def csv_safe(text: str) -> str:
    """A CSV value a spreadsheet shows as typed: cleaned and, if it would run as a formula, after an apostrophe."""
    text = clean_text(text)
    return "'" + text if runs_as_formula(text) else text


def _plain(value: Any) -> Any:
    """A value a cell can hold: lazy (translated) text as text, a number that is not finite as an empty cell."""
    if isinstance(value, Promise):
        return str(value)
    if (isinstance(value, float) and not math.isfinite(value)) or (
        isinstance(value, Decimal) and not value.is_finite()
    ):
        return None
    return value


def build_csv(*, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV as Chinese Excel opens it (UTF-8 with BOM), every text cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out)  # which writes None as an empty cell
    writer.writerow([csv_safe(str(h)) for h in headers])
    for row in rows:
        writer.writerow([csv_safe(v) if type(v) is str else _plain(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def append_row(ws: Worksheet, row: Sequence[Any]) -> None:
    """Append a row to a sheet, every text cell cleaned and kept as text if it would run as a formula: openpyxl
    writes a string starting with "=" as a formula, so such a cell is set back to text with Excel's quote prefix
    (shown as typed, kept as text when edited; unlike `csv_safe`, no apostrophe in the value)."""
    values: list[Any] = []
    for value in row:
        if type(value) is str:
            value = clean_text(value)
            if runs_as_formula(value):
                value = Cell(ws, value=value)
                value.data_type = "s"
                value.quotePrefix = True
        else:
            value = _plain(value)
        values.append(value)
    ws.append(values)


def sheet_title(title: str) -> str:
    """A name Excel accepts for a sheet: none of \\ / ? * [ ] : ', at most 31 characters."""
    return _SHEET_TITLE_FORBIDDEN.sub("", clean_text(title)).strip()[:31] or "Sheet"


def new_workbook() -> Workbook:
    """A workbook without sheets, for `add_sheet`."""
    wb = Workbook()
    wb.remove(wb.worksheets[0])
    return wb


def add_sheet(
    wb: Workbook,
    *,
    title: str,
    headers: Sequence[str] | None,
    rows: Iterable[Sequence[Any]],
    widths: Sequence[int] | None = None,
    wrap: bool = False,
    freeze: str | None = "A2",
    formats: Sequence[str | None] | None = None,
    heading: str | None = None,
) -> Worksheet:
    """A sheet with a bold header row (frozen) and the rows under it. Column widths as given, else fitted to the
    contents; `wrap` wraps long text in the data cells; `formats` gives a column's number format (None: by type);
    `heading` puts a title line above the header row, across the sheet's width (`freeze` then moves down a row)."""
    ws = wb.create_sheet(sheet_title(title))
    fitted: list[int] = []
    if heading is not None:
        append_row(ws, [heading])
    if headers is not None:
        append_row(ws, list(headers))
        for cell in ws[ws.max_row]:
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(vertical="center", wrap_text=wrap)
        fitted = [max(6, len(str(h)) * 2 + 2) for h in headers]
    header_rows = ws.max_row if (heading is not None or headers is not None) else 0
    for row in rows:
        append_row(ws, row)
        if widths is None:
            for i, value in enumerate(row):
                if i >= len(fitted):
                    fitted.append(6)
                fitted[i] = min(60, max(fitted[i], len(str(value)) * 2 + 2))
    column_widths = list(widths if widths is not None else fitted)
    for row_cells in ws.iter_rows(min_row=header_rows + 1):
        for cell in row_cells:
            if wrap:
                cell.alignment = Alignment(vertical="top", wrap_text=True)
            number_format(cell, formats[cell.column - 1] if formats and cell.column <= len(formats) else None)
        if wrap:
            _fit_height(ws, row_cells, column_widths)
    for index, width in enumerate(column_widths, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    if heading is not None:
        columns = max(len(column_widths), 1)
        if columns > 1:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=columns)
        ws["A1"].font = TITLE_FONT
        ws["A1"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        # a merged cell does not grow with its wrapped text: room for the lines the title needs
        lines = math.ceil(len(heading) * 2.4 / max(sum(column_widths), 1)) if column_widths else 1
        ws.row_dimensions[1].height = 24 * max(lines, 1)
        if freeze:
            column, row_number = coordinate_from_string(freeze)
            freeze = f"{column}{row_number + 1}"
    if freeze and headers is not None:
        ws.freeze_panes = freeze
    print_setup(ws, title_rows=header_rows, widths=column_widths)
    return ws


def _text_width(text: str) -> int:
    """Columns of a sheet a text takes: two for a Chinese (wide) character, one for the others."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _fit_height(ws: Worksheet, cells: Sequence[Cell], widths: Sequence[int]) -> None:
    """A row as tall as its longest wrapped text. Spreadsheets do not grow a row of wrapped text written by a
    program until someone edits it, so a printed sheet would cut the text off at one line."""
    lines = 1
    for cell in cells:
        if isinstance(cell.value, str) and cell.column <= len(widths):
            room = max(widths[cell.column - 1] - 1, 1)
            lines = max(lines, sum(max(math.ceil(_text_width(part) / room), 1) for part in cell.value.split("\n")))
    if lines > 1:
        ws.row_dimensions[cells[0].row].height = LINE_HEIGHT * lines


def number_format(cell: Cell, fmt: str | None = None) -> None:
    """Give a number cell its format: `fmt`, else a whole number as it is and a decimal with two to four places
    and thousands separators. Text, dates and empty cells keep theirs."""
    value = cell.value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return
    if fmt is not None:
        cell.number_format = fmt
    elif isinstance(value, int) or (isinstance(value, Decimal) and value == value.to_integral_value()):
        cell.number_format = WHOLE_FORMAT
    else:
        cell.number_format = DECIMAL_FORMAT


def print_setup(ws: Worksheet, *, title_rows: int, widths: Sequence[int] = ()) -> None:
    """How the sheet prints: A4, landscape when wider than a portrait page, fitted to one page wide, the first
    `title_rows` rows repeated on every page, centred, page numbers at the bottom."""
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape" if sum(widths) > PORTRAIT_WIDTH else "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages down as the rows need
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    ws.page_margins.header = ws.page_margins.footer = 0.3
    if title_rows:
        ws.print_title_rows = f"1:{title_rows}"
    ws.oddFooter.center.text = "第 &[Page] 页，共 &N 页"


def workbook_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_workbook(
    *,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None] | None = None,
) -> bytes:
    """A workbook of one sheet: a bold header row, frozen, column widths fitted to the contents, each column's
    numbers in `formats` (None: by type), set up for printing."""
    wb = new_workbook()
    add_sheet(wb, title=title, headers=headers, rows=rows, formats=formats)
    return workbook_bytes(wb)


def attachment_response(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    """A download with a UTF-8 (Chinese) file name."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def xlsx_response(
    *,
    filename: str,
    title: str,
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    formats: Sequence[str | None] | None = None,
) -> HttpResponse:
    return attachment_response(
        build_workbook(title=title, headers=headers, rows=rows, formats=formats), content_type=XLSX, filename=filename
    )
