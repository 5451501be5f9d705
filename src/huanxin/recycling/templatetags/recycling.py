"""Template filters for the recycling pages: category labels, money in yuan from fen, kilograms as tonnes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from huanxin.recycling import categories

register = template.Library()


@register.filter
def category_label(code: str) -> str:
    return categories.label(code)


@register.filter
def yuan(fen: int | None) -> str:
    """12345 → "123.45" (integer fen in, exact yuan out)."""
    if fen is None:
        return "0.00"
    return f"{Decimal(fen) / 100:,.2f}"


@register.filter
def tonnes(kg: Decimal | int | None) -> str:
    return f"{Decimal(kg or 0) / 1000:,.2f}"


@register.filter
def dictget(mapping: dict[str, Any] | None, key: str) -> Any:
    return (mapping or {}).get(key, 0)
