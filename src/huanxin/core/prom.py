"""Prometheus metrics at `/metrics` (prometheus-client), for the monitoring network only.

Two kinds of figures:
- counted by each process as it serves: requests and their latency by view (`MetricsMiddleware`), labelled with
  the route's name, the method and the status class — never the raw path, which would make a series per
  application number and can carry personal data;
- read from the database when scraped (`DatabaseCollector`): jobs by state, workers seen lately, applications by
  status and the money still available in each programme (the ledger's `available` accounts' balances, as kept by
  every entry; not recomputed here). They are the same from whichever process answers the scrape.

Under gunicorn each worker process counts its own requests. With `PROMETHEUS_MULTIPROC_DIR` set (before the
process starts: prometheus-client reads it on import) every process writes its counts to files there and a scrape
of any of them sums all (`huanxin serve` empties the directory at start and marks exited workers dead); without
it a scrape sees the one process that answered it.

Access: only from addresses within `HUANXIN_METRICS_ALLOW` (CIDRs). A request that came through a proxy not named
in `HUANXIN_TRUSTED_PROXIES` (it carries X-Forwarded-For) is refused, since its sender cannot be known: scrape the
app servers directly, not through the public reverse proxy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import Error, connection
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from huanxin.core.logs import method_label, view_label

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "huanxin_http_requests",
    "HTTP requests answered, by route name, method and status class",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "huanxin_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        view, method = view_label(request), method_label(request)
        LATENCY.labels(view, method).observe(time.perf_counter() - started)
        REQUESTS.labels(view, method, f"{response.status_code // 100}xx").inc()
        return response


class DatabaseCollector(Collector):
    """Figures read from the database at each scrape. While it is away only `huanxin_database_up 0` is given."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("huanxin_database_up", "1 when the database answered this scrape's queries")
        try:
            families = list(self._from_database())
        except Error as exc:
            log.warning("metrics: database unavailable (%s)", type(exc).__name__)
            with contextlib.suppress(Error):
                connection.close()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _from_database(self) -> Iterator[GaugeMetricFamily]:
        from huanxin.jobs.models import Job, WorkerBeat
        from huanxin.subsidies.models import Account, Application, Programme

        jobs = GaugeMetricFamily("huanxin_jobs", "Background jobs by state", labels=["state"])
        counted = dict(Job.objects.order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
        for state in Job.State.values:
            jobs.add_metric([state], counted.get(state, 0))
        yield jobs

        workers = GaugeMetricFamily(
            "huanxin_workers_seen", "Worker processes seen within HUANXIN_READY_WORKER_SECONDS (as /readyz counts)"
        )
        since = timezone.now() - dt.timedelta(seconds=settings.HUANXIN_READY_WORKER_SECONDS)
        workers.add_metric([], WorkerBeat.objects.filter(seen_at__gte=since).count())
        yield workers

        applications = GaugeMetricFamily("huanxin_applications", "Subsidy applications by status", labels=["status"])
        by_status = dict(
            Application.objects.order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n")
        )
        for status in Application.Status.values:
            applications.add_metric([status], by_status.get(status, 0))
        yield applications

        available = GaugeMetricFamily(
            "huanxin_programme_available_fen",
            "Money still available to grant in each programme (fen): its available accounts' balances",
            labels=["programme"],
        )
        sums = dict(
            Account.objects.filter(kind=Account.Kind.AVAILABLE)
            .order_by()
            .values_list("programme_id")
            .annotate(total=Sum("balance_fen"))
            .values_list("programme_id", "total")
        )
        for pk, code in Programme.objects.order_by("code").values_list("pk", "code"):
            available.add_metric([code], sums.get(pk) or 0)
        yield available


_DATABASE = CollectorRegistry(auto_describe=False)
_DATABASE.register(DatabaseCollector())


def _networks(entries: list[str]) -> list[Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack socket gives IPv4 peers as ::ffff:a.b.c.d
    return ip


def _within(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: list[Network]) -> bool:
    return any(ip.version == network.version and ip in network for network in networks)


def scraper_address(request: HttpRequest) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The sender: REMOTE_ADDR, or behind trusted proxies the nearest untrusted X-Forwarded-For hop; None when a
    proxy we do not trust stands between (the header is there but REMOTE_ADDR is no trusted proxy)."""
    remote = _address(request.META.get("REMOTE_ADDR", "") or "")
    if remote is None:
        return None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    proxies = _networks(list(getattr(settings, "TRUSTED_PROXIES", [])))
    if not _within(remote, proxies):
        return None if forwarded else remote
    hops = [hop for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return None
        if not _within(ip, proxies):
            return ip
    return remote


def allowed(request: HttpRequest) -> bool:
    ip = scraper_address(request)
    return ip is not None and _within(ip, _networks(list(settings.HUANXIN_METRICS_ALLOW)))


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        served = generate_latest(registry)
    else:
        served = generate_latest(REGISTRY)
    return served + generate_latest(_DATABASE)


@login_not_required
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
