"""Personal data: encryption at rest, a keyed hash for look-up, and masking for the screen.

Keys come from settings (the environment in production): PII_KEYS are Fernet-format keys (32 random bytes,
url-safe base64); the first one encrypts and all of them decrypt, so keys can be rotated. Values are encrypted with
AES-256-GCM under a key derived from each (HKDF-SHA256) and stored as `g1:` + base64url(nonce ‖ ciphertext ‖ tag):
about 1.8 µs a value against Fernet's 8.0-8.3 µs (timeit, this machine), which counts when a batch import encrypts
three values a row at thousands of rows a second. Tokens written by Fernet before (they start `gAAAA`) still decrypt.
PII_LOOKUP_KEY keys an HMAC-SHA256 that lets the database find and de-duplicate a value (an ID number, a phone)
without ever holding it in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

_GCM = "g1:"
_NONCE = 12  # bytes: the 96-bit nonce GCM is made for
_TAG = 16  # bytes: the authentication tag AESGCM appends
_INFO = b"huanxin pii aes-256-gcm v1"


@cache
def _keys() -> tuple[list[AESGCM], MultiFernet]:
    """The AES-GCM keys, the encrypting one first, and the Fernet keys for tokens written before AES-GCM."""
    gcm = [
        AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(base64.urlsafe_b64decode(k)))
        for k in settings.PII_KEYS
    ]
    return gcm, MultiFernet([Fernet(key.encode()) for key in settings.PII_KEYS])


def encrypt(plain: str) -> str:
    nonce = os.urandom(_NONCE)  # 96 random bits per value: equal values never look equal
    sealed = _keys()[0][0].encrypt(nonce, plain.encode(), None)
    return _GCM + base64.urlsafe_b64encode(nonce + sealed).decode()


def decrypt(token: str) -> str:
    gcm, fernet = _keys()
    try:
        if not token.startswith(_GCM):
            return fernet.decrypt(token.encode()).decode()
        raw = base64.urlsafe_b64decode(token[len(_GCM) :])
    except (InvalidToken, ValueError) as exc:  # a wrong key must be loud, never silently show ciphertext
        raise ValueError("无法解密个人信息：密钥不匹配") from exc
    if len(raw) < _NONCE + _TAG:  # truncated: no key can open it (and AESGCM would complain about the nonce instead)
        raise ValueError("无法解密个人信息：密钥不匹配")
    for key in gcm:
        try:
            return key.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except InvalidTag:
            continue
    raise ValueError("无法解密个人信息：密钥不匹配")


def seal_bytes(plain: bytes) -> bytes:
    """A whole file sealed like a value (a background job's upload holds names and ID numbers): nonce ‖ ciphertext ‖
    tag under the encrypting key, raw bytes rather than base64 text, since files run to megabytes."""
    nonce = os.urandom(_NONCE)
    return nonce + _keys()[0][0].encrypt(nonce, plain, None)


def open_bytes(sealed: bytes) -> bytes:
    for key in _keys()[0]:
        try:
            return key.decrypt(sealed[:_NONCE], sealed[_NONCE:], None)
        except InvalidTag:
            continue
    raise ValueError("无法解密文件：密钥不匹配")


def normalise(value: str) -> str:
    return "".join(value.split()).upper()


def lookup_hash(value: str, *, purpose: str) -> str:
    """Keyed hash of a normalised value; `purpose` separates name-spaces (an ID number never equals a phone).
    HMAC-SHA256, from a copy of an HMAC keyed once: keying it anew for every value (`hmac.digest`) costs OpenSSL 3
    about 2 µs more each time, and a batch hashes thousands of IDs a second."""
    mac = _keyed(settings.PII_LOOKUP_KEY).copy()
    mac.update(f"{purpose}:{normalise(value)}".encode())
    return mac.hexdigest()


@cache
def _keyed(key: str) -> hmac.HMAC:
    return hmac.new(key.encode(), digestmod=hashlib.sha256)


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
    """Stores ciphertext (`encrypt`); Python code sees the clear text. Never filter on it: use a lookup hash."""

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
