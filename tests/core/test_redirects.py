"""Every `next` a request carries is followed only when it stays on this site (core/redirects.py): the login page,
the 实名认证 page and the monitoring review actions send a hostile one to their default page instead."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from huanxin.core.models import User
from huanxin.core.redirects import safe_next
from huanxin.core.roles import Role
from huanxin.demo import identities
from tests.factories import UserFactory, task_force

pytestmark = pytest.mark.django_db

HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    " https://evil.example/",
    "https:evil.example",
    "http:///evil.example",
]
PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize("value", HOSTILE)
def test_a_next_leaving_the_site_is_refused(value: str) -> None:
    request = RequestFactory().get("/")
    assert safe_next(request, value) == ""


@pytest.mark.parametrize("value", ["/subsidies/", "/monitoring/review/?period=2025-M06", "http://testserver/x"])
def test_a_next_of_this_site_is_kept(value: str) -> None:
    assert safe_next(RequestFactory().get("/"), value) == value


def test_https_requests_keep_only_https_nexts() -> None:
    request = RequestFactory().get("/", secure=True)
    assert safe_next(request, "http://testserver/x") == ""
    assert safe_next(request, "https://testserver/x") == "https://testserver/x"


@pytest.mark.parametrize("value", HOSTILE)
def test_the_review_actions_go_to_the_review_page(plan, value: str) -> None:
    client = Client()
    client.force_login(task_force())
    response = client.post(reverse("monitoring:review_bulk"), {"next": value})
    assert response.status_code == 302 and response["Location"] == reverse("monitoring:review")
    kept = client.post(reverse("monitoring:review_bulk"), {"next": "/monitoring/review/?status=submitted"})
    assert kept["Location"] == "/monitoring/review/?status=submitted"


@pytest.mark.parametrize("value", HOSTILE)
def test_the_login_page_goes_home(plan, value: str) -> None:
    UserFactory(username="zhang", role=Role.TASK_FORCE)
    client = Client()
    response = client.post(reverse("login"), {"username": "zhang", "password": PASSWORD, "next": value})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert "evil" not in Client().get(reverse("login"), {"next": value}).content.decode()


@pytest.mark.parametrize("value", HOSTILE)
def test_the_identity_page_goes_to_the_subsidies(plan, value: str) -> None:
    citizen: User = UserFactory(role=Role.CITIZEN, verified=False)
    client = Client()
    client.force_login(citizen)
    number = identities.resident_id(random.Random("redirect-test"), born=dt.date(1985, 5, 5))
    form = {"name": "林芳", "resident_id": number, "phone": "13912345678", "consent": "on", "next": value}
    response = client.post(reverse("identity"), form)
    assert response.status_code == 302 and response["Location"] == reverse("subsidies:home")
