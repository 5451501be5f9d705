"""Input refused at the door, and refusals that reach the top answered 400 rather than 500.

`ControlCharacterMiddleware` answers 400 (a Chinese page, or {"code": "invalid_characters", …} under /api/) to a
request whose path, query parameters, form fields or JSON strings carry a control character. PostgreSQL cannot
store NUL in text at all, and the other C0/C1 controls and lone UTF-16 surrogates are never typed by a person:
refusing them once here spares every view and column from handling them. Tab, line feed and carriage return are
allowed in values (a textarea's lines, a pasted spreadsheet cell), never in the path or in a parameter's name.

The same middleware turns a `ValidationError` that no view caught (the last-line model guard in core/guards.py,
a service called outside a form's try) into a 400 with its message, not a server error.

`DatabaseUnavailableMiddleware` (and `server_error`, the handler500) answer 503 with Retry-After while the database
cannot be reached: an outage the client can wait out, not a fault in the request.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
from django import db
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.template import loader
from django.views import defaults

# Cc characters (C0, DEL, C1) and lone surrogates (possible in JSON through "\ud800" escapes).
_IN_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

INVALID_CHARACTERS = "invalid_characters"
MESSAGE = "提交的内容含有不可见的控制字符（如空字符 NUL），无法处理。请删除这些字符后重新提交。"


def has_control_characters(text: str, *, in_value: bool = True) -> bool:
    """Whether `text` carries a character we refuse; `in_value` allows tab and line breaks."""
    return (_IN_VALUE if in_value else _IN_NAME).search(text) is not None


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, message: str, code: str) -> HttpResponse:
    """A 400 in the caller's language: JSON with a stable code under /api/, the Chinese error page elsewhere."""
    if _is_api(request):
        return JsonResponse({"code": code, "message": message}, status=400, json_dumps_params={"ensure_ascii": False})
    return render(request, "400.html", {"reason": message}, status=400)


def _bad_pairs(pairs: Iterable[tuple[str, list[str]]]) -> bool:
    for name, values in pairs:
        if has_control_characters(name, in_value=False):
            return True
        if any(has_control_characters(value) for value in values):
            return True
    return False


def _bad_json(value: Any) -> bool:
    """Whether any key or string inside a parsed JSON document carries a refused character (iterative: a deeply
    nested document must not exhaust the stack here)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_control_characters(item):
                return True
        elif isinstance(item, dict):
            if any(has_control_characters(key, in_value=False) for key in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _has_bad_input(request: HttpRequest) -> bool:
    if has_control_characters(request.path, in_value=False):
        return True
    if _bad_pairs(request.GET.lists()):
        return True
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    content_type = request.content_type or ""
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if _bad_pairs(request.POST.lists()):
            return True
        names = (upload.name or "" for _, uploads in request.FILES.lists() for upload in uploads)
        return any(has_control_characters(name, in_value=False) for name in names)
    if content_type == "application/json":
        try:
            body = request.body  # raises past DATA_UPLOAD_MAX_MEMORY_SIZE; the view's own read raises it again
            document = json.loads(body)
        except (RequestDataTooBig, ValueError, RecursionError):
            return False  # an unparsable or oversized body is the API's to answer
        return _bad_json(document)
    return False


class ControlCharacterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            bad = _has_bad_input(request)
        except MultiPartParserError:
            # A multipart body without its boundary, or cut short: the same answer in the page's or the API's form.
            return bad_request(request, "请求内容格式不正确", "malformed_body")
        if bad:
            return bad_request(request, MESSAGE, INVALID_CHARACTERS)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ValidationError):
            return None
        first = exception.error_list[0] if not hasattr(exception, "error_dict") else None
        if first is None:
            first = next(iter(exception.error_dict.values()))[0]
        return bad_request(request, "；".join(exception.messages), first.code or "invalid")


# --- The database away: an outage answered 503, not a server error ------------------------------------------------

RETRY_AFTER = 5  # seconds: a restart or a fail-over usually takes a few
DATABASE_UNAVAILABLE = "database_unavailable"
DATABASE_UNAVAILABLE_MESSAGE = "系统暂时无法连接数据库，请稍后重试"
# PostgreSQL's states that mean the server went away rather than refused this statement: class 08 (connection
# exception), and the server shutting down or still starting (57P01-57P03). A serialization failure (40001), a
# deadlock (40P01), a lock or statement timeout (55P03, 57014) are the statement's own and stay errors (core/retry.py).
_GONE_STATES = ("57P01", "57P02", "57P03")

log = logging.getLogger(__name__)


def is_connection_lost(exc: BaseException | None) -> bool:
    """Whether a database error means the database cannot be reached, not that this request did something wrong."""
    if not isinstance(exc, (db.OperationalError, db.InterfaceError)):
        return False
    cause = exc.__cause__
    if isinstance(cause, psycopg.InterfaceError):  # the connection was already closed under us
        return True
    if isinstance(cause, psycopg.OperationalError):
        # psycopg's own connection failures (refused, reset, closed unexpectedly) come without a server state
        state = cause.sqlstate
        return state is None or state.startswith("08") or state in _GONE_STATES
    if isinstance(cause, sqlite3.OperationalError):
        return "unable to open database" in str(cause)
    return cause is None and isinstance(exc, db.InterfaceError)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: JSON with its code under /api/, the Chinese page elsewhere (rendered without a request,
    so nothing in it reads the session or the user from the database that is away)."""
    response: HttpResponse
    if _is_api(request):
        response = JsonResponse(
            {"code": DATABASE_UNAVAILABLE, "message": DATABASE_UNAVAILABLE_MESSAGE},
            status=503,
            json_dumps_params={"ensure_ascii": False},
        )
    else:
        html = loader.render_to_string("503.html", {"message": DATABASE_UNAVAILABLE_MESSAGE, "retry": RETRY_AFTER})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response._has_been_logged = True  # type: ignore[attr-defined]  # one warning below, not Django's error line
    return response


def answer_outage(request: HttpRequest, exc: BaseException) -> HttpResponse:
    log.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)  # class only: messages name hosts
    with contextlib.suppress(db.Error):
        db.connection.close()  # drop the broken connection; the next request connects afresh
    return database_unavailable(request)


class DatabaseUnavailableMiddleware:
    """A view that lost its database connection answers 503 (above). Django connects again on the next request:
    CONN_HEALTH_CHECKS (settings) tests a kept connection before reusing it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_connection_lost(exception):
            return None
        return answer_outage(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an error raised outside any view (the login check reading the session in a middleware) that is a
    lost database connection is the same outage, 503; anything else is Django's own 500 page."""
    exc = sys.exc_info()[1]
    if exc is not None and is_connection_lost(exc):
        return answer_outage(request, exc)
    return defaults.server_error(request)
