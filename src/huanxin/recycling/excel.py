"""Bulk upload of collection records for large recyclers: one row per intake, each saved on its own
(`services.record_collection`, one transaction each). A bad row comes back with its reason and the others are
kept; a row whose 业务单号 was imported before is reported and not counted twice. The result is a workbook: the
upload with a 结果 column. The page hands the file to a background job (`recycling/jobs.py`), which runs
`RecordImport` a chunk of rows at a time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from huanxin.core import uploads
from huanxin.core.exports import build_workbook
from huanxin.core.models import User
from huanxin.recycling import categories, services
from huanxin.recycling.models import CollectionRecord, Site

HEADERS = [
    "业务单号",
    "回收日期",
    "站点",
    "来源",
    "品类",
    "数量（台/件）",
    "重量（千克）",
    "收购金额（元）",
    "交售单位",
]
REQUIRED = ["回收日期", "站点", "来源", "品类"]
MAX_ROWS = 20_000
SOURCES = {str(s.label): s.value for s in CollectionRecord.Source if s != CollectionRecord.Source.BOOKING}


def template(*, sites: list[Site]) -> bytes:
    example_site = sites[0].name if sites else "（站点名称）"
    rows = [
        ["HS-0001", timezone.localdate().isoformat(), example_site, "个人交售", "冰箱", 1, 45, "80.00", ""],
        [
            "HS-0002",
            timezone.localdate().isoformat(),
            example_site,
            "企业交售",
            "废钢铁",
            0,
            "1250.5",
            "3126.25",
            "某某机械厂",
        ],
    ]
    return build_workbook(title="回收记录", headers=HEADERS, rows=rows)


@dataclass
class RowResult:
    row: int
    ref: str
    ok: bool
    message: str


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value).replace("/", "-").replace(".", "-")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"回收日期“{text}”无法识别，请写成 2025-06-30", code="invalid_date") from None


def _units(value: Any) -> int:
    text = _text(value) or "0"
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise ValidationError(f"数量“{text}”不是整数", code="invalid_units") from None
    if number != number.to_integral_value():
        raise ValidationError(f"数量“{text}”不是整数", code="invalid_units")
    return int(number)


def read_rows(data: bytes) -> uploads.Table:
    table = uploads.read_xlsx(data, max_rows=MAX_ROWS)
    missing = [name for name in REQUIRED if name not in table.header]
    if missing:
        raise ValidationError(f"表头缺少：{'、'.join(missing)}（请使用本系统下载的模板）", code="bad_header")
    return table


IMPORTED = "已导入"
REPEATED = "业务单号已导入过，未重复计入"


class RecordImport:
    """One upload's rows saved one by one against the uploader's own sites, each row's result kept for the result
    workbook. The background job (`recycling/jobs.py`) feeds it a chunk of rows at a time."""

    def __init__(self, *, actor: User, table: uploads.Table, today: dt.date | None = None) -> None:
        self.actor = actor
        self.table = table
        self.today = today
        self.col = {name: table.header.index(name) for name in HEADERS if name in table.header}
        self.sites = {
            s.name: s for s in Site.objects.visible_to(actor).filter(organisation_id=actor.organisation_id or 0)
        }
        self.results: list[RowResult] = []
        self._out: list[list[Any]] = []

    def _cells(self, cells: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        padded = cells + [None] * len(self.table.header)
        return padded, {name: padded[index] for name, index in self.col.items()}

    def _answer(self, padded: list[Any], result: RowResult) -> RowResult:
        self.results.append(result)
        self._out.append([*(padded[i] for i in range(len(self.table.header))), result.message])
        return result

    def row(self, number: int, cells: list[Any]) -> tuple[RowResult, bool]:
        """Save one row; (its result, whether a record was written)."""
        padded, field = self._cells(cells)
        ref = _text(field.get("业务单号"))
        created = False
        try:
            if problem := self.table.problems.get(number):
                raise ValidationError(problem, code="bad_cell")
            site = self.sites.get(_text(field["站点"]))
            if site is None:
                raise ValidationError(f"站点“{_text(field['站点'])}”不是本企业的站点", code="unknown_site")
            source = SOURCES.get(_text(field["来源"]), _text(field["来源"]))
            category = categories.parse(_text(field["品类"]))
            if category is None:
                raise ValidationError(f"品类“{_text(field['品类'])}”无法识别", code="invalid_category")
            _, created = services.record_collection(
                actor=self.actor,
                site=site,
                received_on=_date(field["回收日期"]),
                source=source,
                category=category,
                units=_units(field.get("数量（台/件）")),
                weight_kg=services.parse_kg(field.get("重量（千克）")),
                price_fen=services.parse_yuan(field.get("收购金额（元）")),
                seller_org=_text(field.get("交售单位")),
                external_ref=ref,
                today=self.today,
            )
        except (ValidationError, PermissionDenied) as exc:
            message = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            return self._answer(padded, RowResult(number, ref, False, message)), False
        except uploads.BAD_VALUE:  # a value no check foresaw fails its row, not the upload
            return self._answer(padded, RowResult(number, ref, False, uploads.BAD_VALUE_MESSAGE)), False
        return self._answer(padded, RowResult(number, ref, True, IMPORTED if created else REPEATED)), created

    def written_before(self, number: int, cells: list[Any]) -> RowResult:
        """A row an earlier run of the same job wrote (its worker died after): answered as imported, not again."""
        padded, field = self._cells(cells)
        return self._answer(padded, RowResult(number, _text(field.get("业务单号")), True, IMPORTED))

    def finish(self) -> tuple[list[RowResult], bytes]:
        """Every row's result and the result workbook: the upload with a 结果 column."""
        if self.table.overflow is not None:
            self.results.append(
                RowResult(self.table.overflow, "", False, f"超过{MAX_ROWS}行，其余行未处理，请分文件上传")
            )
        workbook = build_workbook(title="导入结果", headers=[*self.table.header, "结果"], rows=self._out)
        return self.results, workbook


def import_records(*, actor: User, data: bytes, today: dt.date | None = None) -> tuple[list[RowResult], bytes]:
    """Save every row it can; return one result per row and the result workbook."""
    run = RecordImport(actor=actor, table=read_rows(data), today=today)
    for number, cells in run.table.body:
        run.row(number, cells)
    return run.finish()
