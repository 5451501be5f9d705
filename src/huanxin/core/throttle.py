"""Throttling: public look-ups by a number and a short code, failed logins per client address, and the API.

Public look-ups (the subsidy progress page, certificate verification):

Only *failed* look-ups count, per client address and per looked-up number, each in its own window: by default 10
per address in 10 minutes and 5 per number in an hour (settings `LOOKUP_FAILURES_PER_ADDRESS`,
`LOOKUP_ADDRESS_WINDOW_SECONDS`, `LOOKUP_FAILURES_PER_NUMBER`, `LOOKUP_NUMBER_WINDOW_SECONDS`). Once either count
reaches its limit every look-up of that address, or of that number from any address, is refused — a right answer
too, so the refusal says nothing about the guess — until the window that began with the first failure ends.

The counts live in Django's cache (`cache.add` starts a window with its timeout, `cache.incr` counts without moving
it): LocMem in one process, Redis (REDIS_URL) shared by every worker. A backend whose `incr` rewrites the timeout
(the database cache) would stretch the windows.

django-ratelimit was considered: its windows are aligned to the clock (so up to twice the limit across an edge, and
tests depend on the time they run at), and its system check refuses LocMem, this project's default cache.

Use:

    LOOKUPS = LookupThrottle("subsidies.status")
    wait = LOOKUPS.wait(request, number)   # seconds to wait, 0 when the look-up may go ahead
    ...
    if not found:
        LOOKUPS.failed(request, number)

Logins: django-axes locks a user name after `AXES_FAILURE_LIMIT` failures from one address, but one password tried
against many user names never reaches it, and axes has one limit for all its lock-out parameters. So failed logins
are also counted per address whatever the names (`LOGIN_FAILURES_PER_ADDRESS` in `LOGIN_ADDRESS_WINDOW_SECONDS`, by
default 30 in 15 minutes), by a receiver of Django's `user_login_failed` (admin login included); past the limit
`AddressLoginBackend`, first in AUTHENTICATION_BACKENDS, refuses every login from the address before a password
is checked, and axes' middleware answers with the lock-out page (core/views.py `locked_out`, 429 + Retry-After).

The API: every operation counts against its caller within a sliding minute (django-ninja's throttles, state in the
cache): `API_RATE_ANON` requests from one address without credentials, `API_RATE_USER` per authenticated user; past
it 429 {"code": "throttled"} with Retry-After (huanxin/api.py).
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.throttling import AnonRateThrottle, SimpleRateThrottle

CODE = "too_many_lookups"
# The limits when settings do not name them (settings.py reads them from HUANXIN_LOOKUP_… variables).
DEFAULTS = {
    "LOOKUP_FAILURES_PER_ADDRESS": 10,
    "LOOKUP_ADDRESS_WINDOW_SECONDS": 600,
    "LOOKUP_FAILURES_PER_NUMBER": 5,
    "LOOKUP_NUMBER_WINDOW_SECONDS": 3600,
    "LOGIN_FAILURES_PER_ADDRESS": 30,
    "LOGIN_ADDRESS_WINDOW_SECONDS": 900,
    "API_RATE_ANON": 60,
    "API_RATE_USER": 600,
}


def _setting(name: str) -> int:
    return int(getattr(settings, name, DEFAULTS[name]))


def message(wait_seconds: int) -> str:
    """The refusal in Chinese, with the wait rounded up to whole minutes."""
    return f"查询过于频繁，请{max(1, math.ceil(wait_seconds / 60))}分钟后再试"


class TooManyLookups(HttpError):
    """Raised by an API endpoint: 429 {"code": "too_many_lookups", "message": …}; the API's handler for it adds
    Retry-After (huanxin/api.py)."""

    def __init__(self, wait_seconds: int) -> None:
        self.retry_after = max(1, int(wait_seconds))
        self.code = CODE
        super().__init__(429, message(self.retry_after))


def _networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def _within(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: HttpRequest) -> str:
    """The address a request came from: REMOTE_ADDR, unless that is one of `TRUSTED_PROXIES` (empty by default) —
    then X-Forwarded-For read from the right, skipping the trusted proxies, so a client cannot pick its address by
    sending the header itself. An IPv6 address counts as its /64 (one subscriber's usual allocation)."""
    address = request.META.get("REMOTE_ADDR", "") or ""
    proxies = _networks(getattr(settings, "TRUSTED_PROXIES", []))
    if proxies and _within(address, proxies):
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            address = hop
            if not _within(hop, proxies):
                break
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    window: int

    def wait(self, now: float) -> int:
        values = cache.get_many([self.key, self.key + ":until"])
        if values.get(self.key, 0) < self.limit:
            return 0
        until = values.get(self.key + ":until", now + self.window)
        return max(1, math.ceil(until - now))

    def count(self, now: float) -> None:
        if cache.add(self.key, 1, timeout=self.window):
            cache.set(self.key + ":until", now + self.window, timeout=self.window)
            return
        try:
            cache.incr(self.key)
        except ValueError:  # expired between add and incr: this failure starts a new window
            cache.set(self.key, 1, timeout=self.window)
            cache.set(self.key + ":until", now + self.window, timeout=self.window)


class LookupThrottle:
    """Failed look-ups of one public look-up (`scope`), counted per client address and per number."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    def _counters(self, request: HttpRequest, number: str) -> list[_Counter]:
        def key(kind: str, value: str) -> str:
            digest = hashlib.sha256(f"{self.scope}\0{kind}\0{value}".encode()).hexdigest()[:40]
            return f"lookup-throttle:{self.scope}:{kind}:{digest}"

        return [
            _Counter(
                key("address", client_address(request)),
                _setting("LOOKUP_FAILURES_PER_ADDRESS"),
                _setting("LOOKUP_ADDRESS_WINDOW_SECONDS"),
            ),
            _Counter(
                key("number", "".join(number.split()).upper()),
                _setting("LOOKUP_FAILURES_PER_NUMBER"),
                _setting("LOOKUP_NUMBER_WINDOW_SECONDS"),
            ),
        ]

    def wait(self, request: HttpRequest, number: str) -> int:
        """Seconds until this look-up may be tried (the longer of the two waits), or 0 when it may go ahead."""
        now = time.time()
        return max(counter.wait(now) for counter in self._counters(request, number))

    def failed(self, request: HttpRequest, number: str) -> None:
        """Count a look-up that found nothing (wrong number and wrong code alike) against the address and the
        number."""
        now = time.time()
        for counter in self._counters(request, number):
            counter.count(now)


# --- logins per address -----------------------------------------------------------------------------------------


def _login_counter(request: HttpRequest) -> _Counter:
    digest = hashlib.sha256(f"login\0{client_address(request)}".encode()).hexdigest()[:40]
    return _Counter(
        f"login-throttle:address:{digest}",
        _setting("LOGIN_FAILURES_PER_ADDRESS"),
        _setting("LOGIN_ADDRESS_WINDOW_SECONDS"),
    )


def login_wait(request: HttpRequest) -> int:
    """Seconds until logins from this request's address are accepted again, or 0."""
    return _login_counter(request).wait(time.time())


@receiver(user_login_failed, dispatch_uid="huanxin.core.throttle.count_failed_login")
def count_failed_login(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Every failed login counts against its address. Connected when this module is imported, which Django's
    `authenticate` does before it can fail: it loads `AddressLoginBackend` from AUTHENTICATION_BACKENDS."""
    if request is not None:
        _login_counter(request).count(time.time())


class AddressLoginRefused(PermissionDenied):
    """Stops `authenticate` at the first backend (a PermissionDenied does; None would go on to the next)."""


class AddressLoginBackend:
    """Refuses every login from an address past its failures, whatever the user name, before any password is
    checked. Flags the request for axes' middleware, which answers with the lock-out page. It logs nobody in, so it
    has no `get_user` (the test client's force_login takes the first backend that has one)."""

    def authenticate(self, request: HttpRequest | None, **credentials: Any) -> None:
        if request is None:
            return None
        wait = login_wait(request)
        if wait:
            request.login_address_wait = wait  # type: ignore[attr-defined]  # read by core/views.py locked_out
            request.axes_locked_out = True  # type: ignore[attr-defined]  # axes' middleware renders the lock-out page
            raise AddressLoginRefused("该地址登录失败次数过多")
        return None


# --- the API ----------------------------------------------------------------------------------------------------

THROTTLED = "throttled"
THROTTLED_MESSAGE = "请求过于频繁，请稍后再试"


class _PerMinute:
    """A sliding minute of request times per caller in the cache, the limit read from settings at each request (so
    tests and operators can change it). The state of one request is kept per thread: ninja shares one throttle
    object between the threads of a worker, and its own keeps the last request's history on the object."""

    setting = ""
    cache: Any
    get_cache_key: Any

    def __init__(self) -> None:
        super().__init__(rate="1/min")  # type: ignore[call-arg]  # the real rate is read at each request
        self._local = threading.local()

    def get_ident(self, request: HttpRequest) -> str:
        return client_address(request)  # not ninja's X-Forwarded-For, which any client can write

    def allow_request(self, request: HttpRequest) -> bool:
        self._local.wait = None
        key = self.get_cache_key(request)
        if key is None:
            return True
        limit, now = max(1, _setting(self.setting)), time.time()
        history = [at for at in self.cache.get(key, []) if at > now - 60]
        if len(history) >= limit:
            self._local.wait = history[-1] + 60 - now  # when the oldest request of the minute drops out
            return False
        self.cache.set(key, [now, *history], 60)
        return True

    def wait(self) -> float | None:
        wait: float | None = getattr(self._local, "wait", None)
        return wait


class ApiAnonThrottle(_PerMinute, AnonRateThrottle):
    """Callers without credentials, per address: `API_RATE_ANON` requests a minute."""

    setting = "API_RATE_ANON"


class ApiUserThrottle(_PerMinute, SimpleRateThrottle):
    """Authenticated callers (a token or a session), per user: `API_RATE_USER` requests a minute. Keyed by the
    user's id, so a token and a session of one user share the count (ninja's AuthRateThrottle keys by the text of
    the user, and counts anonymous callers a second time)."""

    setting = "API_RATE_USER"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        if user is None:
            return None  # ApiAnonThrottle's
        return f"throttle_api_user_{getattr(user, 'pk', None) or hashlib.sha256(str(user).encode()).hexdigest()}"
