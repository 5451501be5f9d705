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
