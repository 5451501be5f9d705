from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen → "1,234.56" (yuan on screen only)."""
    return f"{Decimal(fen or 0) / 100:,.2f}"
