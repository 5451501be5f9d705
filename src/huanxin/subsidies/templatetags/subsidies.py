from __future__ import annotations

from decimal import Decimal

from django import template

from huanxin.core.pii import mask_name
from huanxin.subsidies.payees import mask_account

register = template.Library()


@register.filter
def yuan(fen: int | None) -> str:
    """Integer fen → "1,234.56" (yuan on screen only)."""
    return f"{Decimal(fen or 0) / 100:,.2f}"


DETAIL_LABELS = {
    "new_fuel": "新车",
    "transfer_no": "转移登记",
    "transfer_date": "转移日期",
    "old_registered_on": "旧车登记日期",
    "battery": "电池",
    "ccc_no": "CCC证书",
    "standard": "执行标准",
}
DETAIL_VALUES = {"nev": "新能源", "fuel": "燃油", "lead_acid": "铅酸蓄电池", "lithium": "锂离子蓄电池"}


@register.filter
def item_details(details: dict[str, str] | None) -> str:
    """An item's other evidence for the reviewer: "转移登记 ZY123 · 转移日期 2025-05-01"."""
    return " · ".join(f"{DETAIL_LABELS.get(k, k)} {DETAIL_VALUES.get(str(v), v)}" for k, v in (details or {}).items())


@register.filter
def masked_account(value: str | None) -> str:
    """An account number as pages show it: 6222***********3446 (the full number is in the bank file only)."""
    return mask_account(value or "")


@register.filter
def masked_name(value: str | None) -> str:
    """A name as officials' pages show it: 林*."""
    return mask_name(value or "")
