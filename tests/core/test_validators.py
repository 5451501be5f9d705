import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from huanxin.core.validators import clean_resident_id, clean_uscc, clean_vin, vin_check_digit

# VINs with a correct ISO 3779 check digit, as published in NHTSA's VIN decoder examples and test suites.
VALID_VINS = ["1HGCM82633A004352", "1M8GDM9AXKP042788", "11111111111111111"]


@pytest.mark.parametrize("vin", VALID_VINS)
def test_valid_vins_pass(vin: str) -> None:
    assert clean_vin(vin) == vin


def test_vin_is_normalised_to_upper_case_without_spaces() -> None:
    assert clean_vin(" 1hgcm82633a004352 ") == "1HGCM82633A004352"


@pytest.mark.parametrize(
    ("vin", "code"),
    [
        ("1HGCM82643A004352", "vin_check_digit"),  # check digit changed
        ("1HGCM82633A00435", "vin_length"),
        ("1HGCM8263OA004352", "vin_characters"),  # letter O is not allowed
    ],
)
def test_invalid_vins_are_refused_with_a_code(vin: str, code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        clean_vin(vin)
    assert exc.value.code == code


vin_chars = st.sampled_from("0123456789ABCDEFGHJKLMNPRSTUVWXYZ")


@given(st.lists(vin_chars, min_size=17, max_size=17))
def test_any_vin_with_its_computed_check_digit_passes_and_any_other_fails(chars: list[str]) -> None:
    vin = "".join(chars)
    good = vin[:8] + vin_check_digit(vin) + vin[9:]
    assert clean_vin(good) == good
    bad_digit = next(d for d in "0123456789X" if d != good[8])
    with pytest.raises(ValidationError):
        clean_vin(good[:8] + bad_digit + good[9:])


def test_resident_id() -> None:
    base = "13070219900307123"  # 张家口桥东区, born 1990-03-07
    valid = base + ric.calc_check_digit(base + "?")  # stdnum's function takes the number with a placeholder
    assert clean_resident_id(valid) == valid
    wrong = base + ("0" if valid[-1] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        clean_resident_id(wrong)
    assert exc.value.code == "resident_id_checksum"
    with pytest.raises(ValidationError):
        clean_resident_id("130702199013071234")  # month 13
    # the whole rule is tested in test_resident_id.py


def test_unified_social_credit_code() -> None:
    base = "91130700MA0CXXXX0"  # registered in Zhangjiakou
    valid = base + uscc.calc_check_digit(base)
    assert clean_uscc(valid) == valid
    with pytest.raises(ValidationError) as exc:
        clean_uscc(base + ("0" if valid[-1] != "0" else "1"))
    assert exc.value.code == "uscc_invalid"
