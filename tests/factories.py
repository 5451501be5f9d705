"""factory_boy factories for the people and organisations tests need."""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from huanxin.core.models import Department, Organisation, Region, User
from huanxin.core.roles import Role


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


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Sequence(lambda n: f"用户{n}")
    role = Role.CITIZEN
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

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
