"""Identifier validators. Resident ID (check digit and place-code table from python-stdnum, the rule ours: see
`clean_resident_id`) and unified social credit code via python-stdnum; VIN check digit (ISO 3779, mandatory in
China under GB 16735) as one small tested function."""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from stdnum import numdb
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin: str) -> str:
    total = sum(_VIN_VALUES[ch] * weight for ch, weight in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def clean_vin(value: str) -> str:
    vin = "".join(value.split()).upper()
    if len(vin) != 17:
        raise ValidationError("车辆识别代号（VIN）应为17位", code="vin_length")
    if any(ch not in _VIN_VALUES for ch in vin):
        raise ValidationError("车辆识别代号（VIN）只能含数字和字母（不含 I、O、Q）", code="vin_characters")
    if vin[8] != vin_check_digit(vin):
        raise ValidationError("车辆识别代号（VIN）校验位不正确", code="vin_check_digit")
    return vin


# --- resident ID (居民身份证号码, GB 11643) -----------------------------------------------------------------

_SHANGHAI = ZoneInfo("Asia/Shanghai")
_EARLIEST_BIRTH = dt.date(1900, 1, 1)
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")  # [0-9], not \d: \d also matches full-width and other digits
# What is taken out before the number is read: the Unicode spaces and line/paragraph separators (Zs, Zl, Zp: the
# full-width 　 of Chinese input methods, no-break spaces from web pages) and the tab and line breaks of a pasted
# spreadsheet cell. Any other control or invisible character is refused, not dropped.
SEPARATORS = " \t\n\r\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"
_SEPARATORS = dict.fromkeys(map(ord, SEPARATORS))
_INVALID = "居民身份证号码无效："


def _refuse(what: str, code: str) -> ValidationError:
    return ValidationError(_INVALID + what, code=code)


@dataclass(frozen=True)
class _PlaceTable:
    counties: frozenset[str]  # every county-level code of any year
    others: dict[str, str]  # province and prefecture codes → "北京市（省级）", for the message that refuses them


def _last_name(names: str) -> str:
    """`[1983-2019]桥东区,[2020-]襄都区` → 襄都区: the latest of the names a code has had."""
    return names.split(",")[-1].rsplit("]", 1)[-1]


@functools.cache
def _place_table() -> _PlaceTable:
    """The county-level codes of python-stdnum's table of administrative divisions (`stdnum/cn/loc.dat`, read through
    `stdnum.numdb`, the data behind `ric.get_birth_place`), over all the years it covers. The table has a row per
    six-digit code, `county="[1993-]沽源县"` (a year range when the code was not always in use). County level is
    every row but a province's (`xx0000`) and a prefecture's (`xxxx00` with counties under it); a `xxxx00` code
    with no county under it is a city without counties (东莞市 441900, 中山市 442000, 嘉峪关市 620200) and is what
    its residents' numbers carry. The `市辖区` rows (`130701`) count: some older numbers carry them."""
    rows: dict[str, str] = {}
    for _, province, _, _, children in numdb.get("cn/loc").prefixes:
        for _, rest, _, props, _ in children:
            if "county" in props:
                rows[province + rest] = props["county"]
    with_counties = {code[:4] for code in rows if not code.endswith("00")}
    counties, others = set(), {}
    for code, names in rows.items():
        if code.endswith("0000"):
            others[code] = f"{_last_name(names)}（省级）"
        elif code.endswith("00") and code[:4] in with_counties:
            others[code] = f"{_last_name(names)}（地级）"
        else:
            counties.add(code)
    return _PlaceTable(frozenset(counties), others)


def shanghai_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in China (Asia/Shanghai), whatever the server's time zone: of `now` (aware) when given."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(_SHANGHAI).date()


def _compact(value: str) -> str:
    number = value.replace(" ", "")
    if not (number.isascii() and number.isalnum()):  # the translation costs 2 µs; most numbers need none
        number = number.translate(_SEPARATORS)
    return number[:-1] + "X" if number.endswith("x") else number


def _shape_error(number: str) -> ValidationError:
    """Why a number without its spaces is not 17 ASCII digits and a digit or X: characters first (a full-width
    digit or a dash is what to fix, whatever the count), then the length."""
    for i, ch in enumerate(number):
        if "0" <= ch <= "9" or (ch in "Xx" and i == len(number) - 1):
            continue
        if ch in "Xx":
            return _refuse("字母X只能是第18位（校验码），前17位都是数字", "resident_id_characters")
        category, point = unicodedata.category(ch), f"U+{ord(ch):04X}"
        if category.startswith("C"):  # Cc control (NUL …), Cf invisible format characters, unassigned, surrogates
            return _refuse(f"含不可见的控制字符（{point}），请删除后重新输入", "resident_id_characters")
        if unicodedata.decomposition(ch).startswith("<wide>"):
            return _refuse(f"含全角字符“{ch}”，请用半角数字0–9（末位可以是X）", "resident_id_characters")
        if ch.isdigit():
            return _refuse(f"含非半角阿拉伯数字的数字“{ch}”（{point}），请用半角数字0–9", "resident_id_characters")
        return _refuse(f"不能含“{ch}”，只能是18位半角数字（末位可以是X）", "resident_id_characters")
    if not number:
        return _refuse("未填写", "resident_id_length")
    if len(number) == 15:
        return _refuse(
            "这是15位的旧号码（第一代身份证，2013年起停止使用），请填写现行身份证上的18位号码", "resident_id_length"
        )
    return _refuse(f"应为18位，现为{len(number)}位", "resident_id_length")


def clean_resident_id(value: str, *, today: dt.date | None = None) -> str:
    """The 18-character number (spaces removed, a final x as X), or a ValidationError saying what is wrong, in
    Chinese, with a code: `resident_id_characters`, `resident_id_length`, `resident_id_checksum`,
    `resident_id_birth_date`, `resident_id_place`. `today` (default: today in Asia/Shanghai) bounds the birth date.

    The rule: 17 ASCII digits and a check digit (0–9 or X) that is right under ISO 7064 MOD 11-2
    (`ric.calc_check_digit`); digits 7–14 a real date from 1900-01-01 to today; digits 1–6 a county-level code of
    python-stdnum's table in any year it covers. 15-digit numbers (first-generation cards, invalid since 2013) are
    refused with a message asking for the 18-digit number: converting one would guess the number, and a guess that
    is not the person's number would defeat the per-person limits keyed on it.

    Why not `ric.validate`: its place check (`ric.get_birth_place`) demands that the code existed in the birth year.
    A number carries the code of the county that issued it, when it issued it — years or decades after the birth,
    and a number is kept when the county later changes its code. stdnum's table has 沽源县 130724 only from 1993
    (before, 张家口地区's 132523) and 宣化区 130705 from 1983, so it refuses 130724198503120413 (born 1985) and
    130705197507081526 (born 1975), real numbers of older residents of this city. And it accepts any date, so a
    birth in 2099 passes. This keeps stdnum's check digit and its table, and asks of the place only that the code
    is a county-level code of the table at some time."""
    number = _compact(value)
    if _RESIDENT_ID.fullmatch(number) is None:
        raise _shape_error(number)
    if number[-1] != ric.calc_check_digit(number):
        raise _refuse("校验码（第18位）与前17位不符，请逐位核对", "resident_id_checksum")
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise _refuse(
            f"出生日期（第7–14位）{number[6:10]}年{number[10:12]}月{number[12:14]}日不存在", "resident_id_birth_date"
        ) from None
    if born < _EARLIEST_BIRTH:
        raise _refuse(f"出生日期（第7–14位）{born:%Y年%m月%d日}早于1900年", "resident_id_birth_date")
    today = today or shanghai_today()
    if born > today:
        raise _refuse(f"出生日期（第7–14位）{born:%Y年%m月%d日}晚于今天", "resident_id_birth_date")
    table = _place_table()
    if number[:6] not in table.counties:
        place = number[:6]
        if place in table.others:
            raise _refuse(f"前6位{place}是{table.others[place]}的代码，应为县级行政区划代码", "resident_id_place")
        raise _refuse(f"前6位{place}不是有效的地址码（县级行政区划代码）", "resident_id_place")
    return number


def clean_uscc(value: str) -> str:
    try:
        return str(uscc.validate(value))
    except StdnumError as exc:
        raise ValidationError("统一社会信用代码无效", code="uscc_invalid") from exc


def validate_vin(value: str) -> None:
    clean_vin(value)


def validate_resident_id(value: str) -> None:
    clean_resident_id(value)


def validate_uscc(value: str) -> None:
    clean_uscc(value)
