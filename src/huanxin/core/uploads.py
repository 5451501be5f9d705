"""Every uploaded file is bounded before it is parsed, and every refusal is a clear Chinese message.

- `read_upload`: the file's bytes, refused before reading when over the size allowed.
- `check_zip`: an xlsx or docx is a zip; its members' sizes are read from the zip's directory and a file that
  would unpack to too much, or compresses suspiciously well (a zip bomb), is refused before openpyxl or
  python-docx inflates anything. Python's zipfile never inflates a member past the size the directory declares.
- `read_xlsx`: the first sheet in read-only mode, its declared dimension ignored (a 5 KB file may declare
  A1:XFD1048576, which openpyxl would otherwise pad every row to); rows are read only as wide as the header and
  until the last row that has a value; at most `max_rows` rows with values, the row past them noted.
- `read_csv`: the text decoded whatever its encoding (UTF-8 with or without BOM, UTF-16/32 with BOM, GB18030,
  else detected), then the same table.
- A row with a cell that cannot be a value (a control character) is noted in `Table.problems`: the importers fail
  that row only, with its reason.
- `check_evidence`: a file of evidence is checked by its first bytes, not its name: HTML named .pdf is refused.

ValidationError codes: file_too_large, bad_file, zip_too_large, zip_bomb, too_many_columns, bad_encoding,
file_type, file_content.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

import charset_normalizer
from django.core.exceptions import ValidationError
from django.db import DataError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_RATIO = 100  # unpacked / packed of one member; worksheets of real data stay far below
RATIO_CHECKED_FROM = 1024 * 1024  # a small member may compress very well without harm
MAX_MEMBERS = 10_000
MAX_COLUMNS = 200
MAX_ROWS = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_MESSAGE = "含有不可见的控制字符，请删除后重新上传该行"
# what a number or date no check foresaw raises ("1e30" past Decimal's precision, "²" to int()): the row fails
BAD_VALUE = (ArithmeticError, ValueError, DataError)
BAD_VALUE_MESSAGE = "该行有无法识别或超出范围的数值、日期，请检查后重新上传"


def _mb(n: int) -> str:
    return f"{n // (1024 * 1024)}MB"


def read_upload(upload: Any, *, max_bytes: int = MAX_UPLOAD_BYTES) -> bytes:
    """The uploaded file's bytes; a file over `max_bytes` is refused by its size, before it is read."""
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise ValidationError(f"文件超过{_mb(max_bytes)}，请分文件上传", code="file_too_large")
    data = bytes(upload.read(max_bytes + 1))
    if len(data) > max_bytes:
        raise ValidationError(f"文件超过{_mb(max_bytes)}，请分文件上传", code="file_too_large")
    return data


