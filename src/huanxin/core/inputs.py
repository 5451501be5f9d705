"""Typed values out of what people type: whole numbers, decimals, dates and text, each refused with a Chinese
message and a stable code when it is not what its column can hold — never rounded, never truncated, never a 500.

Why not `int(text)` / `Decimal(text)` / `date.fromisoformat(text)`: `"²".isdigit()` is true and `int("²")` fails;
`int("99999999999999999999")` works and then overflows the column; `Decimal("1e30").quantize(...)` raises;
`Decimal("0.001")` in a two-place column is stored as 0.00; `date(9999, 12, 31) + 1 day` overflows. The rules:

- digits are ASCII 0–9; the full-width digits, point and minus of Chinese input methods (１２．５) are read as
  their ASCII twins, any other digit (², ٣, ①) is refused;
- no exponent, no Infinity/NaN; a decimal has at most the column's places and digits;
- dates are ISO (2025-06-30) within the years the business runs (2000–2100 unless the caller says otherwise);
- text is stripped; text made only of spaces and invisible characters (zero-width space …) counts as empty;
  longer than the column is refused; control characters are refused.

`lookup_id`, `filter_date` and `filter_text` are the lenient twins for filters and links: a value that cannot be
right is treated as absent (no such row, no such filter) rather than refused.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Model

from huanxin.core.middleware import has_control_characters

BIGINT_MAX = 2**63 - 1
POSITIVE_INT_MAX = 2**31 - 1  # PositiveIntegerField / IntegerField on PostgreSQL
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)
PAGE_CAP = 10_000
# The largest sum of money one field takes: 1万亿元 in fen. Far above any real price, subsidy or investment, and
# far enough below the bigint top that totals over many rows cannot overflow.
MAX_FEN = 10**14
# A person's or an organisation's name kept encrypted (a TextField, no column limit): what a name can be.
PERSON_NAME_MAX = 100

# Full-width forms typed by Chinese input methods: ０–９ ．－＋ and the ideographic full stop sometimes used as a point.
_FULL_WIDTH = {0xFF10 + i: str(i) for i in range(10)} | {0xFF0E: ".", 0xFF0D: "-", 0xFF0B: "+"}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _refuse(message: str, code: str, field: str | None) -> ValidationError:
    error = ValidationError(message, code=code)
    return ValidationError({field: error}) if field else error


def _ascii_digits(text: object) -> str:
    return str(text if text is not None else "").strip().translate(_FULL_WIDTH)


# --- whole numbers ---------------------------------------------------------------------------------------------


def whole_number(
    text: object,
    *,
    label: str,
    minimum: int = 0,
    maximum: int = BIGINT_MAX,
    field: str | None = None,
    code: str = "invalid_number",
) -> int:
    """A whole number from minimum to maximum (defaults: 0 … the bigint column's top)."""
    if isinstance(text, bool):
        raise _refuse(f"{label}应为整数", code, field)
    if isinstance(text, int):
        value = text
    else:
        digits = _ascii_digits(text)
        if not digits:
            raise _refuse(f"请填写{label}", code, field)
        if _INTEGER.fullmatch(digits) is None:
            raise _refuse(f"{label}“{_shown(text)}”不是整数（请用数字0–9）", code, field)
        if len(digits) > 20:
            raise _refuse(f"{label}超出范围（{minimum}–{maximum}）", code, field)
        value = int(digits)
    if not minimum <= value <= maximum:
        raise _refuse(f"{label}超出范围（{minimum}–{maximum}）", code, field)
    return value


def optional_whole_number(text: object, **kwargs: object) -> int | None:
    """`whole_number`, or None when nothing was typed."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    return whole_number(text, **kwargs)  # type: ignore[arg-type]


def lenient_int(text: object) -> int:
    """A whole number as typed, or 0 when it is not one (an empty count, a missing choice): for a form whose
    service then names what is missing or out of range. Bounded to the bigint column either way."""
    try:
        return whole_number(text, label="数值", minimum=-BIGINT_MAX, maximum=BIGINT_MAX)
    except ValidationError:
        return 0


def lookup_id(text: object) -> int | None:
    """A primary key from a link or a select: None when it cannot be one (the caller then finds no row)."""
    digits = _ascii_digits(text)
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    value = int(digits)
    return value if 0 < value <= BIGINT_MAX else None


def page_number(text: object, *, cap: int = PAGE_CAP) -> int:
    """A page number from 1 to `cap`; anything else is page 1."""
    value = lookup_id(text)
    return min(value, cap) if value else 1


# --- decimals --------------------------------------------------------------------------------------------------


def decimal(
    text: object,
    *,
    label: str,
    max_digits: int,
    decimal_places: int,
    minimum: Decimal | int | None = 0,
    maximum: Decimal | int | None = None,
    field: str | None = None,
    code: str = "invalid_number",
) -> Decimal:
    """A decimal that fits a DecimalField(max_digits, decimal_places) exactly: more places than the column holds
    is refused (0.001 in a two-place column), never rounded; so are exponents, Infinity and NaN."""
    if isinstance(text, Decimal):
        value = text
        if not value.is_finite():
            raise _refuse(f"{label}不是有效的数字", code, field)
    else:
        shown = _ascii_digits(text).replace(",", "") if isinstance(text, str) else str(text)
        if not shown:
            raise _refuse(f"请填写{label}", code, field)
        if _DECIMAL.fullmatch(shown) is None or len(shown) > 40:
            raise _refuse(f"{label}“{_shown(text)}”不是数字", code, field)
        try:
            value = Decimal(shown)
        except InvalidOperation:
            raise _refuse(f"{label}“{_shown(text)}”不是数字", code, field) from None
    exponent = value.normalize().as_tuple().exponent if value else 0
    if isinstance(exponent, int) and -exponent > decimal_places:
        places_text = "一两三四五六七八九"[decimal_places - 1] if 0 < decimal_places < 10 else str(decimal_places)
        message = f"{label}最多保留{places_text}位小数" if decimal_places else f"{label}应为整数"
        raise _refuse(message, code, field)
    top = Decimal(10) ** (max_digits - decimal_places)
    if abs(value) >= top:
        raise _refuse(f"{label}过大（应小于{top:,}）", code, field)
    if minimum is not None and value < minimum:
        raise _refuse(f"{label}不能小于{minimum}", code, field)
    if maximum is not None and value > maximum:
        raise _refuse(f"{label}不能大于{maximum}", code, field)
    return value.quantize(Decimal(1).scaleb(-decimal_places))


def yuan_to_fen(
    text: object,
    *,
    label: str = "金额",
    maximum_fen: int = MAX_FEN,
    minimum_fen: int = 0,
    field: str | None = None,
    code: str = "invalid_amount",
) -> int:
    """Yuan as typed ("35.50", "1,200") to integer fen, exactly: to the fen, within the bounds."""
    value = decimal(text, label=label, max_digits=19, decimal_places=2, minimum=None, field=field, code=code)
    fen = int(value * 100)
    if not minimum_fen <= fen <= maximum_fen:
        raise _refuse(f"{label}超出范围（{minimum_fen / 100:,.2f}–{maximum_fen / 100:,.2f}元）", code, field)
    return fen


# --- dates -----------------------------------------------------------------------------------------------------


def business_date(
    text: object,
    *,
    label: str,
    earliest: dt.date = EARLIEST,
    latest: dt.date = LATEST,
    field: str | None = None,
    code: str = "invalid_date",
) -> dt.date:
    """An ISO date (2025-06-30) from `earliest` to `latest` (default 2000-01-01 … 2100-12-31)."""
    if isinstance(text, dt.datetime):
        text = text.date()
    if isinstance(text, dt.date):
        value = text
    else:
        shown = _ascii_digits(text)
        if not shown:
            raise _refuse(f"请填写{label}", code, field)
        try:
            if _ISO_DATE.fullmatch(shown) is None:
                raise ValueError(shown)
            value = dt.date.fromisoformat(shown)
        except ValueError:
            raise _refuse(f"{label}“{_shown(text)}”不是有效日期（格式如 2025-06-30）", code, field) from None
    if not earliest <= value <= latest:
        raise _refuse(f"{label}应在{earliest:%Y-%m-%d}至{latest:%Y-%m-%d}之间", code, field)
    return value


def optional_date(text: object, **kwargs: object) -> dt.date | None:
    """`business_date`, or None when nothing was typed."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    return business_date(text, **kwargs)  # type: ignore[arg-type]


def filter_date(text: object, *, earliest: dt.date = EARLIEST, latest: dt.date = LATEST) -> dt.date | None:
    """A date for a list's filter: None (no filter) when it is not a date in range."""
    try:
        return optional_date(text, label="日期", earliest=earliest, latest=latest)
    except ValidationError:
        return None


# --- text ------------------------------------------------------------------------------------------------------


def is_blank(text: str) -> bool:
    """Nothing visible: only spaces and invisible format characters (zero-width space, BOM, joiners …)."""
    return all(ch.isspace() or unicodedata.category(ch) in ("Cf", "Cc") for ch in text)


def clean_text(
    text: object,
    *,
    label: str,
    max_length: int,
    required: bool = False,
    field: str | None = None,
    code: str = "invalid_text",
) -> str:
    """Stripped text no longer than the column; "" when blank and not required."""
    value = str(text if text is not None else "").strip()
    if is_blank(value):
        if required:
            raise _refuse(f"请填写{label}（不能只含空格或不可见字符）", code, field)
        return ""
    if has_control_characters(value):
        raise _refuse(f"{label}含有不可见的控制字符，请删除后重新填写", "invalid_characters", field)
    if len(value) > max_length:
        raise _refuse(f"{label}过长（最多{max_length}个字，现为{len(value)}个）", code, field)
    return value


def filter_text(text: object, *, max_length: int = 100) -> str:
    """Search text for a list's filter: stripped and cut to `max_length` (a search needs no more)."""
    return str(text if text is not None else "").strip()[:max_length]


def max_length(model: type[Model], field: str) -> int:
    """The column's max_length, so a check reads its limit from the model instead of repeating it."""
    length = model._meta.get_field(field).max_length  # type: ignore[union-attr]
    assert length is not None, f"{model.__name__}.{field} has no max_length"
    return int(length)


def _shown(text: object) -> str:
    """The value as quoted back in a message: short, so a 5,000-character value does not fill the page."""
    value = str(text)
    return value if len(value) <= 20 else value[:20] + "…"
