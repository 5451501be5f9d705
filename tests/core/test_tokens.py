"""API tokens: issued once, stored as a hash, accepted as Bearer on /api/v1/, refused when wrong, revoked or expired."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from huanxin.core import tokens
from huanxin.core.models import ApiToken, AuditEvent
from huanxin.core.roles import Role
from huanxin.monitoring.models import IndicatorValue
from huanxin.monitoring.periods import Frequency
from huanxin.monitoring.selectors import latest_open_period
from tests.factories import officer, task_force, user_with_role

pytestmark = pytest.mark.django_db


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def merchant():
    return user_with_role(Role.MERCHANT)


def test_issuing_returns_the_key_once_and_stores_only_its_hash(merchant) -> None:
    token, key = tokens.issue_token(actor=merchant, name=" 收银系统 ")
    assert key.startswith("hx_") and len(key) == 3 + 43
    token.refresh_from_db()
    assert token.name == "收银系统" and token.user == merchant
    assert token.prefix == key[:8]
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    stored = json.dumps(list(ApiToken.objects.values()), default=str)
    assert key not in stored and key[8:] not in stored
    _, other = tokens.issue_token(actor=merchant, name="收银系统")
    assert other != key
    assert tokens.authenticate(key) == merchant


@pytest.mark.parametrize("role", [Role.MERCHANT, Role.RECYCLER, Role.ENTERPRISE])
def test_business_roles_may_hold_tokens(role) -> None:
    tokens.issue_token(actor=user_with_role(role), name="系统")


@pytest.mark.parametrize("role", [Role.CITIZEN, Role.DEPARTMENT_OFFICER, Role.TASK_FORCE, Role.AUDITOR])
def test_other_roles_cannot_issue_tokens(role) -> None:
    with pytest.raises(PermissionDenied, match="商户、回收企业和企业"):
        tokens.issue_token(actor=user_with_role(role), name="系统")
    assert not ApiToken.objects.exists()


def test_a_superuser_may_hold_tokens() -> None:
    tokens.issue_token(actor=user_with_role(Role.CITIZEN, is_superuser=True), name="运维脚本")


def test_name_and_expiry_are_checked(merchant) -> None:
    with pytest.raises(ValidationError) as exc:
        tokens.issue_token(actor=merchant, name="  ")
    assert exc.value.error_dict["name"][0].code == "name_required"
    with pytest.raises(ValidationError) as exc:
        tokens.issue_token(actor=merchant, name="x", expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert exc.value.error_dict["expires_at"][0].code == "expires_in_past"


def test_at_most_ten_live_tokens(merchant) -> None:
    issued = [tokens.issue_token(actor=merchant, name=f"系统{i}")[0] for i in range(10)]
    with pytest.raises(ValidationError) as exc:
        tokens.issue_token(actor=merchant, name="第十一个")
    assert exc.value.code == "too_many_tokens"
    # a revoked or expired token no longer counts
    tokens.revoke_token(actor=merchant, token=issued[0])
    tokens.issue_token(actor=merchant, name="第十一个")
    ApiToken.objects.filter(pk=issued[1].pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    tokens.issue_token(actor=merchant, name="第十二个")
    # another user has a limit of their own
    tokens.issue_token(actor=user_with_role(Role.MERCHANT), name="系统")


def test_issue_and_revoke_are_audited_without_the_key(merchant) -> None:
    token, key = tokens.issue_token(actor=merchant, name="收银系统")
    tokens.revoke_token(actor=merchant, token=token)
    tokens.revoke_token(actor=merchant, token=token)  # again: nothing new
    events = list(AuditEvent.objects.filter(object_type="core.apitoken", object_id=str(token.pk)))
    assert [e.action for e in events] == ["api_token.issued", "api_token.revoked"]
    assert all(e.actor == merchant for e in events)
    assert events[0].changes["name"] == "收银系统" and events[0].changes["prefix"] == key[:8]
    dumped = json.dumps([[e.changes, e.object_repr] for e in events], ensure_ascii=False)
    assert key not in dumped and key[8:] not in dumped and token.key_hash not in dumped


def test_only_the_owner_revokes(merchant) -> None:
    token, _ = tokens.issue_token(actor=merchant, name="收银系统")
    with pytest.raises(PermissionDenied):
        tokens.revoke_token(actor=user_with_role(Role.MERCHANT), token=token)
    token.refresh_from_db()
    assert token.revoked_at is None


def test_authenticate_refuses_revoked_expired_inactive_and_demoted(merchant) -> None:
    assert tokens.authenticate("hx_nonsense") is None
    assert tokens.authenticate("") is None
    revoked, key = tokens.issue_token(actor=merchant, name="a")
    tokens.revoke_token(actor=merchant, token=revoked)
    assert tokens.authenticate(key) is None

    expiring, key = tokens.issue_token(actor=merchant, name="b", expires_at=timezone.now() + dt.timedelta(hours=1))
    user = tokens.authenticate(key)
    assert user == merchant and user.role == merchant.role and user.organisation_id == merchant.organisation_id
    assert not any(name.startswith("token_") for name in vars(user))  # the token's columns are not left on the user
    ApiToken.objects.filter(pk=expiring.pk).update(expires_at=timezone.now())
    assert tokens.authenticate(key) is None

    _, key = tokens.issue_token(actor=merchant, name="c")
    merchant.is_active = False
    merchant.save()
    assert tokens.authenticate(key) is None
    merchant.is_active = True
    merchant.role = Role.CITIZEN
    merchant.save()
    assert tokens.authenticate(key) is None


def test_last_used_is_written_at_most_once_a_minute(merchant) -> None:
    token, key = tokens.issue_token(actor=merchant, name="a")
    tokens.authenticate(key)
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    tokens.authenticate(key)
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - dt.timedelta(minutes=2))
    tokens.authenticate(key)
    token.refresh_from_db()
    assert token.last_used_at > first - dt.timedelta(minutes=1)
    assert not AuditEvent.objects.filter(action__startswith="api_token.used").exists()


# --- the API ----------------------------------------------------------------------------------------------


def test_a_bearer_token_reads_the_api(plan, merchant) -> None:
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    response = Client().get("/api/v1/plans", **bearer(key))
    assert response.status_code == 200
    assert plan.code in response.content.decode()


@pytest.mark.parametrize("problem", ["wrong", "revoked", "expired", "other scheme"])
def test_a_bad_token_is_401(plan, merchant, problem) -> None:
    token, key = tokens.issue_token(actor=merchant, name="收银系统")
    header = bearer(key)
    if problem == "wrong":
        header = bearer(key[:-2] + "xx")
    elif problem == "revoked":
        tokens.revoke_token(actor=merchant, token=token)
    elif problem == "expired":
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    else:
        header = {"HTTP_AUTHORIZATION": f"Token {key}"}
    response = Client().get("/api/v1/plans", **header)
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "请先登录"}


def test_a_post_with_no_credentials_is_401_not_a_csrf_refusal(plan) -> None:
    """A till that forgot its token is told to authenticate, with the API's code, not ninja's English 403."""
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/subsidies/applications", "{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json() == {"code": "not_authenticated", "message": "请先登录"}


def test_a_session_post_without_the_csrf_token_is_refused_with_a_stable_code(plan, merchant) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(merchant)
    response = client.post("/api/v1/subsidies/applications", "{}", content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed" and "CSRF" in response.json()["message"]
    token = get_random_string(32)  # the CSRF cookie a page set, sent back by the page's script in the header
    client.cookies["csrftoken"] = token
    answer = client.post(
        "/api/v1/subsidies/applications", "{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert answer.status_code == 422  # past authentication and CSRF: the empty body is what is refused now


def test_a_wrong_token_is_401_even_with_a_session(plan, merchant) -> None:
    client = Client()
    client.force_login(merchant)
    assert client.get("/api/v1/plans").status_code == 200
    response = client.get("/api/v1/plans", **bearer("hx_wrong"))
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_token_posts_need_no_csrf_but_session_posts_do(plan) -> None:
    call_command("monitoring", "setup", stdout=StringIO())
    clerk = officer("市住房和城乡建设局", is_superuser=True)  # a superuser may hold a token
    _, key = tokens.issue_token(actor=clerk, name="填报脚本")
    body = json.dumps(
        {
            "plan": plan.code,
            "indicator": "gas-pipeline-renewed-km",
            "period": latest_open_period(Frequency.QUARTER, timezone.localdate()).code,
            "region": "130722",
            "value": "3.5",
        }
    )
    session = Client(enforce_csrf_checks=True)
    session.force_login(clerk)
    refused = session.post("/api/v1/monitoring/values", body, content_type="application/json")
    assert refused.status_code == 403
    assert not IndicatorValue.objects.exists()

    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/monitoring/values", body, content_type="application/json", **bearer(key))
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "draft"
    value = IndicatorValue.objects.get()
    assert AuditEvent.objects.filter(object_id=str(value.pk), actor=clerk).exists()


def test_a_token_carries_its_users_permissions(plan, merchant) -> None:
    _, key = tokens.issue_token(actor=merchant, name="收银系统")
    response = Client().get(f"/api/v1/monitoring/status?plan={plan.code}", **bearer(key))
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


# --- the page ------------------------------------------------------------------------------------------------


def test_the_page_lists_only_ones_own_tokens(client: Client, merchant) -> None:
    mine, _ = tokens.issue_token(actor=merchant, name="我的收银系统")
    tokens.issue_token(actor=user_with_role(Role.MERCHANT), name="别人的系统")
    client.force_login(merchant)
    response = client.get("/accounts/tokens/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "我的收银系统" in page and mine.prefix in page
    assert "别人的系统" not in page
    assert 'href="/accounts/tokens/"' in page  # the nav link


def test_creating_on_the_page_shows_the_key_once(client: Client, merchant) -> None:
    client.force_login(merchant)
    response = client.post("/accounts/tokens/", {"action": "create", "name": "收银系统", "expires_on": "2099-12-31"})
    assert response.status_code == 200
    assert response["Cache-Control"].find("no-store") >= 0
    token = ApiToken.objects.get(user=merchant)
    page = response.content.decode()
    keys = [word for word in page.replace('"', " ").split() if word.startswith("hx_") and len(word) > 40]
    assert len(keys) == 1 and tokens.authenticate(keys[0]) == merchant
    assert "请立即复制，离开本页后无法再次查看" in page
    assert timezone.localtime(token.expires_at) == timezone.make_aware(dt.datetime(2100, 1, 1))
    again = client.get("/accounts/tokens/").content.decode()
    assert keys[0] not in again and token.prefix in again


def test_the_page_shows_refusals(client: Client, merchant) -> None:
    client.force_login(merchant)
    response = client.post("/accounts/tokens/", {"action": "create", "name": "", "expires_on": ""})
    assert response.status_code == 400 and "请填写令牌名称" in response.content.decode()
    response = client.post("/accounts/tokens/", {"action": "create", "name": "x", "expires_on": "2000-01-01"})
    assert response.status_code == 400 and "到期时间应晚于现在" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_on_the_page(client: Client, merchant) -> None:
    token, key = tokens.issue_token(actor=merchant, name="收银系统")
    theirs, _ = tokens.issue_token(actor=user_with_role(Role.MERCHANT), name="别人的系统")
    client.force_login(merchant)
    assert client.post("/accounts/tokens/", {"action": "revoke", "token": theirs.pk}).status_code == 404
    response = client.post("/accounts/tokens/", {"action": "revoke", "token": token.pk}, follow=True)
    assert "已吊销" in response.content.decode()
    assert tokens.authenticate(key) is None
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_revoking_needs_the_csrf_token(merchant) -> None:
    token, key = tokens.issue_token(actor=merchant, name="收银系统")
    client = Client(enforce_csrf_checks=True)
    client.force_login(merchant)
    assert client.post("/accounts/tokens/", {"action": "revoke", "token": token.pk}).status_code == 403
    assert tokens.authenticate(key) == merchant


def test_citizens_and_officials_have_no_token_page(client: Client) -> None:
    for user in [user_with_role(Role.CITIZEN), task_force()]:
        client.force_login(user)
        assert client.get("/accounts/tokens/").status_code == 403
        assert 'href="/accounts/tokens/"' not in client.get("/").content.decode()


def test_scoping(merchant) -> None:
    from django.contrib.auth.models import AnonymousUser

    mine, _ = tokens.issue_token(actor=merchant, name="a")
    theirs, _ = tokens.issue_token(actor=user_with_role(Role.RECYCLER), name="b")
    assert list(ApiToken.objects.visible_to(merchant)) == [mine]
    assert set(ApiToken.objects.visible_to(user_with_role(Role.AUDITOR))) == {mine, theirs}
    assert not ApiToken.objects.visible_to(AnonymousUser()).exists()
    assert not ApiToken.objects.visible_to(task_force()).exists()
