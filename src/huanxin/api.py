"""The REST API under /api/v1/ (django-ninja). OpenAPI at /api/v1/docs.

Errors always carry a stable `code` and a Chinese `message`: {"code": "not_found", "message": "…"}.
"""

from __future__ import annotations

import math

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.renderers import JSONRenderer

from huanxin.core.middleware import answer_outage, is_connection_lost
from huanxin.core.retry import Busy
from huanxin.core.schemas import field_errors
from huanxin.core.throttle import THROTTLED, THROTTLED_MESSAGE, ApiAnonThrottle, ApiUserThrottle, TooManyLookups
from huanxin.core.tokens import SessionAuth, TokenAuth
from huanxin.jobs.api import router as jobs_router
from huanxin.monitoring.api import router as monitoring_router
from huanxin.plans.api import router as plans_router
from huanxin.projects.api import router as projects_router
from huanxin.recycling.api import router as recycling_router
from huanxin.subsidies.api import router as subsidies_router


class ChineseJSONRenderer(JSONRenderer):
    json_dumps_params = {"ensure_ascii": False}  # Chinese as UTF-8, not \\u escapes


_ANONYMOUS = ApiAnonThrottle()
api = NinjaAPI(
    renderer=ChineseJSONRenderer(),
    title="焕新 Huanxin API",
    version="1.0.0",
    description=(
        "大规模设备更新和消费品以旧换新工作平台。会话登录（浏览器），或 API 令牌："
        "商户、回收企业、企业在“API 令牌”页面申请，请求头 `Authorization: Bearer hx_…`。"
    ),
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth()],
    # every operation: per address without credentials, per user with them (core/throttle.py; 429 below)
    throttle=[_ANONYMOUS, ApiUserThrottle()],
)
api.add_router("/", plans_router)
api.add_router("/", monitoring_router)
api.add_router("/", recycling_router)
api.add_router("/", projects_router)
api.add_router("/", subsidies_router)
api.add_router("/", jobs_router)


def _error(request: HttpRequest, status: int, code: str, message: str, **extra: object) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, **extra}, status=status)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    # ninja throttles after authentication: requests refused for want of credentials count against the address here
    if not _ANONYMOUS.allow_request(request):
        return _throttled_response(request, _ANONYMOUS.wait())
    return _error(request, 401, "not_authenticated", "请先登录")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 404, "not_found", "未找到，或您无权查看")


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 403, "permission_denied", str(exc) or "无权执行此操作")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """Services' validation errors arrive as HttpError with the service's stable code attached. ninja's own carry
    none: the only one a request can cause is a body it cannot parse (400)."""
    code = getattr(exc, "code", None)
    if code is None and exc.status_code == 400:
        return _error(request, 400, "malformed_body", "请求体无法解析：应为 UTF-8 编码的 JSON")
    return _error(request, exc.status_code, code or "error", str(exc))


@api.exception_handler(TooManyLookups)
def _too_many_lookups(request: HttpRequest, exc: TooManyLookups) -> HttpResponse:
    """A public look-up refused after too many failures (core/throttle.py): 429 with the wait in Retry-After."""
    response = _error(request, 429, exc.code, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    """Over the API's rate (core/throttle.py): 429; ninja adds Retry-After from the throttle's wait."""
    return _error(request, 429, THROTTLED, THROTTLED_MESSAGE)


def _throttled_response(request: HttpRequest, wait: float | None) -> HttpResponse:
    response = _error(request, 429, THROTTLED, THROTTLED_MESSAGE)
    response["Retry-After"] = str(max(1, math.ceil(wait or 1)))
    return response


@api.exception_handler(Busy)
def _busy(request: HttpRequest, exc: Busy) -> HttpResponse:
    """A conflict retried and still lost (core/retry.py): nothing was written; 503 with the wait in Retry-After."""
    response = _error(request, 503, exc.code, str(exc))
    response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database unreachable (core/middleware.py): 503 database_unavailable with Retry-After. Any other database
    error is not an outage: it goes on up as before."""
    if not is_connection_lost(exc):
        raise exc
    return answer_outage(request, exc)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """A parameter or body field out of bounds (core/schemas.py): each field's error in Chinese, values not echoed."""
    return _error(request, 422, "invalid_request", "请求参数有误", errors=field_errors(exc.errors))


def _open_to_anonymous(patterns: list[URLPattern | URLResolver]) -> list[URLPattern | URLResolver]:
    """The API answers anonymous callers itself (401 JSON), so the login-redirect middleware must let them in."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _open_to_anonymous(pattern.url_patterns)
        else:
            pattern.callback = login_not_required(pattern.callback)
    return patterns
