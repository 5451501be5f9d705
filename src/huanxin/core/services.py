"""Writes on core models. Each function is one transaction and records its audit event."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.db import transaction

from huanxin.core import audit, pii
from huanxin.core.models import Organisation, Region, User
from huanxin.core.roles import Role


def _phone_fields(phone: str) -> dict[str, str]:
    phone = "".join(phone.split())
    return {"phone": phone, "phone_hash": pii.lookup_hash(phone, purpose="phone") if phone else ""}


@transaction.atomic
def create_organisation(
    *, actor: User | None, name: str, kind: str, region: Region, department: Any = None, uscc: str = ""
) -> Organisation:
    org = Organisation.objects.create(name=name, kind=kind, region=region, department=department, uscc=uscc)
    audit.record(
        actor=actor,
        action="organisation.created",
        target=org,
        changes={"name": name, "kind": kind, "region": region.code},
    )
    return org


@transaction.atomic
def create_user(
    *,
    actor: User | None,
    username: str,
    password: str | None,
    role: Role | str,
    organisation: Organisation | None = None,
    display_name: str = "",
    phone: str = "",
    is_staff: bool = False,
    is_superuser: bool = False,
    check_password: bool = True,
) -> User:
    user = User(
        username=username,
        role=role,
        organisation=organisation,
        display_name=display_name,
        is_staff=is_staff,
        is_superuser=is_superuser,
        **_phone_fields(phone),
    )
    if password is None:
        user.set_unusable_password()  # signs in only after an administrator sets a password
    else:
        if check_password:
            validate_password(password, user)
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit.record(
        actor=actor,
        action="user.created",
        target=user,
        # never the password, never the phone in clear
        changes={
            "role": str(role),
            "organisation": organisation.pk if organisation else None,
            "staff": is_staff,
        },
    )
    return user


@transaction.atomic
def update_user(*, actor: User | None, user: User, **fields: Any) -> User:
    """Change a user's role, organisation, name, phone or flags (the admin and the CLI use this)."""
    allowed = {
        "role",
        "organisation",
        "display_name",
        "phone",
        "is_active",
        "is_staff",
        "is_superuser",
        "email",
    }
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"cannot update {sorted(unknown)} through update_user")
    phone_changed = "phone" in fields
    if phone_changed:
        fields.update(_phone_fields(fields.pop("phone")))
    audited = [key for key in fields if key not in {"phone", "phone_hash"}]
    before = {key: _audit_value(getattr(user, key)) for key in audited}
    for key, value in fields.items():
        setattr(user, key, value)
    user.full_clean(exclude=["password"])
    user.save()
    changes = audit.diff(before, {key: _audit_value(getattr(user, key)) for key in audited})
    if phone_changed:
        changes["phone"] = "已更新"  # the number itself never enters the log
    audit.record(actor=actor, action="user.updated", target=user, changes=changes)
    return user


def _audit_value(value: Any) -> Any:
    return value.pk if hasattr(value, "pk") else value
