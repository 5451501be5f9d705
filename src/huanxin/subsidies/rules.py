"""Programme rules as data: each category's parameters are validated by a pydantic model (a programme's
`parameters` JSON), and the amount of one item is computed from them with an explanation an auditor can read.

Defaults follow DESIGN.md's table of the national rules (2025); a city copies last year's programme and changes
the numbers, never the code. Supported so far: appliances (家电), digital products (数码产品), car scrap-and-renew
(汽车报废更新). The other categories are refused until their rules are written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = ""  # the notice the values come from (文号)
    sample_pct: int = Field(5, ge=0, le=100)  # share of applications sent to manual review anyway
    two_person_above_fen: int = Field(500_000, ge=0)  # above this amount two reviewers must approve


class ApplianceKind(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    per_person: int = Field(1, ge=1, le=10)  # air conditioners: up to 3 in 2025


class ApplianceParams(_Params):
    kinds: dict[str, ApplianceKind]
    rate_pct_by_grade: dict[str, Decimal]  # {"1": 20, "2": 15}: energy/water-efficiency grade → % of price
    cap_fen: int = Field(gt=0)  # per item
    requires_take_back: bool = False  # a 收旧凭证 from the recycling network


class DigitalParams(_Params):
    kinds: dict[str, str]  # code → label
    rate_pct: Decimal = Field(gt=0, le=100)
    cap_fen: int = Field(gt=0)
    price_ceiling_fen: int = Field(gt=0)  # above this price: no subsidy
    per_person_per_kind: int = Field(1, ge=1)


class CarScrapParams(_Params):
    amount_fen_by_new_fuel: dict[str, int]  # {"nev": 2000000, "fuel": 1500000}
    registered_by: dict[str, dt.date]  # the old car's first registration no later than, by fuel
    per_person_per_year: int = Field(1, ge=1)


PARAMS: dict[str, type[_Params]] = {"appliance": ApplianceParams, "digital": DigitalParams, "car_scrap": CarScrapParams}

DEFAULTS: dict[str, dict[str, Any]] = {
    "appliance": {
        "source": "商消费发〔2025〕年度加力扩围通知（以当地实施细则为准）",
        "kinds": {
            "refrigerator": {"label": "冰箱"},
            "washing_machine": {"label": "洗衣机"},
            "tv": {"label": "电视机"},
            "air_conditioner": {"label": "空调", "per_person": 3},
            "computer": {"label": "电脑"},
            "water_heater": {"label": "热水器"},
            "stove": {"label": "家用灶具"},
            "range_hood": {"label": "吸油烟机"},
        },
        "rate_pct_by_grade": {"1": 20, "2": 15},
        "cap_fen": 200_000,
        "requires_take_back": False,
    },
    "digital": {
        "source": "2025年数码产品购新补贴（以当地实施细则为准）",
        "kinds": {"phone": "手机", "tablet": "平板电脑", "watch": "智能手表手环"},
        "rate_pct": 15,
        "cap_fen": 50_000,
        "price_ceiling_fen": 600_000,
    },
    "car_scrap": {
        "source": "2025年汽车报废更新补贴实施细则（以当地实施细则为准）",
        "amount_fen_by_new_fuel": {"nev": 2_000_000, "fuel": 1_500_000},
        "registered_by": {"petrol": "2012-06-30", "diesel": "2014-06-30", "other": "2014-06-30", "nev": "2018-12-31"},
    },
}


def validate(category: str, parameters: dict[str, Any]) -> _Params:
    """The programme's parameters as a typed object; a clear, stable error when they are wrong."""
    model = PARAMS.get(category)
    if model is None:
        raise ValidationError(
            "该类别的补贴规则尚未上线（目前支持家电、数码产品、汽车报废更新）", code="category_not_supported"
        )
    try:
        return model.model_validate(parameters)
    except PydanticError as exc:
        where = "；".join(f"{'.'.join(str(p) for p in e['loc'])}：{e['msg']}" for e in exc.errors()[:5])
        raise ValidationError(f"规则参数有误：{where}", code="invalid_parameters") from exc


@dataclass(frozen=True)
class Amount:
    fen: int
    explanation: str  # "一级能效，按售价20%补贴，上限2000.00元"


def _pct(price_fen: int, pct: Decimal) -> int:
    return int((Decimal(price_fen) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def appliance_amount(params: ApplianceParams, *, price_fen: int, grade: str) -> Amount:
    rate = params.rate_pct_by_grade.get(grade)
    if rate is None:
        grades = "、".join(f"{g}级" for g in sorted(params.rate_pct_by_grade))
        raise ValidationError(f"能效（水效）{grade}级的产品不在补贴范围（{grades}可补）", code="grade_not_eligible")
    raw = _pct(price_fen, rate)
    fen = min(raw, params.cap_fen)
    capped = "，已按上限" if raw > params.cap_fen else ""
    return Amount(fen, f"{grade}级能效，按售价{rate:g}%补贴，上限{params.cap_fen / 100:.2f}元{capped}")


def digital_amount(params: DigitalParams, *, price_fen: int) -> Amount:
    if price_fen > params.price_ceiling_fen:
        raise ValidationError(
            f"单件售价超过{params.price_ceiling_fen / 100:.0f}元的产品不在补贴范围", code="price_above_ceiling"
        )
    raw = _pct(price_fen, params.rate_pct)
    fen = min(raw, params.cap_fen)
    capped = "，已按上限" if raw > params.cap_fen else ""
    return Amount(fen, f"按售价{params.rate_pct:g}%补贴，上限{params.cap_fen / 100:.2f}元{capped}")


def car_scrap_amount(params: CarScrapParams, *, new_fuel: str) -> Amount:
    fen = params.amount_fen_by_new_fuel.get(new_fuel)
    if fen is None:
        raise ValidationError("新车类型应为新能源或燃油车", code="invalid_new_car")
    label = "新能源乘用车" if new_fuel == "nev" else "燃油乘用车"
    return Amount(fen, f"报废旧车并购买{label}，定额补贴{fen / 100:.2f}元")
