"""实名认证: an account's identity is verified once through the configured provider, stored encrypted with a look-up
hash of the ID number, fixed from then on (an official may reset it), never on two accounts, and audited masked."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from huanxin.core import identity, pii
from huanxin.core.models import AuditEvent, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from tests.factories import UserFactory, task_force, user_with_role

pytestmark = pytest.mark.django_db

NAME = "林芳"
PHONE = "13912345678"


def person(n: int) -> str:
    return identities.resident_id(random.Random(f"identity-test-{n}"), born=dt.date(1980, 1, 1) + dt.timedelta(days=n))


@pytest.fixture
def citizen(plan) -> User:
    return UserFactory(role=Role.CITIZEN, verified=False, display_name="小林")


def code_of(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return next(iter(exc.error_dict.values()))[0].code or ""
    return exc.error_list[0].code or ""


class ApprovingProvider:
    """A provider named by the setting, as an adapter of a real service would be."""

    calls: list[tuple[str, str, str]] = []

    def verify(self, name: str, resident_id: str, phone: str) -> identity.Result:
        ApprovingProvider.calls.append((name, resident_id, phone))
        return identity.Result(True, reference="GA-2025-000123")


# --- the service ---------------------------------------------------------------------------------------------------


def test_a_citizen_verifies_once_and_the_identity_is_stored_encrypted(citizen) -> None:
    number = person(1)
    identity.verify_identity(actor=citizen, name=f" {NAME} ", resident_id=f"{number[:6]} {number[6:]}", phone=PHONE)
    citizen.refresh_from_db()
    assert citizen.identity_verified and citizen.identity_reference.startswith("local-")
    assert (citizen.verified_name, citizen.verified_resident_id, citizen.verified_phone) == (NAME, number, PHONE)
    # the look-up hash is the one the subsidies' per-person limits use for the same number
    assert citizen.resident_id_hash == pii.lookup_hash(number, purpose="resident_id")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT verified_name, verified_resident_id, verified_phone FROM core_user WHERE id = %s", [citizen.pk]
        )
        row = cursor.fetchone()
    assert all(value.startswith("g1:") for value in row)
    assert NAME not in "".join(row) and number not in "".join(row) and PHONE not in "".join(row)


def test_the_same_identity_again_changes_nothing_and_other_data_is_refused(citizen) -> None:
    number = person(2)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    citizen.refresh_from_db()
    verified_at, reference = citizen.identity_verified_at, citizen.identity_reference
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)  # a second click
    assert AuditEvent.objects.filter(action="user.identity_verified").count() == 1
    for other in [
        {"name": "王强", "resident_id": number, "phone": PHONE},
        {"name": NAME, "resident_id": person(3), "phone": PHONE},
        {"name": NAME, "resident_id": number, "phone": "13800001111"},
    ]:
        with pytest.raises(ValidationError) as exc:
            identity.verify_identity(actor=citizen, **other)
        assert code_of(exc.value) == identity.ALREADY_VERIFIED
        assert "实名信息不能更改" in exc.value.messages[0] and number not in exc.value.messages[0]
    citizen.refresh_from_db()
    assert (citizen.verified_name, citizen.verified_resident_id, citizen.verified_phone) == (NAME, number, PHONE)
    assert (citizen.identity_verified_at, citizen.identity_reference) == (verified_at, reference)


def test_an_id_verified_on_another_account_is_refused(citizen) -> None:
    number = person(4)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    second = UserFactory(role=Role.CITIZEN, verified=False)
    with pytest.raises(ValidationError) as exc:
        identity.verify_identity(actor=second, name=NAME, resident_id=number.lower(), phone="13800001111")
    assert code_of(exc.value) == identity.IN_USE
    second.refresh_from_db()
    assert not second.identity_verified and second.resident_id_hash == ""
    assert AuditEvent.objects.filter(action="user.identity_verified").count() == 1


def test_the_database_refuses_one_id_on_two_verified_accounts(citizen) -> None:
    number = person(5)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    second = UserFactory(role=Role.CITIZEN, verified=False)
    # an account that is not verified may carry the hash (the constraint is among verified accounts only) …
    User.objects.filter(pk=second.pk).update(resident_id_hash=citizen.resident_id_hash)
    # … but not two verified ones: what a race past the service's own check would run into
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=second.pk).update(identity_verified_at=citizen.identity_verified_at)


@pytest.mark.parametrize(
    ("name", "number", "phone", "field"),
    [
        ("", person(6), PHONE, "name"),
        (NAME, person(6)[:-1] + ("0" if person(6)[-1] != "0" else "1"), PHONE, "resident_id"),
        (NAME, person(6)[:15], PHONE, "resident_id"),
        (NAME, person(6), "1391234567", "phone"),
        (NAME, person(6), "23912345678", "phone"),
    ],
)
def test_what_is_typed_is_checked_field_by_field(citizen, name, number, phone, field) -> None:
    with pytest.raises(ValidationError) as exc:
        identity.verify_identity(actor=citizen, name=name, resident_id=number, phone=phone)
    assert field in exc.value.error_dict
    citizen.refresh_from_db()
    assert not citizen.identity_verified
    assert not AuditEvent.objects.filter(action="user.identity_verified").exists()


def test_the_stand_in_refuses_the_numbers_it_is_told_to(citizen, settings) -> None:
    number = person(7)
    settings.HUANXIN_IDENTITY_REFUSED = [number]
    with pytest.raises(ValidationError) as exc:
        identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    assert code_of(exc.value) == identity.REFUSED and "核验不一致" in exc.value.messages[0]
    citizen.refresh_from_db()
    assert not citizen.identity_verified
    # the stand-in on its own: the same rules as the service's form checks
    stand_in = identity.LocalIdentityProvider()
    assert not stand_in.verify(NAME, number, PHONE).ok
    assert not stand_in.verify(NAME, person(8)[:17], PHONE).ok
    assert not stand_in.verify(NAME, person(8), "12345").ok
    assert not stand_in.verify(" ", person(8), PHONE).ok
    accepted = stand_in.verify(NAME, person(8), PHONE)
    assert accepted.ok and accepted.reference.startswith("local-")


def test_the_provider_is_the_one_the_setting_names(citizen, settings) -> None:
    settings.HUANXIN_IDENTITY_PROVIDER = "tests.core.test_identity.ApprovingProvider"
    ApprovingProvider.calls.clear()
    number = person(9)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    assert ApprovingProvider.calls == [(NAME, number, PHONE)]
    citizen.refresh_from_db()
    assert citizen.identity_reference == "GA-2025-000123"
    event = AuditEvent.objects.get(action="user.identity_verified")
    assert event.changes["provider"] == "tests.core.test_identity.ApprovingProvider"


@pytest.mark.parametrize("role", [Role.MERCHANT, Role.TASK_FORCE, Role.RECYCLER])
def test_only_citizens_verify(plan, role) -> None:
    with pytest.raises(PermissionDenied):
        identity.verify_identity(actor=user_with_role(role), name=NAME, resident_id=person(10), phone=PHONE)


def test_no_personal_data_in_the_audit_log_in_clear(citizen) -> None:
    number = person(11)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    identity.reset_identity(actor=task_force(), user=citizen, reason="号码录入有误")
    event = AuditEvent.objects.get(action="user.identity_verified")
    assert event.changes["resident_id"] == pii.mask_resident_id(number)
    assert event.changes["phone"] == pii.mask_phone(PHONE) and event.changes["name"] == pii.mask_name(NAME)
    logged = json.dumps(
        list(AuditEvent.objects.values("object_repr", "changes", "actor_label", "object_id")), ensure_ascii=False
    )
    assert number not in logged and PHONE not in logged and NAME not in logged
    assert number[6:14] not in logged  # not even the birth date


# --- an official's reset -------------------------------------------------------------------------------------------


def test_the_task_force_resets_an_identity_and_the_citizen_verifies_again(citizen) -> None:
    identity.verify_identity(actor=citizen, name=NAME, resident_id=person(12), phone=PHONE)
    for outsider in (citizen, user_with_role(Role.REVIEWER), user_with_role(Role.MERCHANT)):
        with pytest.raises(PermissionDenied):
            identity.reset_identity(actor=outsider, user=citizen, reason="更正")
    with pytest.raises(ValidationError):
        identity.reset_identity(actor=task_force(), user=citizen, reason=" ")
    identity.reset_identity(actor=task_force(), user=citizen, reason="身份证号码录入有误，本人来电更正")
    citizen.refresh_from_db()
    assert not citizen.identity_verified and citizen.verified_resident_id == "" and citizen.resident_id_hash == ""
    identity.verify_identity(actor=citizen, name=NAME, resident_id=person(13), phone=PHONE)
    citizen.refresh_from_db()
    assert citizen.verified_resident_id == person(13)
    # the number given up is free for its rightful owner
    owner = UserFactory(role=Role.CITIZEN, verified=False)
    identity.verify_identity(actor=owner, name="王强", resident_id=person(12), phone="13800001111")


# --- applying in one's own identity ------------------------------------------------------------------------------


def test_own_identity_is_the_accounts_and_refuses_another_number(citizen) -> None:
    with pytest.raises(ValidationError) as exc:
        identity.own_identity(citizen)
    assert code_of(exc.value) == identity.NOT_VERIFIED
    number = person(14)
    identity.verify_identity(actor=citizen, name=NAME, resident_id=number, phone=PHONE)
    assert identity.own_identity(citizen) == (NAME, number, PHONE)
    assert identity.own_identity(citizen, claimed_id=f" {number[:-1]}{number[-1].lower()} ") == (NAME, number, PHONE)
    with pytest.raises(ValidationError) as exc:
        identity.own_identity(citizen, claimed_id=person(15))
    assert code_of(exc.value) == identity.MISMATCH and "不一致" in exc.value.messages[0]


# --- the page --------------------------------------------------------------------------------------------------------


def test_the_page_verifies_and_goes_back_where_the_citizen_was(citizen) -> None:
    client = Client()
    client.force_login(citizen)
    page = reverse("identity")
    body = client.get(page, {"next": "/subsidies/"}).content.decode()
    assert 'id="identity-form"' in body and 'name="resident_id"' in body and 'value="/subsidies/"' in body
    number = person(16)
    form = {"name": NAME, "resident_id": number, "phone": PHONE, "next": "/subsidies/apply/x/?a=1"}
    refused = client.post(page, form)  # without the consent
    assert refused.status_code == 400 and "请阅读并勾选同意" in refused.content.decode()
    response = client.post(page, {**form, "consent": "on"})
    assert response.status_code == 302 and response["Location"] == "/subsidies/apply/x/?a=1"
    citizen.refresh_from_db()
    assert citizen.verified_resident_id == number
    shown = client.get(page).content.decode()
    assert "已实名" in shown and pii.mask_resident_id(number) in shown and number not in shown
    assert pii.mask_phone(PHONE) in shown and PHONE not in shown


@pytest.mark.parametrize(
    "unsafe", ["https://evil.example/phish", "//evil.example/", "javascript:alert(1)", "http://testserver/x"]
)
def test_a_next_that_leaves_the_site_is_not_followed(citizen, unsafe) -> None:
    client = Client()  # plain http: an http:// URL of this very host is fine, but the test says https only for https
    client.force_login(citizen)
    form = {"name": NAME, "resident_id": person(17), "phone": PHONE, "consent": "on", "next": unsafe}
    response = client.post(reverse("identity"), form)
    expected = "http://testserver/x" if unsafe == "http://testserver/x" else reverse("subsidies:home")
    assert response.status_code == 302 and response["Location"] == expected
    assert "evil" not in client.get(reverse("identity"), {"next": unsafe}).content.decode()


def test_the_page_shows_refusals_by_field_and_as_a_whole(citizen) -> None:
    client = Client()
    client.force_login(citizen)
    bad = client.post(reverse("identity"), {"name": "", "resident_id": "1234", "phone": "1", "consent": "on"})
    body = bad.content.decode()
    assert bad.status_code == 400 and 'id="e-name"' in body and 'id="e-id"' in body and 'id="e-phone"' in body
    other = UserFactory(role=Role.CITIZEN)  # verified by the factory
    taken = client.post(
        reverse("identity"),
        {"name": NAME, "resident_id": other.verified_resident_id, "phone": PHONE, "consent": "on"},
    )
    assert taken.status_code == 400 and "已在另一个账户完成实名认证" in taken.content.decode()


def test_only_citizens_see_the_page_and_the_nav_says_whether_they_are_verified(citizen) -> None:
    client = Client()
    client.force_login(user_with_role(Role.MERCHANT))
    assert client.get(reverse("identity")).status_code == 403
    assert 'id="identity-badge"' not in client.get("/").content.decode()
    client.force_login(citizen)
    home = client.get("/").content.decode()
    assert "未实名认证" in home and 'id="identity-status"' in home and reverse("identity") in home
    identity.verify_identity(actor=citizen, name=NAME, resident_id=person(18), phone=PHONE)
    home = client.get("/").content.decode()
    assert "已实名" in home and "未实名认证" not in home and pii.mask_resident_id(person(18)) in home
