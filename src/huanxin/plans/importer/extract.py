"""Bytes of an uploaded document → its raw text. Format by extension, checked against the content (sniffing)."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import PurePath

from django.core.exceptions import ValidationError

from huanxin.core import uploads
from huanxin.plans.importer.errors import ImportFailed

TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".text"}
KNOWN = {".docx", ".pdf", *TEXT_EXTENSIONS}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def sniff(data: bytes) -> str | None:
    """What the content is, whatever its name says: "pdf", "docx", "zip" (another zip) or None."""
    if data.lstrip()[:5] == b"%PDF-":
        return "pdf"
    if data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return "docx" if "word/document.xml" in archive.namelist() else "zip"
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            return "zip"
    return None


def check_format(data: bytes, filename: str) -> str:
    """The document's format ("pdf", "docx", "markdown" or "text") from its name and first bytes, or ImportFailed
    for what `extract` would refuse without reading it: cheap enough for the upload's request to answer at once."""
    ext = PurePath(filename or "").suffix.lower()
    kind = sniff(data)
    if ext == ".doc":
        raise ImportFailed("unsupported_format", "不支持旧版 Word 文件（.doc），请另存为 .docx 后再上传")
    if ext not in KNOWN and kind not in ("pdf", "docx"):
        raise ImportFailed(
            "unsupported_format", f"不支持的文件格式“{ext or '无扩展名'}”：请上传 .txt、.md、.docx 或 .pdf"
        )
    if not data.strip():
        raise ImportFailed("empty_document", "文件是空的")
    if ext == ".pdf" or (ext not in KNOWN and kind == "pdf"):
        if kind != "pdf":
            raise ImportFailed("unsupported_format", "文件扩展名是 .pdf，但内容不是 PDF")
        return "pdf"
    if ext == ".docx" or (ext not in KNOWN and kind == "docx"):
        if kind != "docx":
            raise ImportFailed("unsupported_format", "文件扩展名是 .docx，但内容不是 Word 文档")
        return "docx"
    if kind is not None:
        raise ImportFailed("unsupported_format", f"文件扩展名是 {ext}，但内容是 {kind.upper()} 文件，不是文本")
    return "markdown" if ext in (".md", ".markdown") else "text"


def extract(data: bytes, filename: str) -> tuple[str, str, list[str]]:
    """(format, raw text, warnings). Raises ImportFailed with a stable code."""
    kind = check_format(data, filename)
    if kind == "pdf":
        return "pdf", *_pdf_text(data)
    if kind == "docx":
        return "docx", *_docx_text(data)
    return kind, *_decode(data)


def _decode(data: bytes) -> tuple[str, list[str]]:
    try:
        text, encoding = uploads.decode_text(data)
    except ValidationError:
        raise ImportFailed("unsupported_format", "无法识别文本编码：文件可能不是文本文件") from None
    warnings = [] if encoding in ("utf-8", "utf-8-sig") else [f"文本编码识别为 {encoding.upper()}，已转为 UTF-8"]
    if len(_CONTROL.findall(text)) > max(3, len(text) // 200):
        raise ImportFailed("unsupported_format", "文件内容不是可读的文本（含大量控制字符），可能是二进制文件")
    if not re.search(r"[\u4e00-\u9fff]", text):
        raise ImportFailed("unsupported_format", "文件中没有中文文字，不像一份实施方案")
    return text, warnings


def _docx_text(data: bytes) -> tuple[str, list[str]]:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:  # the zip's sizes first: python-docx would inflate a zip bomb whole
        uploads.check_zip(data, what="Word 文档（.docx）")
    except ValidationError as exc:
        code = "too_large" if exc.error_list[0].code in ("zip_too_large", "zip_bomb") else "unreadable"
        raise ImportFailed(code, exc.messages[0]) from None
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on a broken package
        raise ImportFailed("unreadable", "Word 文档已损坏或无法读取") from exc
    warnings: list[str] = []
    lines: list[str] = []
    auto_numbered = 0
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            lines.append(block.text)
            p_pr = block._p.pPr
            if p_pr is not None and p_pr.numPr is not None:
                auto_numbered += 1
        elif isinstance(block, Table):
            for row in block.rows:
                lines.append(" ".join(cell.text.strip() for cell in row.cells))
    if auto_numbered:
        warnings.append(f"有 {auto_numbered} 个段落使用 Word 自动编号，编号不在文字中，层级可能识别不全")
    return "\n".join(lines), warnings


def _pdf_text(data: bytes) -> tuple[str, list[str]]:
    import pdfplumber

    pages: list[list[str]] = []
    try:
        with pdfplumber.open(io.BytesIO(data)) as pdf:
            for page in pdf.pages:
                pages.append((page.extract_text() or "").splitlines())
    except Exception as exc:  # pdfminer raises many kinds on a broken or encrypted file
        raise ImportFailed("unreadable", "PDF 文件已损坏、加密或无法读取") from exc
    if not pages:
        raise ImportFailed("empty_document", "PDF 没有页面")
    if not any(line.strip() for lines in pages for line in lines):
        raise ImportFailed("no_text_layer", "PDF 没有文字层（可能是扫描件），请先做文字识别（OCR）或上传 Word/文本版本")
    return "\n\n".join("\n".join(lines) for lines in _drop_running_lines(pages)), []


def _drop_running_lines(pages: list[list[str]]) -> list[list[str]]:
    """Running headers and footers: a first or last line that recurs (digits aside) on most pages."""
    if len(pages) < 3:
        return pages

    def key(line: str) -> str:
        return re.sub(r"\d+", "#", line.strip())

    edges: Counter[str] = Counter()
    for lines in pages:
        edges.update({key(line) for line in lines[:1] + lines[-1:] if line.strip()})
    running = {k for k, n in edges.items() if n >= max(3, len(pages) // 2) and len(k) <= 40}
    return [
        [line for i, line in enumerate(lines) if not (i in (0, len(lines) - 1) and key(line) in running)]
        for lines in pages
    ]
