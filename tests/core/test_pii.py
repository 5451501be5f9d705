import base64
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import connection
from django.test import override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from huanxin.core import pii
from huanxin.core.roles import Role
from huanxin.core.services import create_user


def test_encryption_round_trip_and_ciphertext_hides_the_value() -> None:
    token = pii.encrypt("130702199003071234")
    assert "130702" not in token
    assert pii.decrypt(token) == "130702199003071234"
    assert pii.encrypt("13803130000") != pii.encrypt("13803130000")  # randomised: equal values don't show


def test_a_wrong_key_fails_loudly(settings) -> None:
    token = pii.encrypt("secret")
    settings.PII_KEYS = ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg="]
    pii._keys.cache_clear()
    try:
        with pytest.raises(ValueError, match="密钥不匹配"):
            pii.decrypt(token)
    finally:
        pii._keys.cache_clear()


def test_old_keys_still_decrypt_after_rotation(settings) -> None:
    old_token = pii.encrypt("13803130000")
    settings.PII_KEYS = ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=", *settings.PII_KEYS]
    pii._keys.cache_clear()
    try:
        assert pii.decrypt(old_token) == "13803130000"
    finally:
        pii._keys.cache_clear()


def test_values_are_sealed_with_aes_gcm_and_a_changed_byte_is_refused() -> None:
    token = pii.encrypt("13803130000")
    assert token.startswith("g1:")
    raw = bytearray(base64.urlsafe_b64decode(token[3:]))
    raw[-1] ^= 1  # one bit of the tag
    with pytest.raises(ValueError, match="密钥不匹配"):
        pii.decrypt("g1:" + base64.urlsafe_b64encode(bytes(raw)).decode())
    with pytest.raises(ValueError, match="密钥不匹配"):
        pii.decrypt("g1:not base64!")
    for truncated in ("g1:", "g1:AAAA", token[:20]):  # too short for a nonce and a tag
        with pytest.raises(ValueError, match="密钥不匹配"):
            pii.decrypt(truncated)


def test_the_g1_token_format_is_pinned(settings) -> None:
    """Stored tokens must stay readable: nonce ‖ ciphertext ‖ tag under HKDF-SHA256(key, info) — checked by hand."""
    token = pii.encrypt("130702199003071234")
    raw = base64.urlsafe_b64decode(token[3:])
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"huanxin pii aes-256-gcm v1")
    key = AESGCM(hkdf.derive(base64.urlsafe_b64decode(settings.PII_KEYS[0])))
    assert key.decrypt(raw[:12], raw[12:], None) == b"130702199003071234"
    assert len(raw) == 12 + len("130702199003071234") + 16


def test_values_written_by_fernet_before_still_decrypt(settings) -> None:
    legacy = Fernet(settings.PII_KEYS[0].encode()).encrypt(b"130702199003071234").decode()
    assert pii.decrypt(legacy) == "130702199003071234"
    rotated = Fernet(settings.PII_KEYS[0].encode()).encrypt(b"13803130000").decode()
    settings.PII_KEYS = ["ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=", *settings.PII_KEYS]
    pii._keys.cache_clear()
    try:
        assert pii.decrypt(rotated) == "13803130000"  # an old key, second in the list
        fresh = pii.encrypt("x")
        assert pii.decrypt(fresh) == "x"
        old_keys = settings.PII_KEYS[1:]
        settings.PII_KEYS = settings.PII_KEYS[:1]  # the new key alone opens it: it was sealed with the first key
        pii._keys.cache_clear()
        assert pii.decrypt(fresh) == "x"
        settings.PII_KEYS = old_keys  # and the old keys alone cannot
        pii._keys.cache_clear()
        with pytest.raises(ValueError, match="密钥不匹配"):
            pii.decrypt(fresh)
    finally:
        pii._keys.cache_clear()


def test_lookup_hash_is_keyed_normalised_and_separated_by_purpose(settings) -> None:
    a = pii.lookup_hash("130702199003071234", purpose="resident_id")
    assert a == pii.lookup_hash(" 130702199003071234 ", purpose="resident_id")
    assert a != pii.lookup_hash("130702199003071234", purpose="phone")
    settings.PII_LOOKUP_KEY = "another-key"
    assert a != pii.lookup_hash("130702199003071234", purpose="resident_id")


@hypothesis_settings(max_examples=300, deadline=None)
@given(value=st.text(), purpose=st.sampled_from(["resident_id", "phone"]), key=st.sampled_from(["k1", "另一把钥匙"]))
def test_lookup_hash_is_hmac_sha256_of_purpose_and_normalised_value(value: str, purpose: str, key: str) -> None:
    """The hashes already stored stay valid: the keyed copy gives what a fresh HMAC of the same message gives."""
    with override_settings(PII_LOOKUP_KEY=key):
        expected = hmac.new(key.encode(), f"{purpose}:{pii.normalise(value)}".encode(), hashlib.sha256).hexdigest()
        assert pii.lookup_hash(value, purpose=purpose) == expected


@pytest.mark.parametrize(
    ("func", "value", "masked"),
    [
        (pii.mask_resident_id, "130702199003071234", "130702********1234"),
        (pii.mask_phone, "13803131234", "138****1234"),
        (pii.mask_name, "张三丰", "张**"),
        (pii.mask_phone, "123", "***"),
        (pii.mask_name, "", ""),
    ],
)
def test_masking(func, value: str, masked: str) -> None:
    assert func(value) == masked


@pytest.mark.django_db
def test_phone_is_encrypted_at_rest_and_findable_by_hash() -> None:
    user = create_user(
        actor=None,
        username="citizen1",
        password="correct-horse-battery",
        role=Role.CITIZEN,
        phone="138 0313 1234",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_hash FROM core_user WHERE id = %s", [user.pk])
        stored, stored_hash = cursor.fetchone()
    assert "13803131234" not in stored
    assert pii.decrypt(stored) == "13803131234"
    assert stored_hash == pii.lookup_hash("13803131234", purpose="phone")
    user.refresh_from_db()
    assert user.phone == "13803131234"
    assert user.masked_phone == "138****1234"
