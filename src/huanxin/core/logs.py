"""Logs a machine can read: JSON lines in production, each line carrying its request, user and job.

`RequestContextMiddleware` gives every request an id (the caller's `X-Request-ID` when it is a plain token of at
most 64 characters, a fresh one otherwise), sends it back in the response's `X-Request-ID`, and writes one access
line per request: method, the view's route name, status and duration — never the path or its query string, which
can carry numbers and names. `huanxin.jobs.services.run` sets `JOB_ID` while a job runs. `ContextFilter` adds
`request_id`, `user_id` and `job_id` to every record; `JsonFormatter` writes a fixed set of fields, so whatever a
caller passes in `extra` (Django passes the request itself) never reaches the log.

The user id is the primary key, not a name, and only once something in the request already read the user: the
filter never loads the user itself (that would read the database from inside logging, during an outage too).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

REQUEST: ContextVar[HttpRequest | None] = ContextVar("huanxin_request", default=None)
JOB_ID: ContextVar[int | None] = ContextVar("huanxin_job_id", default=None)

HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# runserver's request lines ("GET /path?number=… HTTP/1.1"): the query string is dropped before it is written
_QUERY = re.compile(r"\?[^\s\"]*")

access_log = logging.getLogger("huanxin.access")


def request_id_from(value: str | None) -> str:
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def view_label(request: HttpRequest) -> str:
    """The route's name (`subsidies:status`, `api:…`), bounded in number and free of personal data."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or match.route or "unnamed"


def method_label(request: HttpRequest) -> str:
    method = (request.method or "").upper()
    return method if method in _METHODS else "other"


def user_id(request: HttpRequest | None) -> int | None:
    if request is None:
        return None
    user = request.__dict__.get("user")  # set by AuthenticationMiddleware (lazy) or by the API's authentication
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return pk if isinstance(pk, int) else None


class RequestContextMiddleware:
    """First in MIDDLEWARE: everything logged while the request is handled carries its id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.headers.get(HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        token = REQUEST.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = request_id
            access_log.info(
                "%s %s %s",
                method_label(request),
                view_label(request),
                response.status_code,
                extra={
                    "http": {
                        "method": method_label(request),
                        "view": view_label(request),
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    }
                },
            )
            return response
        finally:
            REQUEST.reset(token)


class ContextFilter(logging.Filter):
    """Adds request_id, user_id and job_id (None outside a request or a job) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = REQUEST.get()
        record.request_id = getattr(request, "request_id", None) if request is not None else None
        record.user_id = user_id(request)
        record.job_id = JOB_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, the app's zone), level, logger, message, process, the context fields,
    the access fields of an access line, and the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.name == "django.server":
            message = _QUERY.sub("", message)
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "process": record.process,
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "job_id": getattr(record, "job_id", None),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            entry["http"] = {key: http.get(key) for key in ("method", "view", "status", "duration_ms")}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
