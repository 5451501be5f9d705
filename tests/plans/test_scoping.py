"""Who sees what: anonymous users see nothing; drafts stay inside their department; draft plans stay with the
task force. Checked on every page and endpoint, and on the selectors behind them."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from huanxin.core.roles import Role
from huanxin.plans import services
from huanxin.plans.models import Measure, MeasureAction, Plan
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db

HOUSING = "市住房和城乡建设局"
COMMERCE = "市商务局"
ELEVATORS = "二（二）1"  # 住建局 leads; 市场监管局 … co-operate; 商务局 has no part


def pages(plan: Plan) -> list[str]:
    measure = Measure.objects.get(plan=plan, code=ELEVATORS)
    return [
        reverse("home"),
        reverse("plans:list"),
        reverse("plans:detail", args=[plan.code]),
        reverse("plans:indicators", args=[plan.code]),
        reverse("plans:measure", args=[plan.code, measure.slug]),
        reverse("plans:departments"),
        reverse("plans:department", args=[measure.clauses.first().responsibilities.first().department.code]),
        reverse("plans:search") + "?q=电梯",
        reverse("plans:my_tasks"),
    ]


def endpoints(plan: Plan) -> list[str]:
    return [
        "/api/v1/plans",
        f"/api/v1/plans/{plan.code}",
        f"/api/v1/plans/{plan.code}/measures",
        f"/api/v1/plans/{plan.code}/measures/2.2.1",
        f"/api/v1/plans/{plan.code}/indicators",
        "/api/v1/departments",
        "/api/v1/departments/drc",
    ]


def test_anonymous_users_are_redirected_from_every_page(client: Client, plan: Plan) -> None:
    for url in pages(plan):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_anonymous_users_get_401_from_every_endpoint(client: Client, plan: Plan) -> None:
    for url in endpoints(plan):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", list(Role))
def test_every_role_can_read_the_published_plan(client: Client, plan: Plan, role: Role) -> None:
    client.force_login(user_with_role(role))
    for url in pages(plan):
        assert client.get(url, follow=True).status_code == 200, (role, url)
    for url in endpoints(plan):
        assert client.get(url).status_code == 200, (role, url)


@pytest.fixture
def housing_draft(plan: Plan) -> MeasureAction:
    clerk = officer(HOUSING)
    return services.save_measure_action(
        actor=clerk,
        measure=Measure.objects.get(plan=plan, code=ELEVATORS),
        title="住宅电梯更新摸排方案（草稿）",
        body="逐台登记，建立一梯一档。",
    )


def test_a_draft_is_visible_to_its_own_department_only(client: Client, plan: Plan, housing_draft) -> None:
    measure_url = reverse("plans:measure", args=[plan.code, housing_draft.measure.slug])
    department_url = reverse("plans:department", args=[housing_draft.department.code])
    title = housing_draft.title

    colleague = officer(HOUSING)
    client.force_login(colleague)
    assert title in client.get(measure_url).content.decode()
    assert title in client.get(department_url).content.decode()
    assert MeasureAction.objects.visible_to(colleague).filter(pk=housing_draft.pk).exists()

    for outsider in [officer(COMMERCE), officer("市市场监督管理局"), task_force(), user_with_role(Role.AUDITOR)]:
        client.force_login(outsider)
        assert title not in client.get(measure_url).content.decode(), outsider.role
        assert title not in client.get(department_url).content.decode(), outsider.role
        assert not MeasureAction.objects.visible_to(outsider).filter(pk=housing_draft.pk).exists()
        # nor can they submit it by guessing its number
        response = client.post(reverse("plans:action_submit", args=[housing_draft.pk]))
        assert response.status_code == 404
    housing_draft.refresh_from_db()
    assert housing_draft.status == MeasureAction.Status.DRAFT


def test_once_submitted_every_official_sees_it_but_the_public_does_not(client: Client, plan, housing_draft) -> None:
    services.submit_measure_action(actor=housing_draft.created_by, action=housing_draft)
    for reader in [officer(COMMERCE), task_force(), user_with_role(Role.COUNTY_OFFICER)]:
        assert MeasureAction.objects.visible_to(reader).filter(pk=housing_draft.pk).exists()
    for outsider in [user_with_role(Role.MERCHANT), user_with_role(Role.CITIZEN), user_with_role(Role.RECYCLER)]:
        assert not MeasureAction.objects.visible_to(outsider).exists()


def test_a_draft_plan_is_hidden_from_departments(client: Client, plan: Plan) -> None:
    Plan.objects.filter(pk=plan.pk).update(status=Plan.Status.DRAFT)
    clerk = officer(HOUSING)
    client.force_login(clerk)
    assert client.get(reverse("plans:detail", args=[plan.code])).status_code == 404
    assert client.get(f"/api/v1/plans/{plan.code}").status_code == 404
    assert client.get(f"/api/v1/plans/{plan.code}/measures/2.2.1").json()["code"] == "not_found"
    assert client.get("/api/v1/plans").json()["count"] == 0
    assert "住宅老旧电梯" not in client.get(reverse("plans:search") + "?q=电梯").content.decode()
    client.force_login(task_force())
    assert client.get(reverse("plans:detail", args=[plan.code])).status_code == 200


def test_only_responsible_departments_may_write_actions(client: Client, plan: Plan) -> None:
    measure = Measure.objects.get(plan=plan, code=ELEVATORS)
    url = reverse("plans:action_create", args=[plan.code, measure.slug])
    for user in [officer(COMMERCE), task_force(), user_with_role(Role.AUDITOR)]:
        client.force_login(user)
        response = client.post(url, {"title": "越权", "body": "不应保存"})
        assert response.status_code == 400
        assert "责任单位" in response.content.decode()
    assert not MeasureAction.objects.filter(title="越权").exists()


def test_users_and_audit_log_are_scoped(plan: Plan) -> None:
    from huanxin.core.models import AuditEvent, User

    clerk = officer(HOUSING)
    colleague = officer(HOUSING)
    stranger = officer(COMMERCE)
    assert set(User.objects.visible_to(clerk)) == {clerk, colleague}
    assert stranger not in User.objects.visible_to(clerk)
    assert set(User.objects.visible_to(task_force())) >= {clerk, colleague, stranger}
    assert not AuditEvent.objects.visible_to(clerk).exists()
    assert AuditEvent.objects.visible_to(user_with_role(Role.AUDITOR)).exists()
