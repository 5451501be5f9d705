"""Excel exports (openpyxl): a bold header row, frozen, sensible column widths; no text cell runs as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote

from django.http import HttpResponse
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"


FORMULA_START = frozenset("=+-@\t\r")  # a cell starting so is run as a formula by spreadsheets


def csv_safe(text: str) -> str:
    """A value a spreadsheet must not run as a formula (a name typed as "=HYPERLINK(…)")."""
    return "'" + text if text[:1] in FORMULA_START else text


def build_csv(*, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV as Chinese Excel opens it (UTF-8 with BOM), every text cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out)  # which writes None as an empty cell
    writer.writerow(headers)
    writer.writerows([csv_safe(v) if isinstance(v, str) else v for v in row] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def _as_text(cell: Any) -> None:
    """A text cell a spreadsheet must not run as a formula: openpyxl writes a string starting with "=" as one, so
    it is set back to text, with Excel's quote prefix (shown as typed, kept as text when edited; no apostrophe in
    the value, unlike `csv_safe`)."""
    cell.data_type = "s"
    cell.quotePrefix = True


def build_workbook(*, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title[:31]
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(vertical="center")
    widths = [max(6, len(str(h)) * 2 + 2) for h in headers]
    for row in rows:
        ws.append(list(row))
        for i, value in enumerate(row):
            widths[i] = min(60, max(widths[i], len(str(value)) * 2 + 2))
            if type(value) is str and value[:1] in FORMULA_START:
                _as_text(ws.cell(row=ws.max_row, column=i + 1))
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
    ws.freeze_panes = "A2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def attachment_response(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    """A download with a UTF-8 (Chinese) file name."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return response


def xlsx_response(*, filename: str, title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> HttpResponse:
    return attachment_response(
        build_workbook(title=title, headers=headers, rows=rows), content_type=XLSX, filename=filename
    )
