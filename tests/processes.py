"""Real processes for the tests that need them (the outage test, the multi-process test, `huanxin serve`): a fresh
PostgreSQL database migrated by `huanxin migrate`, app servers and workers started as the operator starts them,
a free port, and waiting for an address to answer. Everything started is stopped in the caller's `finally`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings

HUANXIN = str(Path(sys.executable).with_name("huanxin"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server() -> dict[str, Any]:
    """The PostgreSQL server the suite runs on (from DATABASE_URL), without a database name."""
    db = settings.DATABASES["default"]
    return {
        "host": db.get("HOST") or "127.0.0.1",
        "port": int(db.get("PORT") or 5432),
        "user": db.get("USER") or "postgres",
        "password": db.get("PASSWORD") or "",
    }


def url(name: str, *, host: str | None = None, port: int | None = None) -> str:
    s = server()
    auth = s["user"] + (f":{s['password']}" if s["password"] else "")
    return f"postgres://{auth}@{host or s['host']}:{port or s['port']}/{name}"


def _admin(statement: str) -> None:
    import psycopg

    s = server()
    with psycopg.connect(dbname="postgres", autocommit=True, **s) as admin:
        admin.execute(statement)  # type: ignore[arg-type]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HUANXIN_TEST_DB_NAME", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"DJANGO_SETTINGS_MODULE": "huanxin.settings", "HUANXIN_DEBUG": "0", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


@contextlib.contextmanager
def migrated_database(prefix: str) -> Iterator[str]:
    """A fresh database `<prefix>_<pid>` with every migration applied by `huanxin migrate`; dropped afterwards."""
    name = f"{prefix}_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    try:
        subprocess.run(
            [HUANXIN, "migrate", "--no-input", "-v0"], env=environment(DATABASE_URL=url(name)), check=True, timeout=120
        )
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`huanxin <args>` in its own process group, its output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [HUANXIN, *args], env=environment(**env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM to each process's group (gunicorn's workers too), SIGKILL to what is left after a few seconds."""
    for process in processes:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def get(address: str, *, timeout: float = 5.0, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    """GET without following redirects: (status, headers, body); HTTP errors are answers too."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(address, headers=headers or {})  # noqa: S310 - http://127.0.0.1 only
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(address: str, *, process: subprocess.Popen[bytes], log: Path, seconds: float = 30.0) -> None:
    """Until `address` answers 200, or fail with the process's output."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args} exited {process.returncode}:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            if get(address, timeout=2)[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"{address} did not answer 200 within {seconds} s:\n{log.read_text(errors='replace')}")
