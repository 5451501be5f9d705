import pytest
from django.test import Client
from django.urls import reverse

from huanxin.core.roles import Role
from tests.factories import UserFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture
def clerk(db):
    return UserFactory(username="clerk", role=Role.DEPARTMENT_OFFICER)


def test_login_page_is_in_chinese(client: Client, db) -> None:
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_anonymous_users_are_sent_to_login(client: Client, db) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_correct_password_logs_in(client: Client, clerk) -> None:
    response = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_wrong_password_shows_a_chinese_error(client: Client, clerk) -> None:
    response = client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_repeated_failures_lock_the_account_out(client: Client, clerk, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
    assert "暂时锁定" in response.content.decode()
    assert client.get(reverse("home")).status_code == 302  # still not logged in


def test_login_form_requires_csrf(clerk) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 403


def test_weak_passwords_are_refused(db) -> None:
    from django.core.exceptions import ValidationError

    from huanxin.core.services import create_user

    with pytest.raises(ValidationError):
        create_user(actor=None, username="weak", password="12345678", role=Role.CITIZEN)


def test_the_account_lock_out_says_when_to_try_again(client: Client, clerk, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "clerk", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "clerk", "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())


def test_one_password_sprayed_over_many_users_is_stopped_per_address(clerk, settings) -> None:
    """axes locks a user name after a few failures; trying each name once or twice never gets there. The
    failures of one address are counted whatever the names (core/throttle.py)."""
    settings.LOGIN_FAILURES_PER_ADDRESS = 6
    sprayer = Client(REMOTE_ADDR="203.0.113.20")
    for n in range(6):  # six different names, once each: axes alone would never lock
        response = sprayer.post(reverse("login"), {"username": f"user{n}", "password": "Spring2025!"})
        assert response.status_code == 200
    refused = sprayer.post(reverse("login"), {"username": "clerk", "password": PASSWORD})  # even the right password
    assert refused.status_code == 429
    assert "网络地址登录失败次数过多" in refused.content.decode()
    assert 1 <= int(refused["Retry-After"]) <= settings.LOGIN_ADDRESS_WINDOW_SECONDS
    assert sprayer.get(reverse("home")).status_code == 302  # not logged in
    # the same user from another address logs in: only the spraying address is refused
    elsewhere = Client(REMOTE_ADDR="203.0.113.21")
    assert elsewhere.post(reverse("login"), {"username": "clerk", "password": PASSWORD}).status_code == 302


def test_the_admin_login_counts_against_the_address_too(clerk, settings) -> None:
    settings.LOGIN_FAILURES_PER_ADDRESS = 2
    sprayer = Client(REMOTE_ADDR="203.0.113.22")
    for n in range(2):
        sprayer.post("/admin/login/", {"username": f"admin{n}", "password": "wrong"})
    assert sprayer.post(reverse("login"), {"username": "clerk", "password": PASSWORD}).status_code == 429
