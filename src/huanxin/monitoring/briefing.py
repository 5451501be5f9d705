"""The monthly briefing (简报) as a Word document laid out to GB/T 9704-2012, as officials print and file it.

A4; margins top 37 mm, bottom 35 mm, left (binding) 28 mm, right 26 mm, which leaves the standard type area of
156 × 225 mm; 22 lines of 28 characters a page (GB/T 9704 7.1): a line grid of 28.95 pt, and the characters set
0.25 pt closer than their 16 pt, so 28 of them fill the 156 mm. (A character grid, w:charSpace, would do the same in
Word but LibreOffice gives each 16 pt character two cells of it.) The body is
仿宋_GB2312 三号 (16 pt), the title 方正小标宋简体 二号 (22 pt), first-level headings 黑体 三号, second-level
楷体_GB2312 三号; page numbers "— 1 —" in 宋体 四号 at the bottom, odd pages on the right and even pages on the left,
one character in.

Fonts: the GB2312-era names are what GB/T 9704 documents ask for and what government machines have; an ordinary
Windows or WPS machine may lack them but has 仿宋, 楷体, 黑体 and 宋体. The font table names those as each font's
alternate (`w:altName`) with the GB2312 character set, which Word and WPS use to substitute; LibreOffice maps the
names through its own replacement table.
"""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor, Twips
from docx.table import Table
from docx.text.paragraph import Paragraph
from lxml import etree

from huanxin.core.exports import clean_text
from huanxin.monitoring import progress, status, units
from huanxin.plans.models import Plan

# fonts: (name GB/T 9704 asks for, the alternate an ordinary Chinese office machine has)
FANGSONG = ("仿宋_GB2312", "仿宋")
KAITI = ("楷体_GB2312", "楷体")
HEITI = ("黑体", "SimHei")
XIAOBIAOSONG = ("方正小标宋简体", "黑体")
SONGTI = ("宋体", "SimSun")
LATIN = "Times New Roman"

BODY_SIZE = Pt(16)  # 三号
TITLE_SIZE = Pt(22)  # 二号
PAGE_NUMBER_SIZE = Pt(14)  # 四号
TABLE_SIZE = Pt(10.5)  # 五号: a table of six columns in 156 mm
LINE_PITCH = Twips(579)  # 225 mm / 22 lines
CONDENSED = -5  # twentieths of a point between characters: 28 × (16 − 0.25) pt = 441 pt ≤ 156 mm (442.2 pt)
RED = RGBColor(0xC0, 0x00, 0x00)

PAGE_WIDTH, PAGE_HEIGHT = Mm(210), Mm(297)
MARGINS = {"top": Mm(37), "bottom": Mm(35), "left": Mm(28), "right": Mm(26)}
TYPE_WIDTH = Mm(156)
# the status table's columns in mm, 156 in all: names of up to 21 characters take two lines, a status three
COLUMNS = [("指标", 46), ("目标", 24), ("当前", 22), ("进度", 15), ("状态", 30), ("预计达成", 19)]


def _fonts(rpr: Any, font: tuple[str, str], *, latin: str = LATIN) -> None:
    """Set a run's (or style's) Chinese and Latin fonts."""
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attribute in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attribute), latin)
    fonts.set(qn("w:eastAsia"), font[0])
    fonts.set(qn("w:hint"), "eastAsia")


def _run(paragraph: Paragraph, text: str, font: tuple[str, str], size: Pt, *, bold: bool = False) -> Any:
    run = paragraph.add_run(clean_text(text))  # python-docx, like openpyxl, refuses control characters
    run.font.size = size
    run.font.bold = bold
    _fonts(run._element.get_or_add_rPr(), font)
    return run


def _no_grid(paragraph: Paragraph) -> None:
    """Text larger or smaller than the body (title, tables, page numbers) is not snapped to the 28-character grid,
    which would spread a 22 pt title over two cells a character."""
    snap = OxmlElement("w:snapToGrid")
    snap.set(qn("w:val"), "0")
    paragraph._p.get_or_add_pPr().append(snap)


def _indent_two_characters(paragraph: Paragraph) -> None:
    paragraph.paragraph_format.first_line_indent = Pt(32)
    ind = paragraph._p.get_or_add_pPr().find(qn("w:ind"))
    if ind is not None:
        ind.set(qn("w:firstLineChars"), "200")  # Word and WPS indent by characters of the grid


def _exact(paragraph: Paragraph, pitch: Any = LINE_PITCH) -> None:
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = pitch
    fmt.space_before = fmt.space_after = Pt(0)


