"""实名认证: an account's verified identity — name, resident ID number and mobile phone — confirmed once by an
identity provider and fixed from then on. A citizen applies for subsidies in this identity and no other
(subsidies/applications.py takes it from the account).

The provider is anything with `verify(name, resident_id, phone) -> Result`, named by the setting
`HUANXIN_IDENTITY_PROVIDER` (a dotted path to a class made without arguments). In production that is an adapter
for a real 实名认证 service: the public security bureau's 身份核验 (name + ID number against the population
register, often with a face comparison), or a bank-card 四要素 check (name, ID number, card number and the phone the
bank holds for it). The default, `LocalIdentityProvider`, is a **stand-in**: it checks only that the numbers are
well formed and cannot tell whether they belong to the person typing them.

`verify_identity` is the one writer: it checks the form of what was typed, refuses a second verification with
other data and an ID number already verified on another account (also the database's unique constraint on the
number's look-up hash among verified accounts), asks the provider, and records the verification in the audit log
with the identity masked.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import NamedTuple, Protocol

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from huanxin.core import audit, pii
from huanxin.core.models import User
from huanxin.core.roles import Role, is_task_force
from huanxin.core.validators import clean_resident_id

PHONE = re.compile(r"^1[3-9][0-9]{9}$")  # an 11-digit mainland mobile number
MAX_NAME = 30
USER = "core.user"  # the audit events' object type

# refusal codes (a ValidationError's `code`; the API answers with them)
NOT_VERIFIED = "identity_not_verified"
MISMATCH = "identity_mismatch"
ALREADY_VERIFIED = "identity_already_verified"
IN_USE = "identity_in_use"
REFUSED = "identity_refused"
IN_USE_MESSAGE = "该身份证号码已在另一个账户完成实名认证，一个人只能认证一个账户；如有疑问，请联系工作人员"


class Result(NamedTuple):
    """A provider's answer: `ok`, the provider's reference for the check (kept on the account), and a message
    in Chinese saying why not."""

    ok: bool
    reference: str = ""
    message: str = ""


class IdentityProvider(Protocol):
    def verify(self, name: str, resident_id: str, phone: str) -> Result: ...


class LocalIdentityProvider:
    """A stand-in for a real 实名认证 service, used by default: it accepts a valid resident ID number
    (`core.validators.clean_resident_id`) with an 11-digit mobile number and a name, and refuses the numbers listed
    in the setting `HUANXIN_IDENTITY_REFUSED` (to try the refusal). It does **not** establish that the person is
    who they say: swap it for an adapter of the public security bureau's 身份核验 or a bank-card 四要素 check
    before real citizens use the platform."""

    def verify(self, name: str, resident_id: str, phone: str) -> Result:
        if not name.strip():
            return Result(False, message="姓名不能为空")
        try:
            number = clean_resident_id(resident_id)
        except ValidationError as exc:
            return Result(False, message=exc.messages[0])
        if not PHONE.match("".join(phone.split())):
            return Result(False, message="手机号码应为11位大陆手机号")
        refused = {pii.normalise(value) for value in getattr(settings, "HUANXIN_IDENTITY_REFUSED", [])}
        if number in refused:
            return Result(False, message="姓名、身份证号码与手机号码核验不一致")
        return Result(True, reference=f"local-{uuid.uuid4().hex}")


def provider() -> IdentityProvider:
    """The configured provider (`HUANXIN_IDENTITY_PROVIDER`), made anew for each verification."""
    factory = import_string(settings.HUANXIN_IDENTITY_PROVIDER)
    made: IdentityProvider = factory()
    return made


def may_verify(user: User | object) -> bool:
    """Citizens verify their own accounts; the other roles act for organisations and apply for nobody."""
    return getattr(user, "role", None) == Role.CITIZEN and getattr(user, "is_active", False)


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(f"实名认证：{message}", code=code)


def _clean(name: str, resident_id: str, phone: str) -> tuple[str, str, str]:
    """What was typed, in the form it is stored: a field-by-field refusal for the form otherwise."""
    errors: dict[str, ValidationError] = {}
    name = " ".join(name.split())
    if not name:
        errors["name"] = ValidationError("请填写身份证上的姓名", code="name_required")
    elif len(name) > MAX_NAME:
        errors["name"] = ValidationError(f"姓名不能超过{MAX_NAME}个字", code="name_too_long")
    number = ""
    try:
        number = clean_resident_id(resident_id)
    except ValidationError as exc:
        errors["resident_id"] = exc
    phone = "".join(phone.split())
    if not PHONE.match(phone):
        errors["phone"] = ValidationError("请填写11位手机号码", code="invalid_phone")
    if errors:
        raise ValidationError(errors)
    return name, number, phone


def _masked(name: str, resident_id: str, phone: str) -> dict[str, str]:
    return {
        "name": pii.mask_name(name),
        "resident_id": pii.mask_resident_id(resident_id),
        "phone": pii.mask_phone(phone),
    }


def verified_fields(name: str, resident_id: str, phone: str, *, reference: str, at: dt.datetime) -> dict[str, object]:
    """The account's columns for a verified identity (`verify_identity` writes them; the test factories too)."""
    return {
        "verified_name": name,
        "verified_resident_id": resident_id,
        "verified_phone": phone,
        "resident_id_hash": pii.lookup_hash(resident_id, purpose="resident_id"),
        "identity_verified_at": at,
        "identity_reference": reference[:80],
    }


