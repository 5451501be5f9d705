"""Whole transactions retried when the database aborts them for a conflict, never a 500.

PostgreSQL breaks a deadlock or a serialization failure by aborting one transaction; SQLite answers "database is
locked" when a writer waited past its timeout. Either way nothing was written and the same work done again a
moment later usually goes through. `retrying` wraps a service function whose transaction it owns: it runs it
again a few times with a growing random pause, and when it keeps losing raises `Busy`, which the API answers with
503 and Retry-After and the pages with a Chinese message. Inside a caller's transaction nothing can be retried:
the error goes up to the caller's own `retrying`.
"""

from __future__ import annotations

import functools
import logging
import random
import sqlite3
import time
from collections.abc import Callable

import psycopg
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class Busy(Exception):
    """A conflict that kept recurring: the request may be sent again in `retry_after` seconds."""

    code = "busy_retry"
    retry_after = 2

    def __init__(self, message: str = "系统繁忙（同时提交的请求较多），请稍后重试") -> None:
        super().__init__(message)


def is_conflict(exc: BaseException) -> bool:
    """An abort that doing the same work again may get past."""
    cause = exc.__cause__
    if isinstance(cause, RETRYABLE):
        return True
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)


def retrying[**P, R](fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        attempt = 1
        while True:
            try:
                return fn(*args, **kwargs)
            except OperationalError as exc:
                if connection.in_atomic_block or not is_conflict(exc):
                    raise
                if attempt >= MAX_ATTEMPTS:
                    logger.warning("%s: still conflicting after %d attempts", fn.__name__, attempt)
                    raise Busy() from exc
                logger.info("%s: %s, retrying (attempt %d)", fn.__name__, type(exc.__cause__).__name__, attempt)
            time.sleep(random.uniform(0, 0.005 * 2**attempt))  # noqa: S311 - jitter, not a secret
            attempt += 1

    return wrapper


class BusyMiddleware:
    """A page whose service kept losing a conflict answers 503 with Retry-After and a Chinese message, not a 500."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, Busy):
            return None
        response = render(request, "core/busy.html", {"message": str(exception)}, status=503)
        response["Retry-After"] = str(exception.retry_after)
        return response
