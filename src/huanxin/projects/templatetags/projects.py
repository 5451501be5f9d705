"""Money on the project pages: fen in, 万元 out."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def wan(fen: int | None) -> str:
    """123456789 fen → "123.46" 万元 (two decimals on screen; the database keeps the fen)."""
    return f"{Decimal(fen or 0) / 10**6:,.2f}"


@register.filter
def yuan(fen: int | None) -> str:
    return f"{Decimal(fen or 0) / 100:,.2f}"


@register.filter
def pct(value: float | Decimal | None) -> str:
    return "—" if value is None else f"{value}%"