@transaction.atomic
def verify_identity(*, actor: User, name: str, resident_id: str, phone: str, now: dt.datetime | None = None) -> User:
    """Verify the actor's own account once. The same identity again is answered as it stands; other data is
    refused (`identity_already_verified`), as is a number verified on another account (`identity_in_use`) or one
    the provider does not confirm (`identity_refused`)."""
    if not may_verify(actor):
        raise PermissionDenied("实名认证由居民本人在自己的账户中办理")
    name, number, phone = _clean(name, resident_id, phone)
    user = User.objects.select_for_update().get(pk=actor.pk)
    digest = pii.lookup_hash(number, purpose="resident_id")
    if user.identity_verified_at is not None:
        if (user.resident_id_hash, user.verified_name, user.verified_phone) == (digest, name, phone):
            return user  # the same identity again (a second click): nothing to do
        raise _refuse(
            f"本账户已于{timezone.localtime(user.identity_verified_at):%Y年%m月%d日}完成实名认证"
            f"（{user.masked_verified_name}，{user.masked_verified_id}），实名信息不能更改；如需更正，请联系工作人员",
            ALREADY_VERIFIED,
        )
    # the provider first: only someone whose name, number and phone it confirms learns that the number is taken
    result = provider().verify(name, number, phone)
    if not result.ok:
        raise _refuse(f"未通过核验：{result.message or '身份信息不一致'}", REFUSED)
    in_use = User.objects.filter(resident_id_hash=digest, identity_verified_at__isnull=False).exclude(pk=user.pk)
    if in_use.exists():
        raise _refuse(IN_USE_MESSAGE, IN_USE)
    fields = verified_fields(name, number, phone, reference=result.reference, at=now or timezone.now())
    for column, value in fields.items():
        setattr(user, column, value)
    try:
        with transaction.atomic():  # a savepoint: the unique constraint has the last word under a race
            user.save(update_fields=list(fields))
    except IntegrityError:
        raise _refuse(IN_USE_MESSAGE, IN_USE) from None
    audit.record(
        actor=actor,
        action="user.identity_verified",
        object_type=USER,  # not `target`: the event's object_repr would be the account's display name
        object_id=str(user.pk),
        # masked: the log never holds the identity in clear
        changes={**_masked(name, number, phone), "provider": settings.HUANXIN_IDENTITY_PROVIDER},
    )
    for column, value in fields.items():  # the caller's object (request.user) sees the verification too
        setattr(actor, column, value)
    return user


@transaction.atomic
def reset_identity(*, actor: User, user: User, reason: str) -> User:
    """An official undoes an account's verification (a typing error the provider confirmed anyway, a phone that
    changed hands), with the reason; the citizen then verifies again. Applications already made keep the identity
    they were made in. The task force only (and superusers)."""
    if not is_task_force(actor):
        raise PermissionDenied("重置实名认证由工作专班办理")
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ValidationError("请填写重置原因", code="reason_required")})
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.identity_verified_at is None:
        raise _refuse("该账户尚未实名认证，无需重置", NOT_VERIFIED)
    before = _masked(user.verified_name, user.verified_resident_id, user.verified_phone)
    fields = {
        "verified_name": "",
        "verified_resident_id": "",
        "verified_phone": "",
        "resident_id_hash": "",
        "identity_verified_at": None,
        "identity_reference": "",
    }
    for column, value in fields.items():
        setattr(user, column, value)
    user.save(update_fields=list(fields))
    audit.record(
        actor=actor,
        action="user.identity_reset",
        object_type=USER,
        object_id=str(user.pk),
        changes={**before, "reason": reason[:200]},
    )
    return user


def own_identity(user: User, *, claimed_id: str = "") -> tuple[str, str, str]:
    """A citizen's (name, resident ID, phone) to apply with: the account's verified identity. A request that names
    another ID number is refused (`identity_mismatch`); an account not yet verified too (`identity_not_verified`)."""
    if not user.identity_verified:
        raise ValidationError("身份核验：您的账户尚未完成实名认证，请先完成实名认证再申请补贴", code=NOT_VERIFIED)
    if claimed_id.strip() and pii.normalise(claimed_id) != user.verified_resident_id:
        raise ValidationError(
            "身份核验：居民本人只能以自己实名认证的身份申请补贴，所填身份证号码与账户实名信息不一致", code=MISMATCH
        )
    return user.verified_name, user.verified_resident_id, user.verified_phone
