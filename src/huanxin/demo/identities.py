"""Made-up but well-formed identifiers for the demo and the tests: resident IDs with a correct check digit
(python-stdnum computes it), VINs with a correct ISO 3779 check digit, plates and names. None is a real person's."""

from __future__ import annotations

import datetime as dt
import random

from stdnum.cn import ric

from huanxin.core.validators import vin_check_digit

FAMILY = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红海燕鹏飞"
VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
# The city's districts (these codes since 1983) and counties (since 1993), as python-stdnum's table has them.
DISTRICTS = ("130702", "130703", "130705", "130706")
COUNTIES = ("130722", "130723", "130724", "130725", "130726", "130727", "130728", "130730", "130731", "130732")
WMI = ("LFV", "LSV", "LGB", "LVS", "LBV", "LHG", "LGX")  # Chinese manufacturers' identifier prefixes


def resident_id(rng: random.Random, *, region: str = "", born: dt.date | None = None) -> str:
    """A number of someone born 1950–2004 in one of the city's districts or counties, with its check digit.

    A number carries the code its county had when it issued the number, not when the person was born, so anyone
    may carry any of today's codes: most of the people drawn here were born before their district (1983) or county
    (1993) had its code — a 1960 birth in 沽源县 with 130724 — as most of the city's older residents are.
    `clean_resident_id` accepts them; python-stdnum's `ric.validate`, which wants the code in the birth year, would
    not."""
    born = born or dt.date(1950, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 55))
    region = region or rng.choice(DISTRICTS + COUNTIES)
    body = f"{region}{born:%Y%m%d}{rng.randrange(0, 1000):03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum takes the number with a placeholder check digit


def vin(rng: random.Random) -> str:
    body = rng.choice(WMI) + "".join(rng.choice(VIN_CHARS) for _ in range(14))
    with_placeholder = body[:8] + "0" + body[9:]
    return body[:8] + vin_check_digit(with_placeholder) + body[9:]


def plate(rng: random.Random) -> str:
    return "冀G" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(5))


def name(rng: random.Random) -> str:
    return rng.choice(FAMILY) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def phone(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(0, 10**9):09d}"
