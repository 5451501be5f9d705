"""The monthly progress report, as officials send it to each other: Excel with one sheet per section of the
plan, and a Word briefing (`briefing.py`) with the status table and the items that need attention.

Every figure in the workbook is a number at the indicator's precision, formatted with its unit (`units`): 6,400 个,
180.6 公里, progress and growth as 0.0%; every sheet carries its title and prints fitted to the page's width with
the title and header repeated (`core.exports.add_sheet`)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from openpyxl.styles import PatternFill

from huanxin.core.exports import XLSX, add_sheet, attachment_response, new_workbook, workbook_bytes
from huanxin.monitoring import progress, status, units
from huanxin.monitoring.briefing import briefing_document
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
STATUS_HEADERS = ["指标", "目标", "当前", "应达", "进度", "状态", "预计截止时", "预计达成", "说明"]
STATUS_WIDTHS = [30, 20, 13, 13, 9, 22, 13, 10, 40]
FIGURES = (2, 3, 6)  # the status table's columns holding a figure in the indicator's unit
PROGRESS, STATUS = 4, 5
PROGRESS_FORMAT = "0.0%"
COUNT_FORMAT = '0" 项"'

__all__ = ["briefing_document", "monthly_workbook", "report_docx", "report_xlsx"]


def _status_row(s: status.IndicatorStatus) -> list[Any]:
    a, i = s.assessment, s.indicator
    figure = [units.excel_value(v, i.unit, i.target_value) for v in (a.actual, a.expected, a.forecast)]
    return [
        i.name,
        units.target_text(i),
        figure[0],
        figure[1],
        float(a.progress_pct / 100) if a.progress_pct is not None else None,
        a.headline,
        figure[2],
        a.reach_date.strftime("%Y-%m") if a.reach_date else "",
        "；".join(a.reasons),
    ]


def _status_sheet(wb: Any, title: str, heading: str, statuses: list[status.IndicatorStatus]) -> None:
    """A table of targets: each figure formatted with its indicator's unit and precision (a row's unit is its
    own, so the formats are set cell by cell), the status cell coloured."""
    formats: list[str | None] = [None] * len(STATUS_HEADERS)
    formats[PROGRESS] = PROGRESS_FORMAT
    rows = [_status_row(s) for s in statuses]
    ws = add_sheet(
        wb,
        title=title,
        headers=STATUS_HEADERS,
        rows=rows,
        widths=STATUS_WIDTHS,
        wrap=True,
        heading=heading,
        formats=formats,
    )
    first = ws.max_row - len(statuses) + 1
    for offset, s in enumerate(statuses):
        cells = ws[first + offset]
        for column in FIGURES:
            cells[column].number_format = units.excel_format(s.indicator.unit, s.indicator.target_value)
        cells[STATUS].fill = PatternFill("solid", fgColor=FILLS[s.status])


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
    as_of = f"（截至{today.year}年{today.month}月{today.day}日）"
    wb = new_workbook()
    counts = Counter(s.status for s in statuses)
    overview = add_sheet(
        wb,
        title="总览",
        headers=["状态", "目标数"],
        rows=[[st.label, counts.get(st, 0)] for st in progress.Status],
        widths=[40, 14],
        heading=f"{plan.title}推进情况{as_of}",
        formats=[None, COUNT_FORMAT],
    )
    for offset, st in enumerate(progress.Status):
        overview.cell(row=3 + offset, column=1).fill = PatternFill("solid", fgColor=FILLS[st])

    top_sections = Section.objects.filter(plan=plan, level=1).order_by("position")
    measures = plan_selectors.measures_with_departments(Measure.objects.visible_to(user).filter(plan=plan))
    measures_by_top: dict[int, list[Measure]] = {}
    for measure in measures.order_by("position"):
        top = measure.section.parent_id or measure.section_id
        measures_by_top.setdefault(top, []).append(measure)
    for section in top_sections:
        title = f"{section.number}、{section.title}"
        heading = f"{title}{as_of}"
        if section.path == "一":
            _status_sheet(wb, title, heading, by_measure.get(None, []))
            continue
        rows = []
        for measure in measures_by_top.get(section.pk, []):
            responsible = plan_selectors.measure_departments(measure)
            lead = "、".join(r.department.name for r in responsible if r.role == "lead")
            others = "、".join(r.department.name for r in responsible if r.role != "lead")
            targets = by_measure.get(measure.pk, [])
            text = "\n".join(
                f"{s.indicator.name}：{s.assessment.headline}"
                + (f"（进度{s.assessment.progress_pct}%）" if s.assessment.progress_pct is not None else "")
                for s in targets
            )
            rows.append([measure.code, measure.title, lead, others, text or "无量化目标", actions.get(measure.pk, 0)])
        add_sheet(
            wb,
            title=title,
            headers=["编号", "任务举措", "牵头单位", "配合单位", "目标进展", "已报送落实举措"],
            rows=rows,
            widths=[12, 28, 24, 40, 50, 14],
            wrap=True,
            heading=heading,
            formats=[None, None, None, None, None, COUNT_FORMAT],
        )
    _status_sheet(wb, "全部指标", f"全部目标指标{as_of}", statuses)
    return workbook_bytes(wb)


def report_xlsx(request: HttpRequest) -> HttpResponse:
    plan, today = _plan(request), timezone.localdate()
    content = monthly_workbook(user=request.user, plan=plan, today=today)
    return attachment_response(content, content_type=XLSX, filename=f"{plan.title}推进情况-{today:%Y%m}.xlsx")


def report_docx(request: HttpRequest) -> HttpResponse:
    plan, today = _plan(request), timezone.localdate()
    content = briefing_document(user=request.user, plan=plan, today=today)
    return attachment_response(content, content_type=DOCX, filename=f"{plan.title}推进情况简报-{today:%Y%m}.docx")
