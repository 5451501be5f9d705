from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from huanxin.monitoring import units

register = template.Library()


@register.filter
def get_item(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, "")


@register.filter
def figure(value: Decimal | None, indicator: Any) -> str:
    """A figure of `indicator` at its precision with its unit: 3,824 个, 30.9%, 60.0 公里; "—" for none."""
    return units.display(value, indicator.unit, indicator.target_value)


@register.filter
def plain(value: Decimal | None) -> str:
    """A stored value as typed, without the trailing zeros of its four decimals and never in exponent form
    (Decimal("6400.0000").normalize() is 6.4E+3)."""
    return "" if value is None else format(value.normalize(), "f")


@register.filter
def target(indicator: Any) -> str:
    """An indicator's target written with the same separators as its figures: ≥6,400个, 较2023年增长≥25%."""
    return units.target_text(indicator)