def _page_setup(doc: DocumentObject) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = PAGE_WIDTH, PAGE_HEIGHT
    section.top_margin, section.bottom_margin = MARGINS["top"], MARGINS["bottom"]
    section.left_margin, section.right_margin = MARGINS["left"], MARGINS["right"]
    section.header_distance = Mm(15)
    # GB/T 9704 7.5: the page number's line sits 7 mm below the type area
    section.footer_distance = MARGINS["bottom"] - Mm(7) - Mm(5)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(LINE_PITCH.twips))
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number(section.footer.paragraphs[0], WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number(section.even_page_footer.paragraphs[0], WD_ALIGN_PARAGRAPH.LEFT)


def _page_number(paragraph: Paragraph, side: WD_ALIGN_PARAGRAPH) -> None:
    """ "— 1 —": a PAGE field between two dashes, one character in from the type area's edge."""
    paragraph.alignment = side
    if side == WD_ALIGN_PARAGRAPH.RIGHT:
        paragraph.paragraph_format.right_indent = PAGE_NUMBER_SIZE
    else:
        paragraph.paragraph_format.left_indent = PAGE_NUMBER_SIZE
    _no_grid(paragraph)
    _run(paragraph, "— ", SONGTI, PAGE_NUMBER_SIZE)
    for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"), ("end", None)):
        run = _run(paragraph, "", SONGTI, PAGE_NUMBER_SIZE)
        if kind == "instr":
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = text
            run._r.append(instr)
        elif kind == "text":
            run.text = text or ""
        else:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
    _run(paragraph, " —", SONGTI, PAGE_NUMBER_SIZE)


def _styles(doc: DocumentObject) -> None:
    normal = doc.styles["Normal"]
    normal.font.size = BODY_SIZE
    rpr = normal.element.get_or_add_rPr()
    _fonts(rpr, FANGSONG)
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), str(CONDENSED))
    rpr.append(spacing)
    fmt = normal.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = LINE_PITCH
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = False  # an official document fills its pages: no line moved over for a lone line


def _font_table(doc: DocumentObject) -> None:
    """Name each Chinese font's alternate and its character set (GB2312, 0x86), so that a machine without
    仿宋_GB2312 or 方正小标宋简体 substitutes 仿宋 or 黑体 rather than a Latin font."""
    part = next(p for p in doc.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml")
    fonts = parse_xml(part.blob)
    for name, alternate in (FANGSONG, KAITI, HEITI, XIAOBIAOSONG, SONGTI):
        family = "modern" if name != XIAOBIAOSONG[0] else "script"
        fonts.append(
            parse_xml(
                f'<w:font xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" w:name="{name}">'
                f'<w:altName w:val="{alternate}"/><w:charset w:val="86"/><w:family w:val="{family}"/>'
                '<w:pitch w:val="fixed"/></w:font>'
            )
        )
    part._blob = etree.tostring(fonts, xml_declaration=True, encoding="UTF-8", standalone=True)


def _masthead(doc: DocumentObject, plan: Plan, today: dt.date) -> None:
    """版头: the briefing's name in red, its number, who issues it and when, and the red line under them."""
    name = doc.add_paragraph()
    name.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _exact(name, Pt(48))
    _no_grid(name)
    _run(name, "设备更新和以旧换新工作简报", XIAOBIAOSONG, Pt(30)).font.color.rgb = RED
    number = doc.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(number, f"{today.year}年第{today.month}期", FANGSONG, BODY_SIZE)
    issuer = doc.add_paragraph()
    issuer.paragraph_format.tab_stops.add_tab_stop(TYPE_WIDTH, WD_TAB_ALIGNMENT.RIGHT)
    editor = plan.task_force_department.name if plan.task_force_department else f"{plan.region.name}工作专班"
    _run(issuer, f"{editor}\t{today.year}年{today.month}月{today.day}日", FANGSONG, BODY_SIZE)
    # the red line: a bottom border as wide as the type area
    border = parse_xml(
        '<w:pBdr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:bottom w:val="single" w:sz="12" w:space="4" w:color="C00000"/></w:pBdr>'
    )
    issuer._p.get_or_add_pPr().append(border)
    doc.add_paragraph()


def _title(doc: DocumentObject, text: str) -> None:
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _exact(title, Pt(35))
    _no_grid(title)
    _run(title, text, XIAOBIAOSONG, TITLE_SIZE)
    doc.add_paragraph()


def _body(doc: DocumentObject, text: str = "") -> Paragraph:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    _indent_two_characters(paragraph)
    if text:
        _run(paragraph, text, FANGSONG, BODY_SIZE)
    return paragraph


def _heading(doc: DocumentObject, text: str) -> None:
    paragraph = doc.add_paragraph()
    _indent_two_characters(paragraph)
    paragraph.paragraph_format.keep_with_next = True
    _run(paragraph, text, HEITI, BODY_SIZE)


def _cell(cell: Any, text: str, *, bold: bool = False, align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.CENTER) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    paragraph.alignment = align
    _exact(paragraph, Pt(16))
    _no_grid(paragraph)
    _run(paragraph, text, HEITI if bold else FANGSONG, TABLE_SIZE)


def _status_table(doc: DocumentObject, statuses: list[status.IndicatorStatus]) -> Table:
    """The status table, as wide as the type area, fixed column widths, the header row repeated on each page."""
    table = doc.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tbl_pr.append(layout)
    width = tbl_pr.find(qn("w:tblW"))
    if width is None:
        width = OxmlElement("w:tblW")
        tbl_pr.append(width)
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), str(TYPE_WIDTH.twips))
    for column, (_, mm) in zip(table.columns, COLUMNS, strict=True):
        column.width = Mm(mm)
    header = table.rows[0]
    header_pr = header._tr.get_or_add_trPr()
    for tag in ("w:tblHeader", "w:cantSplit"):
        header_pr.append(OxmlElement(tag))
    for cell, (text, mm) in zip(header.cells, COLUMNS, strict=True):
        cell.width = Mm(mm)
        _cell(cell, text, bold=True)
    for s in statuses:
        a, i = s.assessment, s.indicator
        row = table.add_row()
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        values = [
            (i.name, WD_ALIGN_PARAGRAPH.LEFT),
            (units.target_text(i), WD_ALIGN_PARAGRAPH.CENTER),
            (units.display(a.actual, i.unit, i.target_value) if i.is_quantitative else "—", WD_ALIGN_PARAGRAPH.CENTER),
            (f"{a.progress_pct}%" if a.progress_pct is not None else "—", WD_ALIGN_PARAGRAPH.CENTER),
            (a.headline, WD_ALIGN_PARAGRAPH.LEFT),
            (a.reach_date.strftime("%Y.%m") if a.reach_date else "—", WD_ALIGN_PARAGRAPH.CENTER),
        ]
        for cell, (text, align), (_, mm) in zip(row.cells, values, COLUMNS, strict=True):
            cell.width = Mm(mm)
            _cell(cell, text, align=align)
    return table


