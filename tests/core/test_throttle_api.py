"""Every API operation is throttled (core/throttle.py, django-ninja's throttles, state in the cache): a sliding minute
of requests per address without credentials and per user with them; past it 429 {"code": "throttled"} with a
Chinese message and Retry-After. The suite runs with high limits (tests/conftest.py); these tests set low ones. The
window is a sliding minute starting at the first request, so nothing depends on the time of day."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from huanxin.core import tokens
from huanxin.core.roles import Role
from tests.factories import user_with_role

pytestmark = pytest.mark.django_db

PUBLIC = "/api/v1/recycling/sites"  # open to anonymous callers
PRIVATE = "/api/v1/plans"  # needs credentials


def _throttled(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 429
    assert json.loads(response.content) == {"code": "throttled", "message": "请求过于频繁，请稍后再试"}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_anonymous_callers_are_limited_per_address(plan, settings) -> None:
    settings.API_RATE_ANON = 3
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert [client.get(PUBLIC).status_code for _ in range(3)] == [200, 200, 200]
    _throttled(client.get(PUBLIC))
    # another address has its own count; a forged X-Forwarded-For does not make a new caller
    assert Client(REMOTE_ADDR="203.0.113.8").get(PUBLIC).status_code == 200
    _throttled(Client(REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1").get(PUBLIC))


def test_requests_without_valid_credentials_count_against_the_address(plan, settings) -> None:
    """ninja throttles after authentication; the 401s are counted too, so guessing tokens is throttled."""
    settings.API_RATE_ANON = 2
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer hx_wrong")
    assert [client.get(PRIVATE).status_code for _ in range(2)] == [401, 401]
    _throttled(client.get(PRIVATE))


def test_each_user_has_a_limit_of_its_own(plan, settings) -> None:
    settings.API_RATE_USER = 4
    settings.API_RATE_ANON = 1  # an authenticated caller is not held to the anonymous rate
    merchant, other = user_with_role(Role.MERCHANT), user_with_role(Role.MERCHANT)
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    client = Client(REMOTE_ADDR="203.0.113.10", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert [client.get(PRIVATE).status_code for _ in range(4)] == [200] * 4
    _throttled(client.get(PRIVATE))
    # the same user through a session is the same caller; another user from the same address is not
    session = Client(REMOTE_ADDR="203.0.113.10")
    session.force_login(merchant)
    _throttled(session.get(PRIVATE))
    _, other_key = tokens.issue_token(actor=other, name="收银系统")
    assert Client(REMOTE_ADDR="203.0.113.10", HTTP_AUTHORIZATION=f"Bearer {other_key}").get(PRIVATE).status_code == 200


def test_the_default_rates_come_from_the_environment() -> None:
    """settings.py reads HUANXIN_API_RATE_ANON and HUANXIN_API_RATE_USER (60 and 600 a minute unless set); the test
    run raises both."""
    from huanxin import settings as configured

    assert isinstance(configured.API_RATE_ANON, int) and isinstance(configured.API_RATE_USER, int)
