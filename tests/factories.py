"""factory_boy factories for the people and organisations tests need."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from huanxin.core import pii
from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role
from huanxin.demo import identities


class RegionFactory(DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = "130700"
    name = "张家口市"
    kind = Region.Kind.CITY


class OrganisationFactory(DjangoModelFactory):
    class Meta:
        model = Organisation
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"测试组织{n}")
    kind = Organisation.Kind.MERCHANT
    region = factory.SubFactory(RegionFactory)


def resident_id_of(n: int) -> str:
    """A valid resident ID number for the n-th user: a different birth date for each n, so no two users made in one
    test run share one."""
    return identities.resident_id(random.Random(n), born=dt.date(1950, 1, 1) + dt.timedelta(days=n % 20_000))


class UserFactory(DjangoModelFactory):
    """A user; a citizen comes with a verified identity (实名: a made-up name, a distinct resident ID and a phone per
    user) unless made with `verified=False`. `verified_name=…` etc. choose the identity."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    class Params:
        verified = factory.LazyAttribute(lambda o: o.role == Role.CITIZEN)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    role = Role.CITIZEN
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")
    verified_name = factory.LazyAttributeSequence(lambda o, n: identities.name(random.Random(n)) if o.verified else "")
    verified_resident_id = factory.LazyAttributeSequence(lambda o, n: resident_id_of(n) if o.verified else "")
    verified_phone = factory.LazyAttributeSequence(lambda o, n: f"139{n % 10**8:08d}" if o.verified else "")
    resident_id_hash = factory.LazyAttribute(
        lambda o: pii.lookup_hash(o.verified_resident_id, purpose="resident_id") if o.verified else ""
    )
    identity_verified_at = factory.LazyAttribute(lambda o: timezone.now() if o.verified else None)
    identity_reference = factory.LazyAttributeSequence(lambda o, n: f"test-{n}" if o.verified else "")

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


def department_org(name: str) -> Organisation:
    """The organisation of a plan department, by any name the plan uses (市住房和城乡建设局, 市发展和改革委 …)."""
    department = Department.objects.resolve(name)
    org, _ = Organisation.objects.get_or_create(
        name=department.name,
        defaults={
            "kind": Organisation.Kind.DEPARTMENT,
            "region": department.region,
            "department": department,
        },
    )
    return org


def officer(department: str, **kwargs: Any) -> User:
    """A department officer (责任单位经办人) of the named department."""
    return UserFactory(role=Role.DEPARTMENT_OFFICER, organisation=department_org(department), **kwargs)


def task_force(**kwargs: Any) -> User:
    return UserFactory(role=Role.TASK_FORCE, organisation=department_org("市发展和改革委员会"), **kwargs)


def user_with_role(role: Role, **kwargs: Any) -> User:
    return UserFactory(role=role, organisation=OrganisationFactory(), **kwargs)
