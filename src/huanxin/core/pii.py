"""Personal data: encryption at rest, a keyed hash for look-up, and masking for the screen.

Keys come from settings (the environment in production): PII_KEYS are Fernet keys, the first one encrypts and
all of them decrypt, so keys can be rotated. PII_LOOKUP_KEY keys an HMAC-SHA256 that lets the database find and
de-duplicate a value (an ID number, a phone) without ever holding it in clear.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.PII_KEYS])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a wrong key must be loud, never silently show ciphertext
        raise ValueError("无法解密个人信息：密钥不匹配") from exc


def normalise(value: str) -> str:
    return "".join(value.split()).upper()


def lookup_hash(value: str, *, purpose: str) -> str:
    """Keyed hash of a normalised value; `purpose` separates name-spaces (an ID number never equals a phone)."""
    message = f"{purpose}:{normalise(value)}".encode()
    return hmac.new(settings.PII_LOOKUP_KEY.encode(), message, hashlib.sha256).hexdigest()


def mask(value: str, *, keep_start: int, keep_end: int) -> str:
    if not value:
        return ""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end :]


def mask_resident_id(value: str) -> str:
    """110101********1234 — region and the last four, as public notices print them."""
    return mask(value, keep_start=6, keep_end=4)


def mask_phone(value: str) -> str:
    return mask(value, keep_start=3, keep_end=4)


def mask_name(value: str) -> str:
    """张** / 欧阳*某 style: the family name (first character) only."""
    return value[:1] + "*" * (len(value) - 1) if value else ""


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees the clear text. Never filter on it: use a lookup hash."""

    description = "Encrypted text (personal data)"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