def check_zip(data: bytes, *, what: str = "Excel 文件（.xlsx）", max_unpacked: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse what is not a zip, and a zip that would unpack to more than `max_unpacked` bytes or has a member
    compressed more than `MAX_RATIO` times; from the zip's directory only, nothing is inflated."""
    if data[:4] != b"PK\x03\x04":
        raise ValidationError(f"无法读取文件：内容不是{what}", code="bad_file")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ValidationError(f"无法读取文件：{what}已损坏", code="bad_file") from exc
    if len(members) > MAX_MEMBERS:
        raise ValidationError(f"无法读取文件：{what}内部文件过多", code="zip_bomb")
    if sum(m.file_size for m in members) > max_unpacked:
        raise ValidationError(
            f"文件解压后超过{_mb(max_unpacked)}，请删除多余的行、列或图片，或分文件上传", code="zip_too_large"
        )
    for member in members:
        if member.file_size > RATIO_CHECKED_FROM and member.file_size > MAX_RATIO * max(member.compress_size, 1):
            raise ValidationError(
                f"文件压缩比异常（解压后是原来的{member.file_size // max(member.compress_size, 1)}倍），已拒绝",
                code="zip_bomb",
            )


@dataclass
class Table:
    """An uploaded sheet: the header (text, trimmed) and the rows with any value, each with its row number in the
    file (the header is row 1), as wide as the header. `overflow` is the number of the first row with values past
    `max_rows` (not read), `problems` a reason for each row a cell of which cannot be a value."""

    header: list[str]
    body: list[tuple[int, list[Any]]]
    overflow: int | None = None
    problems: dict[int, str] = field(default_factory=dict)


def _header(cells: Any) -> list[str]:
    header = ["" if c is None else str(c).strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise ValidationError(f"表头超过{MAX_COLUMNS}列，请使用本系统下载的模板", code="too_many_columns")
    return header


def _problem(cells: list[Any]) -> str | None:
    try:
        joined = "".join(cells)  # a CSV row: text only, one search
    except TypeError:
        for value in cells:
            if type(value) is str and _CONTROL.search(value):
                return CONTROL_MESSAGE
            if type(value) is float and not math.isfinite(value):
                return "含有无法识别的数值"
        return None
    return CONTROL_MESSAGE if _CONTROL.search(joined) else None


def _filled(value: Any) -> bool:
    return value is not None and (type(value) is not str or bool(value.strip()))


def _table(header: list[str], rows: Any, *, max_rows: int) -> Table:
    table = Table(header, [])
    body, problems = table.body, table.problems
    for number, cells in rows:
        if not any(map(_filled, cells)):
            continue
        if len(body) >= max_rows:
            table.overflow = number
            break
        if (problem := _problem(cells)) is not None:
            problems[number] = problem
        body.append((number, cells))
    return table


def read_xlsx(
    data: bytes,
    *,
    sheet: str | None = None,
    max_rows: int = MAX_ROWS,
    max_unpacked: int = MAX_UNPACKED_BYTES,
) -> Table:
    """The named sheet (else the first) of an uploaded workbook, bounded as the module says."""
    from openpyxl import load_workbook

    check_zip(data, max_unpacked=max_unpacked)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a broken or foreign package
        raise ValidationError("无法读取文件：请上传 .xlsx 格式（Excel 2007 及以上）的文件", code="bad_file") from exc
    try:
        ws = wb[sheet] if sheet and sheet in wb.sheetnames else wb.worksheets[0]
        ws.reset_dimensions()  # read-only: forget the declared A1:XFD1048576
        first = next(ws.iter_rows(min_row=1, max_row=1, max_col=MAX_COLUMNS + 1, values_only=True), ())
        header = _header(first)
        width = max(len(header), 1)
        # as wide as the header: a cell far to the right (XFD) is not read, and no row is padded past it
        rows = enumerate(ws.iter_rows(min_row=2, max_col=width, values_only=True), start=2)
        return _table(header, ((n, list(r)) for n, r in rows), max_rows=max_rows)
    except ValidationError:
        raise
    except Exception as exc:  # a cell openpyxl cannot read (a number written as "Infinity" …)
        message = "无法读取文件：表格中有无法识别的单元格，请用 Excel 另存后再上传"
        raise ValidationError(message, code="bad_file") from exc
    finally:
        wb.close()


_BOMS = [  # longest first: the UTF-32 LE mark begins like UTF-16 LE's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
]


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding) of an uploaded text file: a byte-order mark first, then UTF-8, GB18030 (files saved by
    Chinese Excel and bank portals), then what charset-normalizer finds."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise ValidationError("无法识别文件编码：请另存为 UTF-8 编码的 CSV 后再上传", code="bad_encoding")
    return str(best), best.encoding


def read_csv(data: bytes, *, max_rows: int = MAX_ROWS) -> Table:
    """An uploaded CSV, bounded as the module says; rows are as long as the file has them."""
    text, _ = decode_text(data)
    try:
        reader = csv.reader(io.StringIO(text))
        header = _header(next(reader, []))
        return _table(header, enumerate(reader, start=2), max_rows=max_rows)
    except csv.Error as exc:
        raise ValidationError(f"无法读取文件：不是有效的 CSV（{exc}）", code="bad_file") from exc


# --- evidence files ---------------------------------------------------------------------------------------------

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old Office formats (.xls, .doc)
SIGNATURES: dict[str, tuple[bytes, str]] = {
    "pdf": (b"%PDF-", "PDF"),
    "jpg": (b"\xff\xd8\xff", "JPEG 图片"),
    "jpeg": (b"\xff\xd8\xff", "JPEG 图片"),
    "png": (b"\x89PNG\r\n\x1a\n", "PNG 图片"),
    "xlsx": (b"PK\x03\x04", "Excel 文件"),
    "docx": (b"PK\x03\x04", "Word 文件"),
    "zip": (b"PK\x03\x04", "ZIP 压缩包"),
    "xls": (_OLE, "Excel 97-2003 文件"),
    "doc": (_OLE, "Word 97-2003 文件"),
}
_OOXML_PART = {"xlsx": "xl/workbook.xml", "docx": "word/document.xml"}


def check_evidence(upload: Any, *, allowed: set[str], max_bytes: int) -> str:
    """The suffix of an evidence file whose content is what its name says; refused otherwise. Reads the first
    bytes only (and, for xlsx and docx, the zip's directory), then rewinds the file."""
    name = str(getattr(upload, "name", "") or "")
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in allowed or suffix not in SIGNATURES:
        raise ValidationError(f"不支持的文件类型，请上传 {'、'.join(sorted(allowed))}", code="file_type")
    if (getattr(upload, "size", 0) or 0) > max_bytes:
        raise ValidationError(f"文件超过{_mb(max_bytes)}", code="file_too_large")
    signature, label = SIGNATURES[suffix]
    upload.seek(0)
    head = upload.read(1024)
    upload.seek(0)
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n") if suffix == "pdf" else head  # a PDF may follow blank lines
    ok = start.startswith(signature)
    if ok and suffix in _OOXML_PART:
        try:
            with zipfile.ZipFile(upload) as archive:
                ok = _OOXML_PART[suffix] in archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            ok = False
        upload.seek(0)
    if not ok:
        raise ValidationError(
            f"文件内容与扩展名不符：扩展名是 .{suffix}，但内容不是{label}，请上传原始文件", code="file_content"
        )
    return suffix
