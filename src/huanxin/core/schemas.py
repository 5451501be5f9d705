"""What the API accepts and what its errors look like, shared by every app's `api.py`.

Every input field is bounded by its column: text is stripped, refused when it holds control characters or (where
a value is required) nothing visible, and limited with `Field(max_length=…)` at the use site; whole numbers,
decimals, dates and times have the ranges their columns can hold. A value out of bounds is a 422 with the field's
error, never a 500 from the database or a silent rounding.

Errors: `ErrorOut` ({"code", "message"}) for every refusal, `InvalidOut` (plus `errors`) for 422s, and `answers()`
to declare them on an operation, so the OpenAPI document lists the statuses an operation really gives.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Annotated, Any

from ninja import Field, Schema
from ninja.pagination import PageNumberPagination
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints
from pydantic_core import PydanticCustomError

from huanxin.core import inputs

# The same bounds as the pages' parsing (core/inputs.py): one definition of what a column can hold.
BIGINT_MAX = inputs.BIGINT_MAX
INT_MAX = inputs.POSITIVE_INT_MAX  # PositiveIntegerField
SMALLINT_MAX = 2**15 - 1  # PositiveSmallIntegerField
MAX_FEN = inputs.MAX_FEN
FIRST_DAY = inputs.EARLIEST
LAST_DAY = inputs.LATEST
# Vehicles scrapped today were first registered long before 2000.
FIRST_REGISTRATION_DAY = dt.date(1950, 1, 1)
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100

_LINE_BREAKS = frozenset("\t\n\r")


def _characters(value: str, *, multiline: bool) -> str:
    for ch in value:
        category = unicodedata.category(ch)
        # Cc: NUL and the other control characters; Cs: lone surrogates, which no database can store as UTF-8.
        if category == "Cs" or (category == "Cc" and not (multiline and ch in _LINE_BREAKS)):
            raise PydanticCustomError("control_characters", "不能含有控制字符")
    return value


def _single_line(value: str) -> str:
    return _characters(value, multiline=False)


def _multiline(value: str) -> str:
    return _characters(value, multiline=True)


def _strip(value: str) -> str:
    """Spaces and the invisible format characters (zero-width space, BOM) taken off both ends, so a value made only
    of them is empty and the service's own "required" check refuses it."""
    start, end = 0, len(value)
    while start < end and _invisible(value[start]):
        start += 1
    while end > start and _invisible(value[end - 1]):
        end -= 1
    return value[start:end]


def _invisible(ch: str) -> bool:
    return ch.isspace() or unicodedata.category(ch) == "Cf"


_STRIP = BeforeValidator(lambda v: _strip(v) if isinstance(v, str) else v)

# Text of one line (a name, a code, a filter), stripped; bound it with Field(max_length=…) from its column.
Line = Annotated[str, _STRIP, AfterValidator(_single_line)]
# The same where the column needs a value: empty, or only spaces and zero-width characters (stripped), is refused.
RequiredLine = Annotated[str, StringConstraints(min_length=1), _STRIP, AfterValidator(_single_line)]
# Text that may run over several lines (a summary, a note).
Text = Annotated[str, _STRIP, AfterValidator(_multiline)]
RequiredText = Annotated[str, StringConstraints(min_length=1), _STRIP, AfterValidator(_multiline)]

# An identifier in a path or a filter (a plan's code, an application's number, a status), and a search's words.
Key = Annotated[str, StringConstraints(max_length=64), _STRIP, AfterValidator(_single_line)]
Search = Annotated[str, StringConstraints(max_length=100), _STRIP, AfterValidator(_single_line)]

# Whole numbers, as their columns hold them. Whether a signed amount may be negative is the service's rule, refused
# there with its own code (negative_price, invalid_investment).
Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Fen = Annotated[int, Field(ge=-MAX_FEN, le=MAX_FEN)]
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
SmallCount = Annotated[int, Field(ge=0, le=SMALLINT_MAX)]

# Decimal(12, 2) columns: kilograms, tonnes of standard coal. 0.001 is refused (not rounded), as are 1e30,
# Infinity and NaN; the sign, again, is the service's rule.
Amount2 = Annotated[Decimal, Field(max_digits=12, decimal_places=2, allow_inf_nan=False)]

Day = Annotated[dt.date, Field(ge=FIRST_DAY, le=LAST_DAY)]
RegistrationDay = Annotated[dt.date, Field(ge=FIRST_REGISTRATION_DAY, le=LAST_DAY)]


def _within_days(value: dt.datetime) -> dt.datetime:
    if not FIRST_DAY <= value.date() <= LAST_DAY:
        raise PydanticCustomError("datetime_out_of_range", "时间应在 2000 年至 2100 年之间")
    return value


# A moment: with its offset (2025-06-01T09:00:00+08:00); a time without one is refused (`timezone_aware`).
Moment = Annotated[AwareDatetime, AfterValidator(_within_days)]


