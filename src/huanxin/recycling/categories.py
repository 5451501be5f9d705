"""What the recycling network takes back. Codes are stable (API, Excel, metrics); labels are what people read."""

from __future__ import annotations

from django.db import models


class Category(models.TextChoices):
    REFRIGERATOR = "refrigerator", "冰箱"
    WASHING_MACHINE = "washing_machine", "洗衣机"
    TV = "tv", "电视机"
    AIR_CONDITIONER = "air_conditioner", "空调"
    COMPUTER = "computer", "电脑"
    WATER_HEATER = "water_heater", "热水器"
    STOVE = "stove", "家用灶具"
    RANGE_HOOD = "range_hood", "吸油烟机"
    PHONE = "phone", "手机"
    TABLET = "tablet", "平板电脑"
    CAR = "car", "机动车"
    EBIKE = "ebike", "电动自行车"
    SCRAP_STEEL = "scrap_steel", "废钢铁"
    NONFERROUS = "nonferrous", "废铜铝"
    PAPER = "paper", "废纸"
    PLASTIC = "plastic", "废塑料"


# the eight household appliances of the trade-in rules; "废旧家电回收量" counts these
APPLIANCES = frozenset(
    {
        Category.REFRIGERATOR,
        Category.WASHING_MACHINE,
        Category.TV,
        Category.AIR_CONDITIONER,
        Category.COMPUTER,
        Category.WATER_HEATER,
        Category.STOVE,
        Category.RANGE_HOOD,
    }
)
# devices that hold the seller's data: a data-wipe certificate protects the seller (方案 四（二）)
DATA_BEARING = frozenset({Category.COMPUTER, Category.PHONE, Category.TABLET})
# materials are weighed, not counted
MATERIALS = frozenset({Category.SCRAP_STEEL, Category.NONFERROUS, Category.PAPER, Category.PLASTIC})
# a 收旧凭证 proves an old appliance, device or e-bike was handed in (subsidies look them up)
TAKE_BACK = APPLIANCES | {Category.PHONE, Category.TABLET, Category.EBIKE}
# what a citizen can book a pickup for (cars go to a dismantler, not a van)
BOOKABLE = [c for c in Category if c != Category.CAR]


def label(code: str) -> str:
    try:
        return str(Category(code).label)
    except ValueError:
        return code


def parse(text: str) -> Category | None:
    """A category from its code or its Chinese label (Excel uploads carry either)."""
    text = text.strip()
    for category in Category:
        if text in (category.value, category.label):
            return category
    return None
