"""A citizen applies for themself: the applicant is the account's verified identity (实名) on every channel — the
service, the web form, the API. Another person's ID number is refused (identity_mismatch), an account not yet
verified is refused (identity_not_verified) or, on the web, sent to verify first and brought back; a merchant at
the till still enters the customer's identity. Other citizen forms (the pickup booking) are filled in from it."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from huanxin.core import pii, tokens
from huanxin.core.models import AuditEvent, User
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.subsidies import rules, selectors
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application, Claim, Programme
from tests.factories import UserFactory, user_with_role
from tests.subsidies.accounts import payee, payee_json
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db

NAME, PHONE = "林芳", "13912345678"
TODAY = timezone.localdate()


@pytest.fixture
def programme(boss) -> Programme:
    return make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0}, budget_fen=100_000_00)


@pytest.fixture
def citizen(plan) -> User:
    return UserFactory(role=Role.CITIZEN, verified_name=NAME, verified_phone=PHONE)


@pytest.fixture
def unverified(plan) -> User:
    return UserFactory(role=Role.CITIZEN, verified=False, display_name="小王", phone="13700002222")


@pytest.fixture
def merchant(plan) -> User:
    return user_with_role(Role.MERCHANT)


def someone_else() -> str:
    return identities.resident_id(random.Random("someone-else"))


def fridge(kind: str = "refrigerator") -> ItemIn:
    return ItemIn(
        kind=kind,
        invoice_no=f"INV{random.randrange(10**9)}",
        invoice_date=TODAY,
        price_fen=4_999_00,
        grade="1",
        serial=f"SN{random.randrange(10**9)}",
    )


def submit(actor: User, programme: Programme, **kwargs: Any) -> Application:
    values = {"applicant_name": "", "applicant_id": "", "phone": "", "items": [fridge()], **payee(NAME), **kwargs}
    return submit_application(actor=actor, programme=programme, **values)


def code_of(exc: ValidationError) -> str:
    return exc.error_list[0].code or ""


def nothing_written(programme: Programme) -> bool:
    return (
        not Application.objects.exists()
        and not Claim.objects.exists()
        and selectors.balances(programme).reserved_fen == 0
    )


# --- the service -----------------------------------------------------------------------------------------------------


def test_a_citizens_application_is_in_the_verified_identity(citizen, programme) -> None:
    application = submit(citizen, programme)
    assert (application.applicant_name, application.applicant_id, application.phone) == (
        NAME,
        citizen.verified_resident_id,
        PHONE,
    )
    assert application.applicant_hash == citizen.resident_id_hash and application.applicant_user == citizen
    assert application.channel == Application.Channel.CITIZEN
    # a name or a phone sent along is not the account's: ignored; the own number, however typed, is accepted
    own = citizen.verified_resident_id
    second = submit(
        citizen,
        programme,
        applicant_name="王强",
        applicant_id=f" {own[:6]} {own[6:].lower()} ",
        phone="13800001111",
        items=[fridge("tv")],
    )
    assert (second.applicant_name, second.applicant_id, second.phone) == (NAME, own, PHONE)
    # and both count against the same person's limits
    with pytest.raises(ValidationError) as exc:
        submit(citizen, programme)
    assert code_of(exc.value) == "per_person_limit"


@pytest.mark.parametrize("whose", ["a stranger", "another verified citizen"])
def test_a_citizen_cannot_apply_in_someone_elses_name(citizen, programme, whose) -> None:
    number = someone_else() if whose == "a stranger" else UserFactory(role=Role.CITIZEN).verified_resident_id
    with pytest.raises(ValidationError) as exc:
        submit(citizen, programme, applicant_name="王强", applicant_id=number, phone="13800001111")
    assert code_of(exc.value) == "identity_mismatch"
    assert exc.value.messages[0].startswith("身份核验：") and "实名" in exc.value.messages[0]
    assert number not in exc.value.messages[0]
    assert nothing_written(programme)


def test_an_unverified_citizen_is_refused(unverified, programme) -> None:
    for number in ("", identities.resident_id(random.Random("own"))):
        with pytest.raises(ValidationError) as exc:
            submit(unverified, programme, applicant_name="小王", applicant_id=number, phone="13700002222")
        assert code_of(exc.value) == "identity_not_verified" and "请先完成实名认证" in exc.value.messages[0]
    assert nothing_written(programme)


def test_the_merchant_still_enters_the_customers_identity(merchant, citizen, programme) -> None:
    customer = someone_else()
    application = submit(merchant, programme, applicant_name="王强", applicant_id=customer, phone="13800001111")
    assert (application.applicant_name, application.applicant_id, application.phone) == (
        "王强",
        customer,
        "13800001111",
    )
    assert application.channel == Application.Channel.MERCHANT and application.applicant_user is None
    # a customer who has an account is still a customer at the till: the till types what the customer shows
    at_till = submit(merchant, programme, applicant_name=NAME, applicant_id=citizen.verified_resident_id, phone=PHONE)
    assert at_till.applicant_hash == citizen.resident_id_hash
    with pytest.raises(ValidationError) as exc:  # the till's fields stay required
        submit(merchant, programme, applicant_id=someone_else(), phone="13800001111", items=[fridge("tv")])
    assert code_of(exc.value) == "name_required"


def test_no_personal_data_in_the_audit_log_in_clear(citizen, programme) -> None:
    submit(citizen, programme)
    logged = json.dumps(
        list(AuditEvent.objects.values("object_repr", "changes", "actor_label")), ensure_ascii=False, default=str
    )
    assert citizen.verified_resident_id not in logged and PHONE not in logged and NAME not in logged


# --- the web ---------------------------------------------------------------------------------------------------------


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def goods(**kwargs: str) -> dict[str, str]:
    return {
        "token": f"t-{random.randrange(10**9)}",
        "kind_0": "refrigerator",
        "grade_0": "1",
        "invoice_0": f"W{random.randrange(10**9)}",
        "date_0": TODAY.isoformat(),
        "price_0": "4999.00",
        "serial_0": f"WS{random.randrange(10**9)}",
        **payee(NAME),
        **kwargs,
    }


def test_the_citizens_form_shows_the_verified_identity_and_the_merchants_asks_for_it(
    citizen, merchant, programme
) -> None:
    url = reverse("subsidies:apply", args=[programme.code])
    page = logged_in(citizen).get(url).content.decode()
    assert 'id="applicant-identity"' in page and NAME in page
    assert pii.mask_resident_id(citizen.verified_resident_id) in page and pii.mask_phone(PHONE) in page
    assert citizen.verified_resident_id not in page and PHONE not in page
    assert 'name="applicant_id"' not in page and 'name="phone"' not in page
    till = logged_in(merchant).get(url).content.decode()
    assert 'name="applicant_name"' in till and 'name="applicant_id"' in till and 'name="phone"' in till
    assert 'id="applicant-identity"' not in till


def test_a_citizen_applies_on_the_web_in_the_verified_identity(citizen, programme) -> None:
    client = logged_in(citizen)
    url = reverse("subsidies:apply", args=[programme.code])
    refused = client.post(url, goods(applicant_name="王强", applicant_id=someone_else(), phone="13800001111"))
    assert refused.status_code == 200
    assert "所填身份证号码与账户实名信息不一致" in refused.content.decode()
    assert nothing_written(programme)
    done = client.post(url, goods())
    assert done.status_code == 302
    application = Application.objects.get()
    assert (application.applicant_name, application.applicant_id) == (NAME, citizen.verified_resident_id)


def test_an_unverified_citizen_is_sent_to_verify_and_back(unverified, programme) -> None:
    client = logged_in(unverified)
    url = reverse("subsidies:apply", args=[programme.code])
    for response in (client.get(url), client.post(url, goods())):
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('identity')}?next=%2Fsubsidies%2Fapply%2F{programme.code}%2F"
    assert nothing_written(programme)
    page = client.get(reverse("identity"), {"next": url}).content.decode()
    assert "申请补贴须以本人实名进行" in page and f'name="next" value="{url}"' in page
    number = identities.resident_id(random.Random("unverified-own"))
    verified = client.post(
        reverse("identity"),
        {"name": "王小明", "resident_id": number, "phone": "13700002222", "consent": "on", "next": url},
    )
    assert verified.status_code == 302 and verified["Location"] == url
    form = client.get(url)
    assert form.status_code == 200 and "王小明" in form.content.decode()
    done = client.post(url, goods())
    assert done.status_code == 302
    assert Application.objects.get().applicant_id == number


# --- the API ---------------------------------------------------------------------------------------------------------


def post(client: Client, body: dict[str, Any], key: str, **headers: str):
    return client.post(
        "/api/v1/subsidies/applications",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
        **headers,
    )


def body(programme: Programme, **applicant: str) -> dict[str, Any]:
    item = {
        "kind": "refrigerator",
        "invoice_no": f"A{random.randrange(10**9)}",
        "invoice_date": TODAY.isoformat(),
        "price_fen": 4_999_00,
        "grade": "1",
        "serial": f"AS{random.randrange(10**9)}",
    }
    return {"programme": programme.code, "items": [item], "payee": payee_json(NAME), **applicant}


def test_a_citizen_over_the_api_applies_in_the_verified_identity(citizen, programme) -> None:
    client = logged_in(citizen)
    done = post(client, body(programme), "c-1")  # no applicant fields at all
    assert done.status_code == 201, done.content
    application = Application.objects.get(number=done.json()["number"])
    assert (application.applicant_name, application.applicant_id, application.phone) == (
        NAME,
        citizen.verified_resident_id,
        PHONE,
    )
    other = post(client, body(programme, applicant_name="王强", applicant_id=someone_else()), "c-2")
    assert other.status_code == 422 and other.json()["code"] == "identity_mismatch"
    assert "实名" in other.json()["message"]
    assert Application.objects.count() == 1


def test_an_unverified_citizen_over_the_api_gets_422(unverified, programme) -> None:
    refused = post(logged_in(unverified), body(programme), "u-1")
    assert refused.status_code == 422 and refused.json()["code"] == "identity_not_verified"
    assert "请先完成实名认证" in refused.json()["message"]
    assert nothing_written(programme)


def test_the_tills_api_is_unchanged(merchant, programme) -> None:
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    client = Client(enforce_csrf_checks=True)
    missing = post(client, body(programme), "m-1", **auth)
    assert missing.status_code == 422 and missing.json()["code"] == "name_required"
    customer = someone_else()
    done = post(
        client, body(programme, applicant_name="王强", applicant_id=customer, phone="13800001111"), "m-2", **auth
    )
    assert done.status_code == 201, done.content
    assert Application.objects.get().applicant_id == customer


# --- the pickup booking: the citizen's own name and phone --------------------------------------------------------


def test_the_pickup_booking_is_filled_in_from_the_verified_identity(plan, citizen, unverified, merchant) -> None:
    form = logged_in(citizen).get(reverse("recycling:book")).context["form"]
    assert (form["contact_name"], form["phone"]) == (NAME, PHONE)
    form = logged_in(unverified).get(reverse("recycling:book")).context["form"]  # not verified: the account's
    assert (form["contact_name"], form["phone"]) == ("小王", "13700002222")
    form = logged_in(merchant).get(reverse("recycling:book")).context["form"]  # for a customer: empty
    assert (form["contact_name"], form["phone"]) == ("", "")
    typed = logged_in(citizen).get(reverse("recycling:book"), {"contact_name": "林芳家人", "phone": "13600003333"})
    assert typed.context["form"]["contact_name"] == "林芳家人"  # someone else at home may take the pickup


# --- in a browser, on a phone ----------------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_a_citizen_is_sent_to_verify_and_comes_back_to_apply(plan, boss, live_server) -> None:
    """Apply → 实名认证 (a refusal shown by its field) → verified → back on the form, which shows the identity."""
    from tests.browser import ARTIFACTS, CHROMIUM, PASSWORD, login

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    import os

    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the sync API's event loop in this thread
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0})
    UserFactory(username="jumin-id", password=PASSWORD, role=Role.CITIZEN, verified=False, display_name="林芳")
    number = identities.resident_id(random.Random("phone-own"))
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
        page = context.new_page()
        page.set_default_timeout(15000)
        login(page, live_server, "jumin-id")
        assert page.locator("#identity-badge").inner_text() == "未实名认证"
        page.goto(f"{live_server.url}/subsidies/apply/{programme.code}/")
        page.wait_for_url(f"{live_server.url}/accounts/identity/?next=*")
        page.get_by_text("申请补贴须以本人实名进行").wait_for()
        page.screenshot(path=str(ARTIFACTS / "identity-verify-mobile.png"), full_page=True)
        page.get_by_label("姓名").fill(NAME)
        page.get_by_label("身份证号码").fill(number[:-1] + ("0" if number[-1] != "0" else "1"))  # a wrong check digit
        page.get_by_label("手机号码").fill(PHONE)
        page.get_by_role("checkbox").check()
        page.get_by_role("button", name="提交认证").click()
        page.locator("#e-id").wait_for()
        assert "校验码" in page.locator("#e-id").inner_text()
        page.screenshot(path=str(ARTIFACTS / "identity-refused-mobile.png"), full_page=True)
        page.get_by_label("身份证号码").fill(number)
        page.get_by_role("button", name="提交认证").click()
        page.wait_for_url(f"{live_server.url}/subsidies/apply/{programme.code}/")
        shown = page.locator("#applicant-identity").inner_text()
        assert NAME in shown and pii.mask_resident_id(number) in shown and pii.mask_phone(PHONE) in shown
        assert page.locator("#identity-badge").inner_text() == "已实名"
        page.screenshot(path=str(ARTIFACTS / "identity-apply-mobile.png"), full_page=True)
        page.goto(f"{live_server.url}/accounts/identity/")
        page.screenshot(path=str(ARTIFACTS / "identity-verified-mobile.png"), full_page=True)
        browser.close()
    assert User.objects.get(username="jumin-id").verified_resident_id == number
