"""`/healthz` and `/readyz`: what a load balancer and an orchestrator ask of each app process.

`/healthz` says the process answers at all; it touches nothing else, so a database outage never gets the process
restarted (restarting would not bring the database back). `/readyz` says whether this process can do its work:
the database answers, every migration on disk is applied to it, and a background worker was seen lately (the
`WorkerBeat` each `huanxin worker` moves every few seconds). It answers 503 naming the failing checks, so the load
balancer sends requests elsewhere until they pass. Both are open without a login and carry no personal data: only
each check's outcome, and the class of the error a failing check met (never its message, which can name hosts).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import Error, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from huanxin.core.middleware import RETRY_AFTER

log = logging.getLogger(__name__)


def _answer(payload: dict[str, Any], status: int = 200) -> JsonResponse:
    response = JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER)
    return response


@login_not_required
@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return _answer({"status": "ok"})


def _database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def _migrations() -> dict[str, Any]:
    # Every migration on disk that the database has not recorded. Not `migration_plan(leaf_nodes())`: that plan is
    # empty when an app's latest migration is recorded even if an earlier one is not. Loading reads the migration
    # modules once per process; later calls take ~5 ms.
    loader = MigrationExecutor(connection).loader
    pending = [key for key in loader.graph.nodes if key not in loader.applied_migrations]
    return {"ok": not pending, "pending": len(pending)}


def _worker(now: dt.datetime) -> dict[str, Any]:
    from huanxin.jobs.models import WorkerBeat

    within = settings.HUANXIN_READY_WORKER_SECONDS
    if within <= 0:  # switched off: a load balancer that should keep serving pages while the workers are down
        return {"ok": True, "skipped": True}
    seen = WorkerBeat.objects.filter(seen_at__gte=now - dt.timedelta(seconds=within)).count()
    return {"ok": seen > 0, "seen": seen, "within_seconds": within}


def _failed(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": type(exc).__name__}


def checks() -> dict[str, dict[str, Any]]:
    """Each check's outcome; the later ones are not tried once the database did not answer."""
    results: dict[str, dict[str, Any]] = {}
    try:
        results["database"] = _database()
    except Error as exc:
        results["database"] = _failed(exc)
        results["migrations"] = results["worker"] = {"ok": False, "skipped": True}
        with contextlib.suppress(Error):
            connection.close()  # the next request starts on a new connection rather than this broken one
        return results
    for name, check in (("migrations", _migrations), ("worker", lambda: _worker(timezone.now()))):
        try:
            results[name] = check()
        except Error as exc:
            results[name] = _failed(exc)
    return results


_last_failing: list[str] = []


def _log_change(failing: list[str]) -> None:
    """One line when readiness changes, rather than Django's error line for every probe's 503."""
    global _last_failing
    if failing != _last_failing:
        if failing:
            log.warning("not ready: %s", ", ".join(failing))
        else:
            log.info("ready again")
        _last_failing = failing


@login_not_required
@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results = checks()
    failing = [name for name, result in results.items() if not result["ok"]]
    _log_change(failing)
    if failing:
        response = _answer({"status": "unavailable", "failing": failing, "checks": results}, status=503)
        response._has_been_logged = True  # type: ignore[attr-defined]  # by _log_change, not per probe
        return response
    return _answer({"status": "ok", "checks": results})
