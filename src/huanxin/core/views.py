from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from ninja.errors import HttpError

from huanxin.core.models import User
from huanxin.core.roles import Role


def get_visible_or_404[M: Model](queryset: QuerySet[M], **lookup: Any) -> M:
    """The scoped twin of get_object_or_404: pass a queryset that already went through `visible_to`."""
    try:
        return queryset.get(**lookup)
    except ObjectDoesNotExist as exc:
        raise Http404("未找到，或您无权查看") from exc


def actor(request: HttpRequest) -> User:
    """The logged-in user (LoginRequiredMiddleware guarantees one on every page that calls this)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("请先登录")
    return user


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_not_required
def locked_out(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> HttpResponse:
    """axes' lock-out answer (AXES_LOCKOUT_CALLABLE), for one user name from one address or, flagged by
    core/throttle.py's AddressLoginBackend, for every login from the address: 429 with the wait in Retry-After."""
    by_address = getattr(request, "login_address_wait", 0)
    wait = int(by_address or settings.AXES_COOLOFF_TIME.total_seconds())
    response = render(
        request,
        "registration/locked_out.html",
        {"by_address": bool(by_address), "minutes": max(1, math.ceil(wait / 60))},
        status=429,
    )
    response["Retry-After"] = str(max(1, wait))
    return response


def role_label(role: str) -> str:
    return Role(role).label if role in Role.values else role


def api_refusal(exc: ValidationError) -> HttpError:
    """A service's refusal as an API answer: 422 with the first error's stable code and every message in Chinese
    (the API's error handler renders it as {"code", "message"})."""
    first = next(iter(exc.error_dict.values()))[0] if hasattr(exc, "error_dict") else exc.error_list[0]
    error = HttpError(422, "；".join(exc.messages))
    error.code = first.code or "invalid"  # type: ignore[attr-defined]
    return error


def form_errors(exc: ValidationError | PermissionDenied) -> dict[str, str]:
    """A service's refusal as {field: message} for a form; messages not tied to a field go under "form"."""
    if isinstance(exc, PermissionDenied):
        return {"form": str(exc) or "无权进行此操作"}
    if hasattr(exc, "error_dict"):
        return {("form" if k == "__all__" else k): "；".join(v) for k, v in exc.message_dict.items()}
    return {"form": "；".join(exc.messages)}
