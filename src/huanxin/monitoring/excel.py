"""Bulk entry through Excel: the department downloads its template for a period, fills it, uploads it.

Each row is saved on its own (`services.save_value`, one transaction each): a bad row is reported with its
reason and the others are kept; nothing is half-saved within a row. The template carries every current value,
submitted and approved ones too, so a row that says what the system already holds is 未变更 — not an error, and
not counted as saved — whatever the value's state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from huanxin.core import uploads
from huanxin.core.exports import add_sheet, new_workbook, workbook_bytes
from huanxin.monitoring import selectors, services, units
from huanxin.monitoring.models import Period

HEADERS = ["指标代码", "指标名称", "地区代码", "地区", "填报单位", "本期数值", "说明及佐证", "当前状态"]
RESULT_HEADERS = ["行号", "指标", "地区", "结果", "说明"]
SAVED, UNCHANGED, FAILED = "saved", "unchanged", "failed"
OUTCOME_LABELS = {SAVED: "已保存", UNCHANGED: "未变更", FAILED: "未保存"}
MAX_ROWS = 20_000
PROGRESS_EVERY = 50  # rows between progress reports: each is a write when a test runs the job in-process


def build_template(*, user: Any, period: Period) -> bytes:
    rows = []
    row_units = []
    for row in selectors.entry_sheet(user=user, period=period):
        value = row.value
        row_units.append(row.setting.value_unit)
        rows.append(
            [
                row.setting.indicator.code,
                row.setting.indicator.name,
                row.region.code,
                row.region.name,
                row.setting.value_unit,
                float(value.value) if value is not None else None,
                value.note if value is not None else "",
                value.get_status_display() if value is not None else "未填",
            ]
        )
    wb = new_workbook()
    ws = add_sheet(wb, title="填报", headers=HEADERS, rows=rows, widths=(30, 34, 10, 16, 8, 12, 30, 12), freeze="F2")
    _value_cells(ws, row_units)
    notes = [
        f"期间：{period.label}（{period.code}），报送截止 {period.due_on:%Y-%m-%d}",
        "只填写“本期数值”和“说明及佐证”两列；请勿修改指标代码和地区代码。",
        "数值为空的行不处理；已报送或已审核的行不会被覆盖（已审核的数值请在系统中提交更正）。",
        "上传后逐行给出结果：与系统中相同的行为“未变更”；有错误的行不保存并说明原因，其余行照常保存。",
    ]
    add_sheet(wb, title="说明", headers=None, rows=[[line] for line in notes], widths=(100,))
    return workbook_bytes(wb)


def _value_cells(ws: Any, row_units: list[str]) -> None:
    """本期数值 shown as typed with its unit (General: 18.17 stays 18.17, so what the upload refuses is what the
    cell shows); a count's cell accepts whole numbers only, any other a number of at least 0."""
    column = HEADERS.index("本期数值") + 1
    letter = get_column_letter(column)
    checks: dict[str, DataValidation] = {}
    for offset, unit in enumerate(row_units):
        cell = ws.cell(row=2 + offset, column=column)
        cell.number_format = f'General"{unit}"' if unit == units.PERCENT else f'General" {unit}"'
        counted = units.is_count(unit)
        key = unit if counted else ""
        if key not in checks:
            checks[key] = DataValidation(
                type="whole" if counted else "decimal",
                operator="greaterThanOrEqual",
                formula1="0",
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="数值有误",
                error=f"该指标以“{unit}”计数，请填写整数" if counted else "请填写不小于0的数字",
            )
            ws.add_data_validation(checks[key])
        checks[key].add(f"{letter}{cell.row}")


@dataclass
class RowResult:
    row: int
    indicator: str
    region: str
    ok: bool  # saved or unchanged: nothing wrong with the row
    message: str
    outcome: str = ""  # SAVED | UNCHANGED | FAILED; empty means SAVED when ok, FAILED otherwise

    def __post_init__(self) -> None:
        if not self.outcome:
            self.outcome = SAVED if self.ok else FAILED


