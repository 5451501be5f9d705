"""The resident ID rule (`clean_resident_id`): GB 11643's check digit, a real birth date from 1900 to today, and a
county-level code of python-stdnum's table in any year — not, as `stdnum.cn.ric` demands, in the birth year.

Every test passes `today` (TODAY) or derives its dates from `shanghai_today()`, so none depends on when it runs."""

from __future__ import annotations

import datetime as dt
import importlib.resources
import random
import re
import sys
import unicodedata

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from huanxin.core import validators
from huanxin.core.validators import clean_resident_id, shanghai_today
from huanxin.demo import identities

TODAY = dt.date(2025, 6, 30)
CODES = {
    "resident_id_length",
    "resident_id_characters",
    "resident_id_checksum",
    "resident_id_birth_date",
    "resident_id_place",
}
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]  # GB 11643: 2^(17-i) mod 11


def check_digit(body: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 prints it (weights and the 1 0 X 9 8 7 6 5 4 3 2 table), written out here
    independently of stdnum's `calc_check_digit`."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11]


def number(place: str, born: dt.date | str, serial: int = 123) -> str:
    date = born if isinstance(born, str) else f"{born:%Y%m%d}"
    body = f"{place}{date}{serial:03d}"
    return body + check_digit(body)


def refusal(value: str, today: dt.date | None = TODAY) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        clean_resident_id(value, today=today)
    assert exc.value.code in CODES
    assert exc.value.messages[0].startswith("居民身份证号码无效：")
    return exc.value


def _table() -> dict[str, list[tuple[int | None, int | None]]]:
    """stdnum/cn/loc.dat read as text (not through stdnum.numdb, as the validator reads it): code → the year
    ranges of its names (None, None for a name without years)."""
    text = (importlib.resources.files("stdnum") / "cn" / "loc.dat").read_text("utf-8")
    rows: dict[str, list[tuple[int | None, int | None]]] = {}
    province = ""
    for line in text.splitlines():
        if m := re.match(r"^(\d\d) ", line):
            province = m.group(1)
        elif m := re.match(r'^  (\d{4}) county="([^"]*)"', line):
            spans = []
            for name in m.group(2).split(","):
                years = re.match(r"^\[(\d*)-(\d*)\]", name)
                start, end = (years[1], years[2]) if years else ("", "")
                spans.append((int(start) if start else None, int(end) if end else None))
            rows[province + m.group(1)] = spans
    return rows


TABLE = _table()
# County level: not a province (xx0000), not a prefecture with counties under it (130700 张家口市).
COUNTY_CODES = sorted(
    code
    for code in TABLE
    if not code.endswith("0000") and not (code.endswith("00") and any(o != code and o[:4] == code[:4] for o in TABLE))
)


def first_year(code: str) -> int | None:
    starts = [start for start, _ in TABLE[code]]
    return None if None in starts else min(s for s in starts if s is not None)


# --- the numbers of the issue ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "place", "born"),
    [
        ("130724198503120413", "130724", 1985),  # 沽源县: this code since 1993 (before, 张家口地区's 132523)
        ("130705197507081526", "130705", 1975),  # 宣化区: this code since 1983 (宣化县 130721 joined it in 2016)
    ],
)
def test_the_issues_numbers_are_accepted_though_stdnum_refuses_them(value: str, place: str, born: int) -> None:
    assert check_digit(value[:17]) == value[17]  # both are valid GB 11643 numbers
    assert (first_year(place) or 0) > born  # born before the county had this code
    assert not ric.is_valid(value)  # stdnum wants the code in the birth year
    assert clean_resident_id(value, today=TODAY) == value
    assert clean_resident_id(value) == value  # and under the real today


@pytest.mark.parametrize(
    ("place", "born"),
    [
        ("130724", dt.date(1952, 2, 29)),  # 沽源县 [1993-]
        ("130722", dt.date(1968, 10, 1)),  # 张北县 [1993-]
        ("130702", dt.date(1960, 1, 1)),  # 桥东区 [1983-]
        ("130708", dt.date(1979, 12, 31)),  # 万全区 [2016-] (万全县 130729 until 2016)
        ("130709", dt.date(1990, 6, 1)),  # 崇礼区 [2016-]
        ("110112", dt.date(1950, 5, 4)),  # 北京 通州区 [1997-]
        ("441900", dt.date(1970, 3, 3)),  # 东莞市 [1988-]: a city without counties, its own code is county level
        ("460400", dt.date(1981, 7, 7)),  # 儋州市 [2015-]
        ("132523", dt.date(1985, 3, 12)),  # 张家口地区 沽源县 [-1993]: a code no longer in use is still accepted
        ("130721", dt.date(1975, 7, 8)),  # 宣化县 [1983-2016]
    ],
)
def test_people_born_before_their_county_had_its_code_are_accepted(place: str, born: dt.date) -> None:
    value = number(place, born)
    assert clean_resident_id(value, today=TODAY) == value


