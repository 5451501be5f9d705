"""A payee's account for the tests that submit applications paid to the applicant (cars, e-bikes, and whatever a
citizen files alone): every channel requires one there (`payees.clean_payee`)."""

from __future__ import annotations

from typing import Any

from stdnum import luhn

CARD = "6222020200112233446"  # 19 digits, a valid Luhn check digit (UnionPay 62…)
BAD_CARD = CARD[:-1] + str((int(CARD[-1]) + 1) % 10)
BANK = "中国工商银行张家口分行营业部"
BANK_CODE = "102138000018"


def card(n: int) -> str:
    """A distinct valid card number for each n."""
    base = f"621700{n:012d}"
    return base + luhn.calc_check_digit(base)


def payee(name: str = "林芳", account: str = CARD) -> dict[str, Any]:
    """`submit_application`'s keyword arguments (and the web form's fields)."""
    return {"payee_name": name, "payee_account": account, "payee_bank": BANK, "payee_bank_code": BANK_CODE}


def payee_json(name: str = "林芳", account: str = CARD) -> dict[str, Any]:
    """The API's `payee` object."""
    return {"name": name, "account": account, "bank": BANK, "bank_code": BANK_CODE}
