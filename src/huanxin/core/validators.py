"""Identifier validators. Resident ID and unified social credit code via python-stdnum; VIN check digit
(ISO 3779, mandatory in China under GB 16735) as one small tested function."""

from __future__ import annotations

from django.core.exceptions import ValidationError
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


def clean_resident_id(value: str) -> str:
    try:
        return str(ric.validate(value))
    except StdnumError as exc:
        raise ValidationError("居民身份证号码无效", code="resident_id_invalid") from exc


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