def test_every_county_code_is_accepted_for_someone_born_before_it_existed() -> None:
    """Every county-level code that came into use after 1900, for someone born on 1900-01-01: all refused by
    stdnum, all accepted here."""
    later = [code for code in COUNTY_CODES if first_year(code)]
    assert len(later) > 1000
    for code in later:
        value = number(code, dt.date(1900, 1, 1))
        assert not ric.is_valid(value), code
        assert clean_resident_id(value, today=TODAY) == value, code


# --- birth date --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "says"),
    [
        ("20990312", "2099年03月12日晚于今天"),
        ("21010101", "2101年01月01日晚于今天"),
        (f"{TODAY + dt.timedelta(days=1):%Y%m%d}", "晚于今天"),  # tomorrow
        ("18991231", "早于1900年"),
        ("18500101", "早于1900年"),
        ("00010101", "早于1900年"),
        ("19900230", "1990年02月30日不存在"),
        ("19901301", "1990年13月01日不存在"),
        ("19900001", "不存在"),
        ("00000101", "不存在"),  # year 0
        ("20230229", "2023年02月29日不存在"),
    ],
)
def test_a_birth_date_that_is_not_real_or_not_past_is_refused(born: str, says: str) -> None:
    error = refusal(number("130724", born))
    assert error.code == "resident_id_birth_date"
    assert "出生日期" in error.messages[0] and says in error.messages[0]


def test_the_bounds_of_the_birth_date_are_accepted() -> None:
    for born in (TODAY, dt.date(1900, 1, 1), dt.date(2024, 2, 29)):
        assert clean_resident_id(number("130724", born), today=TODAY)


def test_today_is_shanghais_by_default() -> None:
    today = shanghai_today()
    assert clean_resident_id(number("130724", today - dt.timedelta(days=1)))
    # two days ahead: still in the future if the date turns between the two calls
    assert refusal(number("130724", today + dt.timedelta(days=2)), today=None).code == "resident_id_birth_date"


@pytest.mark.parametrize(
    ("now", "today"),
    [
        (dt.datetime(2025, 6, 30, 15, 59, tzinfo=dt.UTC), dt.date(2025, 6, 30)),  # 23:59 in Shanghai
        (dt.datetime(2025, 6, 30, 16, 0, tzinfo=dt.UTC), dt.date(2025, 7, 1)),  # 00:00 in Shanghai
        (dt.datetime(2025, 7, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=9))), dt.date(2025, 6, 30)),  # Tokyo
    ],
)
def test_shanghai_today_is_the_date_in_china(now: dt.datetime, today: dt.date) -> None:
    assert shanghai_today(now) == today


# --- check digit, length, characters, place ---------------------------------------------------------------------


def test_every_wrong_check_digit_is_refused() -> None:
    value = "130724198503120413"
    for digit in "0124567891X":
        if digit != value[-1]:
            error = refusal(value[:-1] + digit)
            assert error.code == "resident_id_checksum" and "校验码" in error.messages[0]


@given(st.sampled_from(COUNTY_CODES), st.integers(0, 16), st.integers(1, 9))
def test_any_one_digit_typo_is_caught_by_the_check_digit(place: str, position: int, shift: int) -> None:
    value = number(place, dt.date(1985, 3, 12))
    typo = value[:position] + str((int(value[position]) + shift) % 10) + value[position + 1 :]
    assert refusal(typo).code == "resident_id_checksum"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("13072419850312041", "应为18位，现为17位"),
        ("1307241985031204133", "应为18位，现为19位"),
        ("", "未填写"),
        ("   ", "未填写"),
        ("130724850312041", "15位的旧号码"),  # first-generation number: the 18-digit one is asked for
    ],
)
def test_a_wrong_length_is_refused(value: str, says: str) -> None:
    error = refusal(value)
    assert error.code == "resident_id_length" and says in error.messages[0]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("１３０７２４１９８５０３１２０４１３", "全角"),  # full-width digits, as some input methods type them
        ("130724１98503120413", "全角字符“１”"),
        ("13072419850312041３", "全角"),
        ("13072420000101002Ｘ", "全角"),  # a full-width X
        ("١٣٠٧٢٤١٩٨٥٠٣١٢٠٤١٣", "U+0661"),  # Arabic-Indic digits
        ("130724198503120４13", "全角"),
        ("1307241985031204\x0013", "控制字符（U+0000）"),  # NUL
        ("130724198503120413\x1f", "控制字符（U+001F）"),
        ("130724\u200b198503120413", "U+200B"),  # a zero-width space from a web page
        ("130724-19850312-0413", "不能含“-”"),
        ("1307X4198503120413", "X只能是第18位"),
        ("13072419850312041A", "不能含“A”"),
        ("I30724198503120413", "不能含“I”"),
    ],
)
def test_characters_other_than_ascii_digits_are_refused(value: str, says: str) -> None:
    error = refusal(value)
    assert error.code == "resident_id_characters" and says in error.messages[0], error.messages


