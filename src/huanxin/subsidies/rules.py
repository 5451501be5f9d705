"""Programme rules as data: each category's parameters are validated by a pydantic model (a programme's
`parameters` JSON), and the amount of one item is computed from them with an explanation an auditor can read.

A city copies last year's programme and changes the numbers, never the code. Every category of the programme
model is supported: appliances (家电), digital products (数码产品), car scrap-and-renew (汽车报废更新), car replacement
(汽车置换更新), e-bikes (电动自行车以旧换新) and home renovation (家装厨卫焕新 / 适老化改造). Each default names its
source in `source`: a national notice by its title and 文号 where the value was checked against it, otherwise the
words "示例取值，非政策原文" — a typical value (a province's, or a local one) that the city sets from its own
implementing rules. tests/subsidies/test_rule_sources.py keeps the list of checked 文号.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from pydantic import BaseModel, ConfigDict, Field, model_validator
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


class PriceBand(BaseModel):
    """One price band of car replacement: a new car priced from `from_fen` (the invoice's price, tax included) up to
    the next band gets `nev_fen` (new-energy) or `fuel_fen` (fuel car); 0 means that fuel gets nothing here."""

    model_config = ConfigDict(extra="forbid")
    from_fen: int = Field(ge=0)
    nev_fen: int = Field(ge=0)
    fuel_fen: int = Field(ge=0)


class CarReplaceParams(_Params):
    bands: list[PriceBand] = Field(min_length=1)  # ascending by from_fen; below the first band: no subsidy
    transfer_from: dt.date | None = None  # the old car's transfer (转移登记) on or after; default: the programme opens
    transfer_to: dt.date | None = None  # … and on or before; default: the programme closes
    registered_by: dt.date | None = None  # the old car registered in the applicant's name no later than
    min_holding_months: int = Field(0, ge=0, le=240)  # … and held by the applicant at least this long before sale
    per_person_per_year: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> CarReplaceParams:
        starts = [b.from_fen for b in self.bands]
        if starts != sorted(set(starts)):
            raise ValueError("价格分档（bands）应按起始价格（from_fen）从低到高排列且不重复")
        if self.transfer_from and self.transfer_to and self.transfer_from > self.transfer_to:
            raise ValueError("转移登记起始日期（transfer_from）不能晚于截止日期（transfer_to）")
        return self


class EbikeBattery(BaseModel):
    """The amount for a new e-bike with this kind of battery: `rate_pct` of the price up to `cap_fen`, or `cap_fen`
    as a fixed amount when no rate is set."""

    model_config = ConfigDict(extra="forbid")
    label: str
    rate_pct: Decimal | None = Field(None, gt=0, le=100)
    cap_fen: int = Field(gt=0)


class EbikeParams(_Params):
    by_battery: dict[str, EbikeBattery] = Field(min_length=1)  # the new bike's battery → amount
    standards: list[str] = Field(min_length=1)  # the safety standard the new bike's 合格证 must state
    requires_own_name: bool = True  # the old bike's 收旧凭证 in the applicant's name
    per_person: int = Field(1, ge=1)


class HomeKind(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    rate_pct: Decimal = Field(gt=0, le=100)
    rate_pct_grade1: Decimal | None = Field(None, gt=0, le=100)  # energy/water-efficiency grade 1 products
    cap_fen: int = Field(gt=0)  # per item
    per_person: int = Field(1, ge=1, le=50)
    elderly: bool = False  # 适老化产品


class HomeParams(_Params):
    kinds: dict[str, HomeKind] = Field(min_length=1)
    per_person_cap_fen: int | None = Field(None, gt=0)  # everything one person gets in the programme


PARAMS: dict[str, type[_Params]] = {
    "appliance": ApplianceParams,
    "digital": DigitalParams,
    "car_scrap": CarScrapParams,
    "car_replace": CarReplaceParams,
    "ebike": EbikeParams,
    "home": HomeParams,
}

DEFAULTS: dict[str, dict[str, Any]] = {
    "appliance": {
        "source": (
            "发改环资〔2024〕1104号《关于加力支持大规模设备更新和消费品以旧换新的若干措施》及商务部等4部门办公厅"
            "《关于进一步做好家电以旧换新工作的通知》（2024年）：冰箱、洗衣机、电视、空调、电脑、热水器、家用灶具、"
            "吸油烟机8类，2级能效（水效）按售价15%，1级再加5%，每人每类1件，每件不超过2000元；空调每人3件取自2025年"
            "政策（发改环资〔2025〕13号），2025年增列的净水器、洗碗机、电饭煲、微波炉未列入；以当地实施细则为准"
        ),
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
        "source": (
            "发改环资〔2025〕13号《关于2025年加力扩围实施大规模设备更新和消费品以旧换新政策的通知》：手机、平板、"
            "智能手表手环3类，单件售价不超过6000元，按售价15%补贴，每人每类1件，每件不超过500元；以当地实施细则为准"
        ),
        "kinds": {"phone": "手机", "tablet": "平板电脑", "watch": "智能手表手环"},
        "rate_pct": 15,
        "cap_fen": 50_000,
        "price_ceiling_fen": 600_000,
    },
    "car_scrap": {
        "source": (
            "发改环资〔2024〕1104号《关于加力支持大规模设备更新和消费品以旧换新的若干措施》：报废旧车并购买新能源乘用车"
            "补2万元、购买2.0升及以下排量燃油乘用车补1.5万元（本规则不核对新车排量）。旧车注册日期为示例取值，"
            "非政策原文：按公开报道，2025年范围扩至国四排放标准燃油乘用车（汽油车2012年6月前注册）和2018年12月前注册的"
            "新能源乘用车，柴油及其他燃料车2014年6月30日未与原文核对；以当地实施细则为准"
        ),
        "amount_fen_by_new_fuel": {"nev": 2_000_000, "fuel": 1_500_000},
        "registered_by": {"petrol": "2012-06-30", "diesel": "2014-06-30", "other": "2014-06-30", "nev": "2018-12-31"},
    },
    "car_replace": {
        "source": (
            "示例取值，非政策原文：按公开报道，2025年政策（发改环资〔2025〕13号实施年度）的置换更新补贴最高为新能源乘用车"
            "1.5万元、燃油乘用车1.3万元；分档金额为典型地方取值，旧车2025年1月8日前登记在本人名下未与原文核对；"
            "以当地实施细则为准"
        ),
        "bands": [
            {"from_fen": 5_000_000, "nev_fen": 800_000, "fuel_fen": 600_000},  # 5万（含）至10万元
            {"from_fen": 10_000_000, "nev_fen": 1_000_000, "fuel_fen": 800_000},  # 10万（含）至20万元
            {"from_fen": 20_000_000, "nev_fen": 1_500_000, "fuel_fen": 1_300_000},  # 20万元及以上
        ],
        "registered_by": "2025-01-08",
        "min_holding_months": 0,
    },
    "ebike": {
        "source": (
            "示例取值，非政策原文：按公开报道的河北省2024年电动自行车以旧换新补贴标准（文件及文号未核对）：交回本人旧车，"
            "换购铅酸蓄电池新车按售价20%、每辆不超过500元，锂离子蓄电池新车按10%、不超过300元；新车须符合"
            "GB 17761-2024《电动自行车安全技术规范》（2025年9月1日起实施，替代2018年版）；以当地实施细则为准"
        ),
        "by_battery": {
            "lead_acid": {"label": "铅酸蓄电池", "rate_pct": 20, "cap_fen": 50_000},
            "lithium": {"label": "锂离子蓄电池", "rate_pct": 10, "cap_fen": 30_000},
        },
        "standards": ["GB 17761-2024"],
        "requires_own_name": True,
    },
    "home": {
        "source": (
            "商务部等6部门《关于做好2025年家装厨卫“焕新”工作的通知》（2025年1月，文号未核对）：补贴不高于售价15%，"
            "1级能效（水效）产品不高于20%，居家适老化改造产品不高于30%，件数和限额由各地确定；单件上限和每人累计上限"
            "为示例取值，非政策原文；以当地实施细则为准"
        ),
        "kinds": {
            "smart_toilet": {"label": "智能马桶", "rate_pct": 15, "rate_pct_grade1": 20, "cap_fen": 200_000},
            "shower_room": {"label": "淋浴房", "rate_pct": 15, "cap_fen": 200_000},
            "bathroom_cabinet": {"label": "浴室柜", "rate_pct": 15, "cap_fen": 100_000},
            "kitchen_hardware": {
                "label": "厨卫五金（水龙头、花洒、水槽）",
                "rate_pct": 15,
                "rate_pct_grade1": 20,
                "cap_fen": 50_000,
                "per_person": 5,
            },
            "cabinet": {"label": "整体橱柜", "rate_pct": 15, "cap_fen": 200_000},
            "flooring": {"label": "地板、瓷砖等装修材料", "rate_pct": 15, "cap_fen": 200_000, "per_person": 3},
            "smart_lock": {"label": "智能门锁", "rate_pct": 15, "cap_fen": 50_000},
            "lighting": {"label": "照明灯具", "rate_pct": 15, "cap_fen": 30_000, "per_person": 5},
            "grab_bar": {
                "label": "适老化扶手",
                "rate_pct": 30,
                "cap_fen": 50_000,
                "per_person": 10,
                "elderly": True,
            },
            "bath_chair": {"label": "助浴椅、淋浴座椅", "rate_pct": 30, "cap_fen": 50_000, "elderly": True},
            "anti_slip": {"label": "防滑地面改造", "rate_pct": 30, "cap_fen": 200_000, "elderly": True},
            "care_bed": {"label": "适老化护理床", "rate_pct": 30, "cap_fen": 200_000, "elderly": True},
        },
        "per_person_cap_fen": 2_000_000,
    },
}


def validate(category: str, parameters: dict[str, Any]) -> _Params:
    """The programme's parameters as a typed object; a clear, stable error when they are wrong."""
    model = PARAMS.get(category)
    if model is None:
        raise ValidationError("该类别的补贴规则尚未上线", code="category_not_supported")
    try:
        return model.model_validate(parameters)
    except PydanticError as exc:
        where = "；".join(f"{'.'.join(str(p) for p in e['loc'])}：{e['msg']}" for e in exc.errors()[:5])
        raise ValidationError(f"规则参数有误：{where}", code="invalid_parameters") from exc


class Amount(NamedTuple):  # immutable; a named tuple as it is made once per item of every application
    fen: int
    explanation: str  # "一级能效，按售价20%补贴，上限2000.00元"


def _pct(price_fen: int, pct: Decimal) -> int:
    """`pct` % of a price, rounded half up to the fen — in exact integers (a batch prices thousands a second)."""
    numerator, denominator = _ratio(pct)
    share, whole = price_fen * numerator, denominator * 100
    return (2 * share + whole) // (2 * whole) if share >= 0 else -((-2 * share + whole) // (2 * whole))


@cache
def _ratio(pct: Decimal) -> tuple[int, int]:
    return pct.as_integer_ratio()


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


def wan(fen: int) -> str:
    """Fen as 万元 for band labels: 10_000_000 → "10万"."""
    return f"{Decimal(fen) / 1_000_000:g}万"


FUEL_LABELS = {"nev": "新能源乘用车", "fuel": "燃油乘用车"}


def car_replace_amount(params: CarReplaceParams, *, price_fen: int, new_fuel: str) -> Amount:
    label = FUEL_LABELS.get(new_fuel)
    if label is None:
        raise ValidationError("新车类型应为新能源或燃油车", code="invalid_new_car")
    index = max((i for i, band in enumerate(params.bands) if band.from_fen <= price_fen), default=None)
    if index is None:
        raise ValidationError(
            f"新车售价低于{wan(params.bands[0].from_fen)}元，不在置换更新补贴范围", code="price_below_bands"
        )
    band = params.bands[index]
    upper = params.bands[index + 1].from_fen if index + 1 < len(params.bands) else None
    span = f"{wan(band.from_fen)}元（含）至{wan(upper)}元" if upper is not None else f"{wan(band.from_fen)}元及以上"
    fen = band.nev_fen if new_fuel == "nev" else band.fuel_fen
    if fen == 0:
        raise ValidationError(f"售价{span}的{label}不在置换更新补贴范围", code="band_not_eligible")
    return Amount(fen, f"转让旧车并购买{label}，售价{span}档，定额补贴{fen / 100:.2f}元")


def ebike_amount(params: EbikeParams, *, price_fen: int, battery: str) -> Amount:
    rule = params.by_battery.get(battery)
    if rule is None:
        kinds = "、".join(b.label for b in params.by_battery.values())
        raise ValidationError(f"新车电池类型应为{kinds}之一", code="battery_not_eligible")
    if rule.rate_pct is None:
        fen = min(rule.cap_fen, price_fen)
        return Amount(fen, f"交售旧车换购{rule.label}电动自行车，定额补贴{rule.cap_fen / 100:.2f}元")
    raw = _pct(price_fen, rule.rate_pct)
    fen = min(raw, rule.cap_fen)
    capped = "，已按上限" if raw > rule.cap_fen else ""
    return Amount(
        fen, f"交售旧车换购{rule.label}电动自行车，按售价{rule.rate_pct:g}%补贴，上限{rule.cap_fen / 100:.2f}元{capped}"
    )


def home_amount(params: HomeParams, *, kind: str, price_fen: int, grade: str = "") -> Amount:
    rule = params.kinds.get(kind)
    if rule is None:
        raise ValidationError(f"品类“{kind}”不在本批次补贴范围", code="kind_not_eligible")
    rate, why = rule.rate_pct, f"{rule.label}（适老化产品）" if rule.elderly else rule.label
    if grade == "1" and rule.rate_pct_grade1 is not None:
        rate, why = rule.rate_pct_grade1, f"{rule.label}（1级能效/水效）"
    raw = _pct(price_fen, rate)
    fen = min(raw, rule.cap_fen)
    capped = "，已按上限" if raw > rule.cap_fen else ""
    return Amount(fen, f"{why}，按售价{rate:g}%补贴，单件上限{rule.cap_fen / 100:.2f}元{capped}")
