"""Demo citizens' verified identities (实名): `jumin` (林芳) and the recycling demo's `jm-N` are verified through
`identity.verify_identity` — the configured provider, the local stand-in by default — each with a made-up resident
ID number drawn from the username, so a second run finds them verified and changes nothing."""

from __future__ import annotations

import random
from typing import TextIO

from django.core.management.base import OutputWrapper

from huanxin.core import identity
from huanxin.core.models import User
from huanxin.core.roles import Role
from huanxin.demo import identities

REGIONS = identities.DISTRICTS + identities.COUNTIES


def _is_demo_citizen(user: User) -> bool:
    return user.username == "jumin" or user.username.startswith("jm-")


def verify(stdout: TextIO | OutputWrapper) -> None:
    made = 0
    for user in User.objects.filter(role=Role.CITIZEN, identity_verified_at__isnull=True).order_by("pk"):
        if not _is_demo_citizen(user):
            continue
        rng = random.Random(f"demo-citizen:{user.username}")  # noqa: S311 - demo data, not security
        number = identities.resident_id(rng, region=rng.choice(REGIONS))
        identity.verify_identity(
            actor=user,
            name=user.display_name or identities.name(rng),
            resident_id=number,
            phone=user.phone or identities.phone(rng),
        )
        made += 1
    if made:
        stdout.write(f"实名认证演示数据：{made} 位居民已完成实名认证\n")
