"""Whom a subsidy is paid to, and the account it goes to (see docs/subsidy-review-and-payments.md).

A programme pays either the applicant (`Programme.Payee.APPLICANT`: cars and e-bikes, to the applicant's bank
card or 社保卡) or the merchant who gave the discount at the till (`MERCHANT`: appliances, digital, home — the
merchant is reimbursed, 清算, to its settlement account `MerchantAccount`). An application a citizen filed alone,
with no merchant, is paid to the citizen whatever the programme says.

The applicant's account comes with the application (web form, API, batch file) and is checked by `clean_payee`,
which the intake calls once per row: plain string work, no database. Account numbers and names are personal data:
encrypted at rest (`pii.EncryptedTextField`), shown masked (`mask_account`), never logged, never audited in clear;
only the bank's payment file carries them in full.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any, NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from stdnum import luhn

from huanxin.core import audit, pii
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.subsidies import errors
from huanxin.subsidies.models import Application, MerchantAccount, Programme

CHECK = "收款账户"  # the check's name in a refusal, like 身份核验 or 凭证唯一
MAX_NAME = 60  # 户名 and 开户行: the bank's field and `Application.payee_bank`'s column
ACCOUNT = re.compile(r"[0-9]{8,30}", re.ASCII)
BANK_CODE = re.compile(r"[0-9]{12}", re.ASCII)
# digits typed with a Chinese input method come full-width (０-９): read as the digits they are
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# ISO/IEC 7812: a card number's first digit names its industry; 3–6 are cards of banks and card schemes (UnionPay
# 62…), which carry a Luhn check digit. Passbook (存折) and company (对公) accounts carry none.
_CARD_START = frozenset("3456")

DEFAULT_BY_CATEGORY = {
    Programme.Category.CAR_SCRAP: Programme.Payee.APPLICANT,
    Programme.Category.CAR_REPLACE: Programme.Payee.APPLICANT,
    Programme.Category.EBIKE: Programme.Payee.APPLICANT,
    Programme.Category.APPLIANCE: Programme.Payee.MERCHANT,
    Programme.Category.DIGITAL: Programme.Payee.MERCHANT,
    Programme.Category.HOME: Programme.Payee.MERCHANT,
}


class Payee(NamedTuple):
    """An account as the bank pays it: 户名, 账号, 开户行, 联行号 (a named tuple: the batch makes one per row)."""

    name: str
    account: str
    bank: str
    bank_code: str


NO_PAYEE = Payee("", "", "", "")


def default_payee(category: str) -> str:
    """Whom a programme of the category pays unless told otherwise."""
    return DEFAULT_BY_CATEGORY.get(category, Programme.Payee.APPLICANT)  # type: ignore[call-overload]


def pays_applicant(programme_payee: str, *, merchant_filed: bool) -> bool:
    """Whether an application is paid to its applicant: the programme says so, or no merchant filed it."""
    return programme_payee == Programme.Payee.APPLICANT or not merchant_filed


def _refuse(message: str) -> ValidationError:
    return ValidationError(f"{CHECK}：{message}", code=errors.INVALID_PAYEE)


def _has_control(text: str) -> bool:
    """A control or format character (category C, and the line and paragraph separators); plain spaces are fine."""
    return any(unicodedata.category(ch)[0] == "C" or ch in "\u2028\u2029" for ch in text)


def _text(value: str, label: str) -> str:
    text = value.strip()
    if not text:
        raise _refuse(f"请填写{label}")
    if not text.isprintable() and _has_control(text):  # isprintable: the quick answer for nearly every name
        raise _refuse(f"{label}含有不可见的控制字符，请重新输入")
    text = " ".join(text.split())  # a full-width or non-breaking space counts as one space
    if len(text) > MAX_NAME:
        raise _refuse(f"{label}不能超过{MAX_NAME}个字")
    return text


def _digits(value: str) -> str:
    return "".join(value.translate(_FULL_WIDTH_DIGITS).split())


def clean_account(value: str, *, card_check: bool = True) -> str:
    """An account number: digits only, 8–30 of them once spaces are taken out. With `card_check` (a person's
    account), a number of 16–19 digits that starts as a bank card does (3–6) must pass its Luhn check digit — a
    社保卡's financial account is a bank card too."""
    account = _digits(value)
    if not account:
        raise _refuse("请填写收款账号")
    if not ACCOUNT.fullmatch(account):
        raise _refuse("收款账号应为8–30位数字（可含空格）")
    if card_check and 16 <= len(account) <= 19 and account[0] in _CARD_START and not luhn.is_valid(account):
        raise _refuse("收款账号（银行卡号）校验位不符，请核对卡号")
    return account


