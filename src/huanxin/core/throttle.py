"""Throttling of public look-ups by a number and a short code (the subsidy progress page, certificate verification).

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
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.errors import HttpError

CODE = "too_many_lookups"
# The limits when settings do not name them (settings.py reads them from HUANXIN_LOOKUP_… variables).
DEFAULTS = {
    "LOOKUP_FAILURES_PER_ADDRESS": 10,
    "LOOKUP_ADDRESS_WINDOW_SECONDS": 600,
    "LOOKUP_FAILURES_PER_NUMBER": 5,
    "LOOKUP_NUMBER_WINDOW_SECONDS": 3600,
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
