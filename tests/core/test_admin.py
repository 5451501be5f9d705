import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from huanxin.core.models import AuditEvent, User
from huanxin.core.roles import Role
from tests.factories import UserFactory, department_org

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client: Client, plan) -> Client:
    client.force_login(UserFactory(is_staff=True, is_superuser=True, role=Role.TASK_FORCE))
    return client


def test_every_admin_list_renders(staff_client: Client) -> None:
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert staff_client.get(url).status_code == 200, url


def test_plan_data_is_read_only_in_the_admin(staff_client: Client) -> None:
    assert staff_client.get(reverse("admin:plans_measure_add")).status_code == 403


def test_an_admin_edit_of_a_user_is_audited(staff_client: Client) -> None:
    clerk = UserFactory(role=Role.CITIZEN)
    org = department_org("市商务局")
    url = reverse("admin:core_user_change", args=[clerk.pk])
    form = {
        "username": clerk.username,
        "display_name": clerk.display_name,
        "email": "",
        "role": Role.DEPARTMENT_OFFICER,
        "organisation": org.pk,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    clerk.refresh_from_db()
    assert clerk.role == Role.DEPARTMENT_OFFICER
    event = AuditEvent.objects.filter(action="user.updated", object_id=str(clerk.pk)).get()
    assert event.changes["role"] == [Role.CITIZEN, Role.DEPARTMENT_OFFICER]
    assert event.changes["organisation_id"] == [None, org.pk]
    assert "password" not in event.changes


def test_auditors_read_the_audit_log_and_others_do_not(client: Client, plan) -> None:
    auditor = UserFactory(is_staff=True, role=Role.AUDITOR)
    client.force_login(auditor)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 200
    clerk = UserFactory(is_staff=True, role=Role.DEPARTMENT_OFFICER)
    client.force_login(clerk)
    assert client.get(reverse("admin:core_auditevent_changelist")).status_code == 403
    assert User.objects.filter(pk=auditor.pk).exists()