CHINESE_NUMBERS = "一二三四五六七八九十"


def _ordinal(n: int) -> str:
    """（一） … （十）, then （11）: a briefing rarely lists more."""
    return f"（{CHINESE_NUMBERS[n - 1]}）" if n <= len(CHINESE_NUMBERS) else f"（{n}）"


def briefing_document(*, user: Any, plan: Plan, today: dt.date) -> bytes:
    statuses = status.plan_status(user=user, plan=plan, today=today)
    counts = Counter(s.status for s in statuses)
    doc = Document()
    _styles(doc)
    _page_setup(doc)
    _font_table(doc)
    _masthead(doc, plan, today)
    _title(doc, f"{plan.title}推进情况简报")
    quantitative = [s for s in statuses if s.indicator.is_quantitative]
    on_track = [s for s in statuses if s.status == progress.Status.ON_TRACK]
    slower = sum(1 for s in on_track if s.assessment.summary not in {"", progress.Status.ON_TRACK.label})
    _body(
        doc,
        f"截至{today.year}年{today.month}月{today.day}日，依据各责任单位报送并经工作专班审核的数据，"
        f"方案共设{len(statuses)}项目标，其中量化目标{len(quantitative)}项。"
        + "，".join(f"{st.label}{counts.get(st, 0)}项" for st in progress.Status)
        + "。"
        + (f"正常推进的目标中，{slower}项按当前趋势可以完成，但进度慢于计划。" if slower else ""),
    )
    _heading(doc, "一、目标推进情况")
    _status_table(doc, statuses)
    doc.add_paragraph()
    _heading(doc, "二、需要关注的事项")
    risky = [s for s in statuses if s.status in {progress.Status.AT_RISK, progress.Status.LAGGING}]
    if not risky:
        _body(doc, "各量化目标按当前趋势均可完成，暂无需要特别关注的事项。")
    for n, s in enumerate(sorted(risky, key=lambda s: s.status != progress.Status.AT_RISK), start=1):
        setting = s.setting
        department = setting.reporting_department.name if setting and setting.reporting_department else "责任单位"
        paragraph = _body(doc)
        _run(paragraph, f"{_ordinal(n)}{s.indicator.name}（{department}）。", KAITI, BODY_SIZE)
        reasons = "；".join(s.assessment.reasons)
        _run(paragraph, f"{s.assessment.headline}：{reasons}。", FANGSONG, BODY_SIZE)
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()
