"""API tokens: merchants, recyclers and enterprises call /api/v1/ from their own systems without a browser session.

A key is "hx_" + 43 URL-safe characters (256 random bits). It is shown once, when issued; the database keeps
its first 8 characters (to tell keys apart on screen) and the SHA-256 of the whole key, which is what a request
is looked up by. A key that random needs no slow hash: nobody can guess one from its SHA-256. Keys never go
into audit events or logs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import security as ninja_security
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer

from huanxin.core import audit
from huanxin.core.models import ApiToken, User
from huanxin.core.roles import Role, is_authenticated

KEY_PREFIX = "hx_"
MAX_LIVE_TOKENS = 10
TOKEN_ROLES = frozenset({Role.MERCHANT, Role.RECYCLER, Role.ENTERPRISE})
# last_used_at is written at most this often per token, so a busy integration does not write on every call.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def may_hold_tokens(user: User | Any) -> bool:
    return is_authenticated(user) and (user.is_superuser or user.role in TOKEN_ROLES)


def live_tokens(user: User, *, now: dt.datetime | None = None) -> Any:
    now = now or timezone.now()
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).exclude(expires_at__lte=now)


@transaction.atomic
def issue_token(*, actor: User, name: str, expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """A new token for `actor`. Returns the token and its key; the key cannot be recovered afterwards."""
    if not may_hold_tokens(actor):
        raise PermissionDenied("只有商户、回收企业和企业用户可以申请 API 令牌")
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": ValidationError("请填写令牌名称，如“收银系统”", code="name_required")})
    if len(name) > 50:
        raise ValidationError({"name": ValidationError("令牌名称不能超过 50 个字", code="name_too_long")})
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        raise ValidationError({"expires_at": ValidationError("到期时间应晚于现在", code="expires_in_past")})
    # Lock the user's row so two simultaneous requests cannot both pass the limit.
    User.objects.select_for_update().filter(pk=actor.pk).first()
    if live_tokens(actor, now=now).count() >= MAX_LIVE_TOKENS:
        raise ValidationError(
            f"每个账号最多持有 {MAX_LIVE_TOKENS} 个有效令牌，请先吊销不再使用的令牌", code="too_many_tokens"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor, name=name, prefix=key[:8], key_hash=hash_key(key), expires_at=expires_at
    )
    audit.record(
        actor=actor,
        action="api_token.issued",
        target=token,
        # the prefix identifies the key on screen; the key itself and its hash stay out of the log
        changes={"name": name, "prefix": token.prefix, "expires_at": expires_at},
    )
    return token, key


@transaction.atomic
def revoke_token(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own tokens. Revoking a revoked token changes nothing."""
    if not is_authenticated(actor) or token.user_id != actor.pk:
        raise PermissionDenied("只能吊销自己的令牌")
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(actor=actor, action="api_token.revoked", target=token, changes={"prefix": token.prefix})
    return token


# Every API call authenticates: one statement in SQL, as the ORM's compiler for a token joined to its user costs
# several times what the database takes. The user comes back as a model (`raw` applies each field's converters);
# the database tells whether the token is live (ApiToken.status_at: not revoked, not expired at `now`) and whether
# its last use is older than LAST_USED_RESOLUTION.
_USER_OF_KEY = """SELECT u.*, t.id AS token_id, t.key_hash AS token_key_hash,
        (t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > %s)) AS token_live,
        (t.last_used_at IS NULL OR t.last_used_at <= %s) AS token_used_long_ago
    FROM core_apitoken t JOIN core_user u ON u.id = t.user_id
    WHERE t.key_hash = %s"""


def authenticate(key: str) -> User | None:
    """The user a key belongs to, or None for an unknown, revoked or expired key or an inactive user.

    The database is searched by the key's hash, never by the key, so the time taken says nothing about how
    much of a guessed key was right.
    """
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    digest = hash_key(key)
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value
    found = list(User.objects.raw(_USER_OF_KEY, [at(now), at(now - LAST_USED_RESOLUTION), digest]))
    if not found:
        return None
    user = found[0]
    # the token's columns, which the query adds beside the user's own: taken off the user, which goes on as request.user
    token = {name: vars(user).pop(name) for name in ("token_id", "token_key_hash", "token_live", "token_used_long_ago")}
    if not hmac.compare_digest(token["token_key_hash"], digest):
        return None
    if not token["token_live"] or not may_hold_tokens(user):
        return None
    if token["token_used_long_ago"]:
        # Bookkeeping, not a business write: no audit event (one per minute per integration would drown the log).
        ApiToken.objects.filter(pk=token["token_id"]).update(last_used_at=now)
    return user


class TokenAuth(HttpBearer):
    """`Authorization: Bearer hx_…`. No header: the next method (the session) is tried; a bad key is a 401."""

    def __call__(self, request: HttpRequest) -> Any:
        # Parsed here rather than in HttpBearer, which logs the whole header value in DEBUG when it is not Bearer.
        scheme, _, key = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != self.openapi_scheme:
            return None
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = authenticate(token)
        if user is None:
            raise AuthenticationError()
        request.user = user
        return user


class SessionAuth(ninja_security.SessionAuth):
    """The browser's session (ninja's `django_auth`), with two answers ninja gives in English under a bare 403
    made plain: a request with no session cookie at all is simply not authenticated here (the API's 401
    `not_authenticated`, as for a till that forgot its token), and a session request without the CSRF token is
    refused with the stable code `csrf_failed` and a Chinese message."""

    def __call__(self, request: HttpRequest) -> Any:
        if self.param_name not in request.COOKIES:
            return None
        try:
            return super().__call__(request)
        except HttpError as exc:
            if exc.status_code != 403:
                raise
            refused = HttpError(403, "安全校验（CSRF）未通过，请刷新页面后重试")
            refused.code = "csrf_failed"  # type: ignore[attr-defined]
            raise refused from None
