"""Enterprise register from Excel: one row per enterprise, each saved on its own (`register_enterprise`, one
transaction each). A bad row comes back with its reason; good rows are kept; an enterprise already registered is
updated, so importing the same file twice changes nothing — and a background job run again after its worker died
(`projects/jobs.py`) writes nothing twice."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from huanxin.core import uploads
from huanxin.core.exports import build_workbook
from huanxin.core.models import Region, User
from huanxin.projects import reference, services
from huanxin.projects.models import Recognition

HEADERS = ["统一社会信用代码", "企业名称", "县区", "领域", "行业", "规模以上", "专精特新级别", "认定年度"]
REQUIRED = ["统一社会信用代码", "企业名称", "县区", "领域"]
MAX_ROWS = 20_000
LEVELS = {str(label): value for value, label in Recognition.Level.choices} | {
    "国家级": "national",
    "省级": "provincial",
    "市级": "municipal",
}


@dataclass
class RowResult:
    row: int
    uscc: str
    ok: bool
    message: str


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def template() -> bytes:
    rows = [
        ["91130705MA0CXXXX0X", "张家口某某机械制造有限公司", "宣化区", "工业", "C34 通用设备制造业", "是", "省级", 2024]
    ]
    return build_workbook(title="企业名录", headers=HEADERS, rows=rows)


def import_enterprises(
    *, actor: User, data: bytes, progress: Callable[[int, int], None] | None = None
) -> tuple[list[RowResult], bytes]:
    """Save every row it can; one result per row and the result workbook. `progress(done, total)` after each row
    (the background job's bar, `projects/jobs.py`)."""
    table = uploads.read_xlsx(data, max_rows=MAX_ROWS)
    header = table.header
    if missing := [h for h in REQUIRED if h not in header]:
        raise ValidationError(f"表头缺少：{'、'.join(missing)}（请使用本系统下载的模板）", code="bad_header")
    col = {name: header.index(name) for name in HEADERS if name in header}
    regions = {r.name: r for r in Region.objects.filter(parent__isnull=False)}
    regions |= {r.short_name: r for r in regions.values() if r.short_name}
    fields = {f.name: f.code for f in reference.fields().values()} | {code: code for code in reference.fields()}
    results: list[RowResult] = []
    out: list[list[Any]] = []
    for done, (number, cells) in enumerate(table.body, start=1):
        padded = cells + [None] * len(header)
        get = {name: padded[index] for name, index in col.items()}
        uscc = _text(get.get("统一社会信用代码")).upper()
        try:
            if problem := table.problems.get(number):
                raise ValidationError(problem, code="bad_cell")
            level = _text(get.get("专精特新级别"))
            if level and level not in LEVELS:
                raise ValidationError(f"专精特新级别“{level}”无法识别（国家级、省级、市级）", code="invalid_level")
            with transaction.atomic():  # the enterprise and its recognition land together, or neither
                _, created = _row(actor, get, regions, fields, level)
        except (ValidationError, PermissionDenied) as exc:
            message = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            results.append(RowResult(number, uscc, False, message))
        except uploads.BAD_VALUE:  # a value no check foresaw fails its row, not the upload
            results.append(RowResult(number, uscc, False, uploads.BAD_VALUE_MESSAGE))
        else:
            results.append(RowResult(number, uscc, True, "已新增" if created else "已更新（或无变化）"))
        out.append([*(padded[i] for i in range(len(header))), results[-1].message])
        if progress is not None:
            progress(done, len(table.body))
    if table.overflow is not None:
        results.append(RowResult(table.overflow, "", False, f"超过{MAX_ROWS}行，其余行未处理"))
    return results, build_workbook(title="导入结果", headers=[*header, "结果"], rows=out)


def _row(
    actor: User, get: dict[str, Any], regions: dict[str, Region], fields: dict[str, str], level: str
) -> tuple[Any, bool]:
    enterprise, created = services.register_enterprise(
        actor=actor,
        uscc=_text(get.get("统一社会信用代码")),
        name=_text(get.get("企业名称")),
        region=regions.get(_text(get.get("县区"))),
        field=fields.get(_text(get.get("领域")), _text(get.get("领域"))),
        industry=_text(get.get("行业")),
        above_designated_size=_text(get.get("规模以上")) in ("是", "Y", "y", "1", "TRUE", "True"),
    )
    if level:
        year_text = _text(get.get("认定年度"))
        if not re.fullmatch(r"[0-9]{4}", year_text):  # not isdigit(): "²" passes it and int() refuses
            raise ValidationError("填写了专精特新级别时，请填写四位数字的认定年度", code="invalid_year")
        services.add_recognition(actor=actor, enterprise=enterprise, level=LEVELS[level], year=int(year_text))
    return enterprise, created