class Pages(PageNumberPagination):
    """Page-number pagination whose page and page size are bounded, so no offset overflows the database."""

    class Input(Schema):
        page: int = Field(1, ge=1, le=MAX_PAGE, description="页码，从 1 开始")
        page_size: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE, description="每页条数")


# --- errors -------------------------------------------------------------------------------------------------


class ErrorOut(Schema):
    code: str = Field(description="稳定的错误代码，如 not_found、permission_denied")
    message: str = Field(description="中文说明")


class FieldErrorOut(Schema):
    loc: list[str | int] = Field(description='出错的位置，如 ["body", "payload", "items", 0, "price_fen"]')
    type: str = Field(description="稳定的错误类型，如 string_too_long、timezone_aware")
    msg: str = Field(description="中文说明（不回显所填的值）")


class InvalidOut(ErrorOut):
    errors: list[FieldErrorOut]


ERROR_STATUSES = {
    400: "请求无法解析：含控制字符，或请求体不是 JSON",
    401: "未登录，或 API 令牌无效",
    403: "无权执行此操作",
    404: "未找到，或无权查看",
    409: "与已有请求冲突",
    422: "参数有误",
    429: "请求过于频繁",
    503: "系统繁忙，请稍后重试",
}


def answers(ok: Any, *errors: int) -> dict[int, Any]:
    """An operation's `response=`: its success (a schema, or {status: schema}) and the error statuses it gives.
    Every operation may answer 400 (a control character anywhere in a request is refused before it reaches the
    API, core/middleware.py) and 429 (the API's rate per caller, core/throttle.py)."""
    out: dict[int, Any] = dict(ok) if isinstance(ok, dict) else {200: ok}
    for status in sorted({400, 429, *errors}):
        if status not in ERROR_STATUSES:
            raise ValueError(f"no error answer is defined for {status}")
        out[status] = InvalidOut if status == 422 else ErrorOut
    return out


# The Chinese for pydantic's error types; {…} comes from the error's context. The value given is never repeated.
_MESSAGES = {
    "missing": "必填",
    "string_type": "应为文本",
    "string_too_short": "不能为空",
    "string_too_long": "不能超过 {max_length} 个字符",
    "string_pattern_mismatch": "格式不正确",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "int_from_float": "应为整数",
    "int_parsing_size": "数值过大",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "decimal_type": "应为数字",
    "decimal_parsing": "应为数字",
    "finite_number": "应为有限的数",
    "decimal_max_digits": "最多 {max_digits} 位数字",
    "decimal_max_places": "最多 {decimal_places} 位小数",
    "decimal_whole_digits": "整数部分位数过多",
    "greater_than": "应大于 {gt}",
    "greater_than_equal": "不能小于 {ge}",
    "less_than": "应小于 {lt}",
    "less_than_equal": "不能大于 {le}",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "date_type": "应为日期，如 2025-06-01",
    "date_parsing": "应为日期，如 2025-06-01",
    "date_from_datetime_parsing": "应为日期，如 2025-06-01",
    "date_from_datetime_inexact": "应为日期，如 2025-06-01",
    "datetime_type": "应为时间，如 2025-06-01T09:00:00+08:00",
    "datetime_parsing": "应为时间，如 2025-06-01T09:00:00+08:00",
    "datetime_from_date_parsing": "应为时间，如 2025-06-01T09:00:00+08:00",
    "datetime_object_invalid": "应为时间，如 2025-06-01T09:00:00+08:00",
    "timezone_aware": "须带时区，如 2025-06-01T09:00:00+08:00",
    "literal_error": "应为以下之一：{expected}",
    "enum": "应为以下之一：{expected}",
    "list_type": "应为列表",
    "too_short": "至少 {min_length} 项",
    "too_long": "最多 {max_length} 项",  # a list
    "dict_type": "应为对象",
    "model_type": "应为对象",
    "model_attributes_type": "应为对象",
    "json_invalid": "JSON 格式有误",
    "extra_forbidden": "不支持此字段",
}


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ninja's validation errors as {loc, type, msg}, the message in Chinese and without the value given."""
    out = []
    for error in errors:
        kind = str(error.get("type", "value_error"))
        template = _MESSAGES.get(kind)
        if template is None:
            # our own PydanticCustomError messages are Chinese already; anything else gets a plain one
            template = str(error.get("msg", "")) if kind in _CUSTOM else "取值有误"
        try:
            message = template.format(**(error.get("ctx") or {}))
        except (KeyError, IndexError, ValueError):
            message = template
        out.append(
            {"loc": [p if isinstance(p, int) else str(p) for p in error.get("loc", ())], "type": kind, "msg": message}
        )
    return out


_CUSTOM = frozenset({"control_characters", "datetime_out_of_range"})
