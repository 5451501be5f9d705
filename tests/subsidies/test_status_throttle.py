"""The public look-ups by number and code are throttled (core/throttle.py): failed tries count per client address
and per number; past either limit the page answers 429 with a Chinese message and the API 429 too_many_lookups with
Retry-After — a right answer included, and a wrong number and a wrong phone are refused alike. The windows begin at
the first failure, so nothing here depends on the time of day."""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client, RequestFactory, override_settings

from huanxin.core import throttle
from huanxin.core.models import Organisation, Region
from huanxin.core.roles import Role
from huanxin.demo import identities
from huanxin.recycling import services as recycling
from huanxin.subsidies import rules
from huanxin.subsidies.applications import ItemIn, submit_application
from huanxin.subsidies.models import Application
from tests.factories import UserFactory
from tests.subsidies.conftest import make_programme

pytestmark = pytest.mark.django_db

PAGE = "/subsidies/status/"
API = "/api/v1/subsidies/status"
PHONE = "13912345678"
TOO_MANY = "查询过于频繁"


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """The counts live in the cache: each test starts and ends with none (tests/conftest.py clears it too)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def application(boss) -> Application:
    programme = make_programme(boss, parameters={**rules.DEFAULTS["appliance"], "sample_pct": 0})
    item = ItemIn(
        kind="refrigerator",
        invoice_no="INV-T1",
        invoice_date=programme.opens_on + dt.timedelta(days=1),
        price_fen=4_999_00,
        grade="1",
        brand_model="海尔BCD-501",
        serial="SN-T1",
    )
    store = Organisation.objects.create(name="焕新家电商行", kind="merchant", region=Region.objects.get(code="130702"))
    return submit_application(
        actor=UserFactory(role=Role.MERCHANT, organisation=store),  # a merchant's till files for its customer
        programme=programme,
        applicant_name="林芳",
        applicant_id=identities.resident_id(random.Random(7)),
        phone=PHONE,
        items=[item],
    )


def from_address(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def result_card(response) -> str:
    match = re.search(r'<div class="card" id="status-result">.*?</div>', response.content.decode(), re.S)
    assert match, "no result on the page"
    return match.group(0)


def other_number(i: int) -> str:
    return f"BT261206{9_000_000 + i:07d}"


def test_the_limits_are_settings() -> None:
    assert settings.LOOKUP_FAILURES_PER_ADDRESS == 10 and settings.LOOKUP_ADDRESS_WINDOW_SECONDS == 600
    assert settings.LOOKUP_FAILURES_PER_NUMBER == 5 and settings.LOOKUP_NUMBER_WINDOW_SECONDS == 3600
    assert settings.TRUSTED_PROXIES == []


def test_right_answers_are_not_counted(application) -> None:
    client = from_address("203.0.113.1")
    for _ in range(settings.LOOKUP_FAILURES_PER_ADDRESS + settings.LOOKUP_FAILURES_PER_NUMBER):
        page = client.get(PAGE, {"number": application.number, "phone4": "5678"})
        assert page.status_code == 200 and application.number in page.content.decode()
        assert client.get(API, {"number": application.number, "phone4": "5678"}).status_code == 200


def test_the_page_refuses_an_address_after_its_failures(application) -> None:
    guesser = from_address("203.0.113.2")
    for i in range(settings.LOOKUP_FAILURES_PER_ADDRESS):
        wrong = guesser.get(PAGE, {"number": other_number(i), "phone4": "1234"})
        assert wrong.status_code == 200 and "未找到" in wrong.content.decode()
    refused = guesser.get(PAGE, {"number": application.number, "phone4": "5678"})  # even the right answer
    html = refused.content.decode()
    assert refused.status_code == 429
    assert "查询过于频繁，请10分钟后再试" in html and "人工审核中" not in html and "已受理" not in html
    assert "未找到" not in html
    # another address is not affected
    other = from_address("198.51.100.7").get(PAGE, {"number": application.number, "phone4": "5678"})
    assert other.status_code == 200 and "999.80" in other.content.decode()


def test_a_number_is_refused_to_every_address_after_its_failures(application) -> None:
    for i in range(settings.LOOKUP_FAILURES_PER_NUMBER):
        address = f"203.0.113.{10 + i}"
        assert from_address(address).get(PAGE, {"number": application.number, "phone4": f"{i:04d}"}).status_code == 200
    fresh = from_address("198.51.100.20")
    refused = fresh.get(PAGE, {"number": application.number, "phone4": "5678"})
    assert refused.status_code == 429 and "查询过于频繁，请60分钟后再试" in refused.content.decode()
    api = fresh.get(API, {"number": application.number.lower(), "phone4": "5678"})  # the same number, any case
    assert api.status_code == 429 and api.json()["code"] == "too_many_lookups"
    assert fresh.get(PAGE, {"number": other_number(1), "phone4": "5678"}).status_code == 200  # other numbers go on


def test_the_api_refuses_with_a_stable_code_and_retry_after(application) -> None:
    guesser = from_address("203.0.113.30")
    for i in range(settings.LOOKUP_FAILURES_PER_ADDRESS):
        missing = guesser.get(API, {"number": other_number(i), "phone4": "1234"})
        assert missing.status_code == 404 and missing.json()["code"] == "application_not_found"
    refused = guesser.get(API, {"number": application.number, "phone4": "5678"})
    assert refused.status_code == 429
    body = refused.json()
    assert body == {"code": "too_many_lookups", "message": "查询过于频繁，请10分钟后再试"}
    assert 590 <= int(refused["Retry-After"]) <= 600


def test_the_page_and_the_api_share_the_counts(application) -> None:
    guesser = from_address("203.0.113.40")
    for i in range(settings.LOOKUP_FAILURES_PER_NUMBER):
        url = PAGE if i % 2 else API
        guesser.get(url, {"number": application.number, "phone4": f"{i:04d}"})
    assert from_address("198.51.100.41").get(API, {"number": application.number, "phone4": "5678"}).status_code == 429


def test_a_wrong_number_and_a_wrong_phone_get_the_same_answer(application) -> None:
    client = from_address("203.0.113.50")
    unknown = other_number(50)
    wrong_phone = client.get(API, {"number": application.number, "phone4": "0000"})
    wrong_number = client.get(API, {"number": unknown, "phone4": "5678"})
    assert wrong_phone.status_code == wrong_number.status_code == 404
    assert wrong_phone.json() == wrong_number.json()
    page_phone = client.get(PAGE, {"number": application.number, "phone4": "0000"})
    page_number = client.get(PAGE, {"number": unknown, "phone4": "5678"})
    assert page_phone.status_code == page_number.status_code == 200
    assert result_card(page_phone) == result_card(page_number) and "未找到" in result_card(page_phone)
    # an unknown number is throttled exactly like a known one: the refusal is no oracle either
    for i in range(settings.LOOKUP_FAILURES_PER_NUMBER - 2):
        from_address(f"203.0.113.{60 + i}").get(API, {"number": application.number, "phone4": "0000"})
        from_address(f"203.0.113.{60 + i}").get(API, {"number": unknown, "phone4": "0000"})
    known = from_address("198.51.100.60").get(API, {"number": application.number, "phone4": "0000"})
    made_up = from_address("198.51.100.60").get(API, {"number": unknown, "phone4": "0000"})
    assert known.status_code == made_up.status_code == 429
    assert known.json() == made_up.json()


def test_a_forged_forwarded_for_header_does_not_change_the_address(application) -> None:
    for i in range(settings.LOOKUP_FAILURES_PER_ADDRESS):
        Client(REMOTE_ADDR="203.0.113.70", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}").get(
            PAGE, {"number": other_number(i), "phone4": "1234"}
        )
    forged = Client(REMOTE_ADDR="203.0.113.70", HTTP_X_FORWARDED_FOR="192.0.2.200")
    assert forged.get(PAGE, {"number": application.number, "phone4": "5678"}).status_code == 429


def test_client_address_believes_only_trusted_proxies() -> None:
    factory = RequestFactory()
    direct = factory.get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="192.0.2.1")
    assert throttle.client_address(direct) == "203.0.113.9"
    proxied = factory.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.3, 10.0.0.1")
    assert throttle.client_address(proxied) == "10.0.0.2"
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8"]):
        assert throttle.client_address(proxied) == "198.51.100.3"  # the hop before our proxies, not the forged one
        assert throttle.client_address(factory.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"
        assert throttle.client_address(direct) == "203.0.113.9"
    ipv6 = factory.get("/", REMOTE_ADDR="2001:db8:1:2:aaaa::1")
    assert throttle.client_address(ipv6) == "2001:db8:1:2::/64"


def test_the_window_begins_at_the_first_failure_and_ends(application, monkeypatch) -> None:
    start = time.time()
    guesser = from_address("203.0.113.80")
    for i in range(settings.LOOKUP_FAILURES_PER_ADDRESS):
        guesser.get(PAGE, {"number": other_number(i), "phone4": "1234"})
    monkeypatch.setattr(time, "time", lambda: start + settings.LOOKUP_ADDRESS_WINDOW_SECONDS - 30)
    still = guesser.get(API, {"number": application.number, "phone4": "5678"})
    assert still.status_code == 429 and 30 <= int(still["Retry-After"]) <= 40
    assert still.json()["message"] == "查询过于频繁，请1分钟后再试"
    monkeypatch.setattr(time, "time", lambda: start + settings.LOOKUP_ADDRESS_WINDOW_SECONDS + 1)
    assert guesser.get(API, {"number": application.number, "phone4": "5678"}).status_code == 200


@override_settings(LOOKUP_FAILURES_PER_ADDRESS=2, LOOKUP_FAILURES_PER_NUMBER=50)
def test_the_limits_follow_the_settings(application) -> None:
    guesser = from_address("203.0.113.90")
    for i in range(2):
        assert guesser.get(API, {"number": other_number(i), "phone4": "1234"}).status_code == 404
    assert guesser.get(API, {"number": application.number, "phone4": "5678"}).status_code == 429


def test_certificate_verification_is_throttled_the_same_way(dismantler, recycler) -> None:
    clerk, site = dismantler
    rng = random.Random(11)
    certificate = recycling.issue_certificate(
        actor=clerk,
        kind="vehicle",
        site=site,
        category="car",
        owner_name="赵建国",
        owner_id=identities.resident_id(rng),
        vin=identities.vin(rng),
        plate="冀G12345",
        fuel="petrol",
        registered_on=dt.date(2010, 1, 1),
    )
    right = {"number": certificate.number, "code": certificate.verify_code}
    guesser = from_address("203.0.113.100")
    assert guesser.get("/recycling/verify/", right).status_code == 200
    for i in range(settings.LOOKUP_FAILURES_PER_NUMBER):
        wrong = {"number": certificate.number, "code": f"WRONG{i:03d}"}
        answer = from_address(f"203.0.113.{110 + i}").get("/api/v1/recycling/certificates/verify", wrong)
        assert answer.status_code == 404 and answer.json()["code"] == "certificate_not_found"
    page = guesser.get("/recycling/verify/", right)
    assert page.status_code == 429 and "查询过于频繁，请60分钟后再试" in page.content.decode()
    assert "证明有效" not in page.content.decode()
    api = guesser.get("/api/v1/recycling/certificates/verify", right)
    assert api.status_code == 429 and api.json()["code"] == "too_many_lookups" and int(api["Retry-After"]) > 3500
    # the subsidy status page keeps its own counts
    assert guesser.get(PAGE, {"number": other_number(1), "phone4": "1234"}).status_code == 200