@pytest.mark.parametrize(
    ("place", "says"),
    [
        ("990101", "990101不是有效的地址码"),  # never in the table
        ("130799", "不是有效的地址码"),
        ("110000", "北京市（省级）"),  # a province
        ("130700", "张家口市（地级）"),  # a prefecture with counties under it
        ("000000", "不是有效的地址码"),
    ],
)
def test_a_place_code_that_is_not_a_county_in_the_table_is_refused(place: str, says: str) -> None:
    assert place not in COUNTY_CODES
    error = refusal(number(place, dt.date(1985, 3, 12)))
    assert error.code == "resident_id_place" and says in error.messages[0]


def test_spaces_and_a_lower_case_x_are_normalised() -> None:
    value = next(v for s in range(1000) if (v := number("130724", dt.date(1985, 3, 12), s)).endswith("X"))
    for typed in (
        f" {value[:6]} {value[6:14]} {value[14:]} ",
        value.lower(),
        f"{value[:6]}\u3000{value[6:]}",  # the full-width space of a Chinese input method
        f"{value}\r\n",
        f"\t{value}\u00a0",
    ):
        assert clean_resident_id(typed, today=TODAY) == value


def test_the_separators_are_the_unicode_spaces_and_tab_and_line_breaks() -> None:
    spaces = {chr(i) for i in range(sys.maxunicode + 1) if unicodedata.category(chr(i)) in ("Zs", "Zl", "Zp")}
    assert set(validators.SEPARATORS) == spaces | {"\t", "\n", "\r"}


# --- the rule as a whole -----------------------------------------------------------------------------------------


def test_the_validators_table_is_the_county_level_codes_of_loc_dat() -> None:
    assert validators._place_table().counties == frozenset(COUNTY_CODES)
    assert {"130724", "130705", "130721", "132523", "441900", "442000", "620200"} <= set(COUNTY_CODES)


@given(
    st.sampled_from(COUNTY_CODES),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)
def test_any_table_code_past_date_and_right_check_digit_is_accepted(place: str, born: dt.date, serial: int) -> None:
    value = number(place, born, serial)
    assert clean_resident_id(value, today=TODAY) == value
    assert clean_resident_id(f" {value.lower()} ", today=TODAY) == value


@given(st.text(max_size=24) | st.text(alphabet="0123456789Xx １\u3000\x00-", max_size=24))
def test_anything_is_either_a_clean_number_or_refused_with_a_code(value: str) -> None:
    try:
        clean = clean_resident_id(value, today=TODAY)
    except ValidationError as exc:
        assert exc.code in CODES
    else:
        assert re.fullmatch(r"[0-9]{17}[0-9X]", clean) and check_digit(clean[:17]) == clean[17]


def test_on_random_numbers_the_rule_is_stdnums_without_the_birth_year_condition() -> None:
    """3,000 random numbers (right and wrong check digits, dates 1890–2110, current, former, city, province and
    unknown codes): accepted exactly when the check digit is right, the date from 1900 to today and the code a
    county-level one; among them, numbers stdnum refuses for their birth year."""
    rng = random.Random(5)
    places = ["130722", "130702", "130724", "130705", "132523", "110101", "441900", "999999", "130700", "110000"]
    accepted_here_not_by_stdnum = 0
    for _ in range(3000):
        born = dt.date(1890, 1, 1) + dt.timedelta(days=rng.randrange(365 * 220))
        body = f"{rng.choice(places)}{born:%Y%m%d}{rng.randrange(1000):03d}"
        value = body + (check_digit(body) if rng.random() < 0.8 else str(rng.randrange(10)))
        expected = check_digit(body) == value[-1] and dt.date(1900, 1, 1) <= born <= TODAY and body[:6] in COUNTY_CODES
        try:
            got = clean_resident_id(value, today=TODAY) == value
        except ValidationError:
            got = False
        assert got == expected, value
        accepted_here_not_by_stdnum += got and not ric.is_valid(value)
    assert accepted_here_not_by_stdnum > 100


# --- the demo's people -------------------------------------------------------------------------------------------


def test_the_demo_draws_valid_numbers_many_of_people_born_before_their_code() -> None:
    rng = random.Random(11)
    drawn = [identities.resident_id(rng) for _ in range(2000)]
    assert all(clean_resident_id(value, today=TODAY) == value for value in drawn)
    older = [v for v in drawn if int(v[6:10]) < (first_year(v[:6]) or 0)]
    assert len(older) > len(drawn) / 2  # most: as among the city's residents
    assert min(int(v[6:10]) for v in drawn) < 1960
