"""The monthly progress report, as officials send it to each other: Excel with one sheet per section of the
plan, and a Word briefing with the status table and the items at risk."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from openpyxl.styles import Font, PatternFill

from huanxin.core.exports import (
    XLSX,
    add_sheet,
    append_row,
    attachment_response,
    clean_text,
    new_workbook,
    workbook_bytes,
)
from huanxin.monitoring import progress, status
from huanxin.monitoring.dashboard import _plan
from huanxin.plans import selectors as plan_selectors
from huanxin.plans.models import Measure, MeasureAction, Plan, Section

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FILLS = {
    progress.Status.ACHIEVED: "C6EFCE",
    progress.Status.ON_TRACK: "DDEBF7",
    progress.Status.LAGGING: "FFEB9C",
    progress.Status.AT_RISK: "FFC7CE",
    progress.Status.NO_DATA: "EDEDED",
}


def _number(value: Any) -> float | str:
    return float(value) if value is not None else ""


def _status_row(s: status.IndicatorStatus) -> list[Any]:
    a, i = s.assessment, s.indicator
    return [
        i.name,
        i.target_display if i.is_quantitative else "定性目标",
        _number(a.actual),
        i.unit,
        _number(a.expected),
        _number(a.progress_pct),
        a.status.label,
        _number(a.forecast),
        a.reach_date.strftime("%Y-%m") if a.reach_date else "",
        "；".join(a.reasons),
    ]


STATUS_HEADERS = ["指标", "目标", "当前", "单位", "应达", "进度%", "状态", "预计截止时", "预计达成", "说明"]


def _sheet(wb: Any, title: str, headers: list[str], rows: list[list[Any]], widths: list[int]) -> Any:
    return add_sheet(wb, title=title, headers=headers, rows=rows, widths=widths, wrap=True)


def monthly_workbook(*, user: Any, plan: Plan, today: dt.date) -> bytes:
    statuses = status.plan_status(user=user, plan=plan, today=today)
    by_measure: dict[int | None, list[status.IndicatorStatus]] = {}
    for s in statuses:
        by_measure.setdefault(s.indicator.measure_id, []).append(s)
    actions = dict(
        MeasureAction.objects.visible_to(user)
        .filter(measure__plan=plan, status=MeasureAction.Status.SUBMITTED)
        .values_list("measure_id")
        .annotate(n=Count("id"))
    )
    wb = new_workbook()
    overview = wb.create_sheet("总览")
    append_row(overview, [f"{plan.title}推进情况（截至{today:%Y年%m月%d日}）"])
    overview["A1"].font = Font(bold=True, size=14)
    counts = Counter(s.status for s in statuses)
    append_row(overview, [])
    append_row(overview, ["状态", "目标数"])
    for st in progress.Status:
        append_row(overview, [st.label, counts.get(st, 0)])
        overview.cell(row=overview.max_row, column=1).fill = PatternFill("solid", fgColor=FILLS[st])
    overview.column_dimensions["A"].width = 40

    top_sections = Section.objects.filter(plan=plan, level=1).order_by("position")
    measures = plan_selectors.measures_with_departments(Measure.objects.visible_to(user).filter(plan=plan))
    measures_by_top: dict[int, list[Measure]] = {}
    for measure in measures.order_by("position"):
        top = measure.section.parent_id or measure.section_id
        measures_by_top.setdefault(top, []).append(measure)
    for section in top_sections:
        title = f"{section.number}、{section.title}"
        if section.path == "一":
            rows = [_status_row(s) for s in by_measure.get(None, [])]
            ws = _sheet(wb, title, STATUS_HEADERS, rows, [34, 18, 10, 6, 10, 8, 10, 12, 10, 50])
        else:
            rows = []
            for measure in measures_by_top.get(section.pk, []):
                responsible = plan_selectors.measure_departments(measure)
                lead = "、".join(r.department.name for r in responsible if r.role == "lead")
                others = "、".join(r.department.name for r in responsible if r.role != "lead")
                targets = by_measure.get(measure.pk, [])
                text = "\n".join(
                    f"{s.indicator.name}：{s.assessment.status.label}"
                    + (f"（进度{s.assessment.progress_pct}%）" if s.assessment.progress_pct is not None else "")
                    for s in targets
                )
                rows.append(
                    [measure.code, measure.title, lead, others, text or "无量化目标", actions.get(measure.pk, 0)]
                )
            ws = _sheet(
                wb,
                title,
                ["编号", "任务举措", "牵头单位", "配合单位", "目标进展", "已报送落实举措"],
                rows,
                [12, 28, 24, 40, 50, 12],
            )
        for row_cells in ws.iter_rows(min_row=2):
            label = str(row_cells[6].value if section.path == "一" else "")
            for st in progress.Status:
                if label == st.label:
                    row_cells[6].fill = PatternFill("solid", fgColor=FILLS[st])
    _sheet(wb, "全部指标", STATUS_HEADERS, [_status_row(s) for s in statuses], [34, 18, 10, 6, 10, 8, 10, 12, 10, 50])
    return workbook_bytes(wb)


def briefing_document(*, user: Any, plan: Plan, today: dt.date) -> bytes:
    statuses = status.plan_status(user=user, plan=plan, today=today)
    counts = Counter(s.status for s in statuses)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "宋体"
    style.font.size = Pt(11)
    heading = doc.add_heading(f"{plan.title}推进情况简报", level=1)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.add_paragraph(f"（截至{today:%Y年%m月%d日}，依据各责任单位报送并经工作专班审核的数据）")
    quantitative = [s for s in statuses if s.indicator.is_quantitative]
    doc.add_paragraph(
        f"方案共设{len(statuses)}项目标，其中量化目标{len(quantitative)}项。"
        + "，".join(f"{st.label}{counts.get(st, 0)}项" for st in progress.Status)
        + "。"
    )
    doc.add_heading("一、目标推进情况", level=2)
    table = doc.add_table(rows=1, cols=6)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["指标", "目标", "当前", "进度", "状态", "预计达成"], strict=True):
        cell.text = text
    for s in statuses:
        a, i = s.assessment, s.indicator
        cells = table.add_row().cells
        cells[0].text = clean_text(i.name)  # python-docx, like openpyxl, refuses control characters
        cells[1].text = i.target_display if i.is_quantitative else "定性目标"
        cells[2].text = f"{a.actual:.1f}{i.unit}" if a.actual is not None else "—"
        cells[3].text = f"{a.progress_pct}%" if a.progress_pct is not None else "—"
        cells[4].text = a.status.label
        cells[5].text = a.reach_date.strftime("%Y年%m月") if a.reach_date else "—"
    doc.add_heading("二、需要关注的事项", level=2)
    risky = [s for s in statuses if s.status in {progress.Status.AT_RISK, progress.Status.LAGGING}]
    if not risky:
        doc.add_paragraph("各量化目标均按进度推进，暂无需要特别关注的事项。")
    for s in sorted(risky, key=lambda s: s.status != progress.Status.AT_RISK):
        department = s.setting.reporting_department.name if s.setting and s.setting.reporting_department else ""
        doc.add_paragraph(
            clean_text(
                f"{s.indicator.name}（{s.assessment.status.label}，{department}）：" + "；".join(s.assessment.reasons)
            ),
            style="List Bullet",
        )
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def report_xlsx(request: HttpRequest) -> HttpResponse:
    plan, today = _plan(request), timezone.localdate()
    content = monthly_workbook(user=request.user, plan=plan, today=today)
    return attachment_response(content, content_type=XLSX, filename=f"{plan.title}推进情况-{today:%Y%m}.xlsx")


def report_docx(request: HttpRequest) -> HttpResponse:
    plan, today = _plan(request), timezone.localdate()
    content = briefing_document(user=request.user, plan=plan, today=today)
    return attachment_response(content, content_type=DOCX, filename=f"{plan.title}推进情况简报-{today:%Y%m}.docx")