def clean_bank_code(value: str) -> str:
    code = _digits(value)
    if not code:
        raise _refuse("请填写联行号")
    if not BANK_CODE.fullmatch(code):
        raise _refuse("联行号应为12位数字（开户行的大额支付系统行号）")
    return code


def clean_payee(payee: Payee, *, card_check: bool = True) -> Payee:
    """The account checked and tidied, or a refusal (`invalid_payee`) naming the field. Every field is required."""
    return Payee(
        name=_text(payee.name, "收款户名"),
        account=clean_account(payee.account, card_check=card_check),
        bank=_text(payee.bank, "开户行"),
        bank_code=clean_bank_code(payee.bank_code),
    )


def mask_account(value: str) -> str:
    """6222********1234: the first four (the bank) and the last four digits, as statements print them."""
    return pii.mask(value, keep_start=4, keep_end=4)


def fingerprint_part(payee: Payee) -> list[str]:
    """The account as a submission's fingerprint covers it (`applications.fingerprint`)."""
    return [
        " ".join(payee.name.split()),
        _digits(payee.account),
        " ".join(payee.bank.split()),
        _digits(payee.bank_code),
    ]


# --- whose account pays an application --------------------------------------------------------------------------


def of_application(application: Application, programme: Programme, accounts: dict[int, MerchantAccount]) -> Payee:
    """The account an application is paid to by the programme's rule, or NO_PAYEE when it has none yet.
    `accounts`: the merchants' settlement accounts by organisation id."""
    if programme.payee == Programme.Payee.MERCHANT and application.merchant_id:
        account = accounts.get(application.merchant_id)
        if account is None:
            return NO_PAYEE
        return Payee(account.account_name, account.account_no, account.bank, account.bank_code)
    if not application.payee_account:
        return NO_PAYEE
    return Payee(application.payee_name, application.payee_account, application.payee_bank, application.payee_bank_code)


def payee_type(application: Application, programme: Programme) -> str:
    if programme.payee == Programme.Payee.MERCHANT and application.merchant_id:
        return Programme.Payee.MERCHANT
    return Programme.Payee.APPLICANT


# --- the merchant's settlement account --------------------------------------------------------------------------


def can_keep_account(user: Any) -> bool:
    return getattr(user, "role", None) == Role.MERCHANT and bool(getattr(user, "organisation_id", None))


def account_of(user: Any) -> MerchantAccount | None:
    if not can_keep_account(user):
        return None
    return MerchantAccount.objects.filter(organisation_id=user.organisation_id).first()


def save_merchant_account(
    *,
    actor: User,
    account_name: str,
    account_no: str,
    bank: str,
    bank_code: str,
    now: dt.datetime | None = None,
) -> MerchantAccount:
    """Set the merchant's settlement account (结算账户). A blank 户名 or 账号 keeps the one on file (the page never
    shows them in clear, so changing the bank's details must not mean typing them again). Audited with the number
    and the name masked; saving the same again changes nothing and writes nothing."""
    if not can_keep_account(actor) or actor.organisation_id is None:
        raise PermissionDenied("结算账户由商户本单位维护")
    organisation_id: int = actor.organisation_id
    now = now or timezone.now()
    with transaction.atomic():
        current = MerchantAccount.objects.select_for_update().filter(organisation_id=organisation_id).first()
        if current is not None:  # left blank: the name and number on file stay
            account_name = account_name if account_name.strip() else current.account_name
            account_no = account_no if account_no.strip() else current.account_no
        # a company's account (对公) carries no check digit, and a shop's card is the bank's to refuse
        payee = clean_payee(Payee(account_name, account_no, bank, bank_code), card_check=False)
        if current is not None:
            before = Payee(current.account_name, current.account_no, current.bank, current.bank_code)
            if before == payee:
                return current
            changed = [
                label
                for label, old, new in zip(("户名", "账号", "开户行", "联行号"), before, payee, strict=True)
                if old != new
            ]
            current.account_name, current.account_no, current.bank, current.bank_code = payee
            current.updated_by, current.updated_at = actor, now
            current.save()
            saved = current
        else:
            changed = ["户名", "账号", "开户行", "联行号"]
            saved = MerchantAccount.objects.create(
                organisation_id=organisation_id,
                account_name=payee.name,
                account_no=payee.account,
                bank=payee.bank,
                bank_code=payee.bank_code,
                updated_by=actor,
                updated_at=now,
            )
        audit.record(
            actor=actor,
            action="subsidies.merchant_account_saved",
            target=saved,
            changes={
                "organisation": organisation_id,
                "account_name": pii.mask_name(payee.name),
                "account": mask_account(payee.account),
                "bank": payee.bank,
                "bank_code": payee.bank_code,
                "changed": changed,
                "first": current is None,
            },
        )
    return saved
