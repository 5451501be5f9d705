"""Every Excel and CSV file the project hands out is built here, so that none of them can run anything.

A spreadsheet runs a text cell starting with `=`, `+`, `-` or `@` (and, after a tab or line break, whatever
follows) as a formula: a name typed as `=HYPERLINK("http://…","点此")` becomes a live link in an official's copy.
Every text cell is therefore cleaned (`clean_text`: the control characters XML cannot carry removed) and, when it
starts so, kept as text: in a workbook with Excel's quote prefix, in a CSV with a leading apostrophe (`csv_safe`).
Numbers stay numbers, and text that is just a negative number ("-12.50") is left as it is.

One sheet: `build_workbook`; several, or a sheet laid out by hand: `new_workbook`, `add_sheet`, `append_row`,
`workbook_bytes`. Nothing else in the project writes a workbook or a CSV (tests/core/test_exports_inert.py).
"""

from __future__ import annotations

import csv
import io
import math
import re
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
from openpyxl.worksheet.worksheet import Worksheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"

# a cell starting so is run as a formula by some spreadsheet (the full-width forms by Chinese input methods)
FORMULA_START = frozenset("=+-@\t\r\n＝＋－＠")
_NEGATIVE_NUMBER = re.compile(r"-[0-9]+(?:\.[0-9]+)?")
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/?*\[\]:']")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HEADER_FONT = Font(bold=True)


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
) -> Worksheet:
    """A sheet with a bold header row (frozen) and the rows under it. Column widths as given, else fitted to the
    contents; `wrap` wraps long text in the data cells."""
    ws = wb.create_sheet(sheet_title(title))
    fitted: list[int] = []
    if headers is not None:
        append_row(ws, list(headers))
        for cell in ws[1]:
            cell.font = HEADER_FONT
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(vertical="center", wrap_text=wrap)
        fitted = [max(6, len(str(h)) * 2 + 2) for h in headers]
    for row in rows:
        append_row(ws, row)
        if widths is None:
            for i, value in enumerate(row):
                if i >= len(fitted):
                    fitted.append(6)
                fitted[i] = min(60, max(fitted[i], len(str(value)) * 2 + 2))
    if wrap:
        for row_cells in ws.iter_rows(min_row=2 if headers is not None else 1):
            for cell in row_cells:
                cell.alignment = Alignment(vertical="top", wrap_text=True)
    for index, width in enumerate(widths if widths is not None else fitted, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    if freeze and headers is not None:
        ws.freeze_panes = freeze
    return ws


def workbook_bytes(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_workbook(*, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A workbook of one sheet: a bold header row, frozen, column widths fitted to the contents."""
    wb = new_workbook()
    add_sheet(wb, title=title, headers=headers, rows=rows)
    return workbook_bytes(wb)


def attachment_response(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    """A download with a UTF-8 (Chinese) file name."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def xlsx_response(*, filename: str, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    return attachment_response(
        build_workbook(title=title, headers=headers, rows=rows), content_type=XLSX, filename=filename
    )