def import_workbook(
    *,
    user: Any,
    period: Period,
    data: bytes,
    today: dt.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    since: dt.datetime | None = None,
) -> list[RowResult]:
    """Save each filled row of an uploaded template; one result per non-empty row. `progress(done, total)` hears
    how many of the sheet's rows are done (a background job's progress bar).

    Run again over the same file (a job whose worker died) it writes nothing twice: a row saved the first time is
    saved again with the same number, which `save_value` leaves as it is. `since` (the job's start) tells those rows
    apart from rows that were already so: a draft this user changed since then was saved by this upload."""
    table = uploads.read_xlsx(data, sheet="填报", max_rows=MAX_ROWS)
    header = table.header
    try:
        col = {name: header.index(name) for name in ("指标代码", "地区代码", "本期数值", "说明及佐证")}
    except ValueError as exc:
        raise ValidationError("表头不符：请使用本系统下载的模板（缺少指标代码、地区代码或本期数值列）") from exc
    sheet = {(r.setting.indicator.code, r.region.code): r for r in selectors.entry_sheet(user=user, period=period)}
    results: list[RowResult] = []
    total = len(table.body)
    for done, (number, cells) in enumerate(table.body):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, total)
        padded = cells + [None] * len(header)
        fields = {name: padded[index] for name, index in col.items()}
        raw = fields["本期数值"]
        if raw is None or str(raw).strip() == "":
            continue
        code, region_code = str(fields["指标代码"] or "").strip(), str(fields["地区代码"] or "").strip()
        if problem := table.problems.get(number):
            results.append(RowResult(number, code, region_code, False, problem))
            continue
        row = sheet.get((code, region_code))
        if row is None:
            results.append(RowResult(number, code, region_code, False, "指标代码或地区代码不在本单位本期的填报范围内"))
            continue
        label = (row.setting.indicator.name, row.region.name)
        if _unchanged(row.value, raw, fields["说明及佐证"], row.setting):
            earlier = row.value is not None and _saved_by(row.value, user, since)
            if earlier:
                results.append(RowResult(number, *label, True, "已保存（草稿）"))
            else:
                status = row.value.get_status_display() if row.value is not None else ""
                results.append(RowResult(number, *label, True, f"与系统中的数值相同（{status}）", UNCHANGED))
            continue
        if not row.editable:
            results.append(RowResult(number, *label, False, _locked_message(row.value)))
            continue
        try:
            services.save_value(
                actor=user,
                indicator=row.setting.indicator,
                period=period,
                region=row.region,
                value=str(raw),
                note=str(fields["说明及佐证"] or ""),
                today=today,
            )
        except (ValidationError, PermissionDenied) as exc:
            message = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            results.append(RowResult(number, *label, False, message))
        except uploads.BAD_VALUE:  # a value no check foresaw fails its row, not the upload
            results.append(RowResult(number, *label, False, uploads.BAD_VALUE_MESSAGE))
        else:
            results.append(RowResult(number, *label, True, "已保存（草稿）"))
    if table.overflow is not None:
        results.append(RowResult(table.overflow, "", "", False, f"超过 {MAX_ROWS} 行，其余行未处理"))
    if progress is not None:
        progress(total, total)
    return results


def _unchanged(current: Any, raw: Any, note: Any, setting: Any) -> bool:
    """Whether a row repeats what the system holds: the same number (as a number: the template writes 2.5 for
    2.5000) and the same note. A cell that is no number is not unchanged; `save_value` says what is wrong."""
    if current is None:
        return False
    try:
        number = services.parse_value(str(raw), setting)
    except ValidationError:
        return False
    return bool(number == current.value and str(note or "").strip() == current.note)


def _locked_message(value: Any) -> str:
    """A row that changes a submitted or approved value: a real error, saying what the system holds and what to do."""
    held = f"{value.value.normalize():f}"
    if value.status == value.Status.APPROVED:
        return f"该数值已审核（系统中为 {held}），不能直接修改，请在系统中提交更正"
    return f"该数值{value.get_status_display()}（系统中为 {held}），待审核期间不能修改"


def _saved_by(value: Any, user: Any, since: dt.datetime | None) -> bool:
    return (
        since is not None
        and value.status == value.Status.DRAFT
        and value.updated_by_id == getattr(user, "pk", None)
        and value.updated_at >= since
    )


def results_workbook(results: list[RowResult]) -> bytes:
    """The upload's answer row by row, as the job's result file: what was saved, what was already so, and why the
    rest was not."""
    rows = [[r.row, r.indicator, r.region, OUTCOME_LABELS[r.outcome], r.message] for r in results]
    wb = new_workbook()
    add_sheet(wb, title="上传结果", headers=RESULT_HEADERS, rows=rows, widths=(8, 34, 16, 10, 60), freeze="A2")
    return workbook_bytes(wb)
