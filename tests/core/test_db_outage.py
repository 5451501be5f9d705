"""The database going away is an outage, not an error (core/middleware.py): 503 with Retry-After — the Chinese page,
or the API's {"code": "database_unavailable"} — while it is unreachable, /readyz saying so, and every request
answered again once it is back, without restarting the app.

The end-to-end test never touches the shared PostgreSQL server: the app reaches it through a small TCP proxy in
this test, and "the database restarting" is the proxy closing every connection and refusing new ones for 3 s."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass

import psycopg
import pytest
from django import db
from django.db import connection
from django.test import Client

from huanxin.core.middleware import is_connection_lost
from tests import processes
from tests.conftest import postgres_only


def _wrapped(django_class: type[db.Error], cause: BaseException) -> db.Error:
    error = django_class(str(cause))
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (_wrapped(db.OperationalError, psycopg.OperationalError("connection failed: Connection refused")), True),
        (_wrapped(db.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")), True),
        (_wrapped(db.OperationalError, psycopg.errors.AdminShutdown("terminating connection")), True),
        (_wrapped(db.OperationalError, psycopg.errors.CannotConnectNow("the database system is starting up")), True),
        (_wrapped(db.OperationalError, psycopg.errors.ConnectionFailure("08006")), True),
        (_wrapped(db.InterfaceError, psycopg.InterfaceError("the connection is closed")), True),
        (db.InterfaceError("connection already closed"), True),
        (_wrapped(db.OperationalError, sqlite3.OperationalError("unable to open database file")), True),
        # the statement's own failures are not an outage: retried by core/retry.py or a real error
        (_wrapped(db.OperationalError, psycopg.errors.SerializationFailure("could not serialize")), False),
        (_wrapped(db.OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")), False),
        (_wrapped(db.OperationalError, psycopg.errors.LockNotAvailable("lock timeout")), False),
        (_wrapped(db.OperationalError, psycopg.errors.QueryCanceled("statement timeout")), False),
        (_wrapped(db.OperationalError, sqlite3.OperationalError("database is locked")), False),
        (_wrapped(db.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_a_lost_connection_counts_as_an_outage(error: BaseException, lost: bool) -> None:
    assert is_connection_lost(error) is lost


def _cut(*_: object, **__: object) -> None:
    raise _wrapped(db.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"))


@pytest.mark.django_db
def test_a_page_whose_database_is_gone_answers_the_chinese_503(monkeypatch) -> None:
    monkeypatch.setattr("huanxin.recycling.selectors.search_sites", _cut)
    response = Client(raise_request_exception=False).get("/recycling/sites/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    page = response.content.decode()
    assert "服务暂时不可用" in page and "系统暂时无法连接数据库" in page
    assert "style=" not in page and "<script" not in page  # the strict CSP holds on this page too


@pytest.mark.django_db
def test_the_api_answers_its_code(monkeypatch) -> None:
    monkeypatch.setattr("huanxin.recycling.selectors.search_sites", _cut)
    response = Client(raise_request_exception=False).get("/api/v1/recycling/sites")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert json.loads(response.content) == {
        "code": "database_unavailable",
        "message": "系统暂时无法连接数据库，请稍后重试",
    }


@pytest.mark.django_db
def test_a_loss_outside_any_view_is_503_too(monkeypatch) -> None:
    """The login check reads the session in a middleware, before any view: the handler500 answers that one."""
    monkeypatch.setattr("django.contrib.sessions.backends.db.SessionStore.load", _cut)
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "a" * 32
    response = client.get("/")
    assert response.status_code == 503 and response["Retry-After"] == "5"


@pytest.mark.django_db
def test_other_database_errors_stay_server_errors(monkeypatch) -> None:
    def locked(*_: object, **__: object) -> None:
        raise _wrapped(db.OperationalError, psycopg.errors.LockNotAvailable("lock timeout"))

    monkeypatch.setattr("huanxin.recycling.selectors.search_sites", locked)
    assert Client(raise_request_exception=False).get("/recycling/sites/").status_code == 500


# --- end to end, on PostgreSQL through a proxy that can be cut -------------------------------------------------------


class Proxy:
    """127.0.0.1:<port> → the PostgreSQL server, byte for byte; `cut()` closes every connection and refuses new ones
    (the port is closed), `restore()` listens again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = processes.free_port()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            listener.close()
        with self._lock:
            for sock in list(self._open):
                self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        self._open.discard(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._open.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._close(source)
                self._close(target)


@dataclass
class Answer:
    path: str
    started: float
    ended: float
    status: int
    retry_after: str | None


# what each request answers while the database is there: public pages and the API read it, "/" with a session
# cookie reads the session in the login check (a middleware), /readyz asks it
EXPECTED = {"/recycling/sites/": 200, "/api/v1/recycling/sites": 200, "/readyz": 200, "/": 302}
COOKIE = {"Cookie": "sessionid=" + "b" * 32}


def _load(base: str, stop: threading.Event, answers: list[Answer], lock: threading.Lock, offset: int) -> None:
    paths = list(EXPECTED)
    n = offset
    while not stop.is_set():
        path = paths[n % len(paths)]
        n += 1
        started = time.monotonic()
        try:
            status, headers, _ = processes.get(base + path, timeout=15, headers=COOKIE if path == "/" else None)
        except OSError:
            status, headers = -1, {}
        with lock:
            answers.append(Answer(path, started, time.monotonic(), status, headers.get("Retry-After")))


@postgres_only
@pytest.mark.django_db  # for the suite's test database to exist; this process writes nothing to it
def test_a_database_cut_for_three_seconds_is_503_then_200_never_500(tmp_path) -> None:
    """The app runs on this suite's own test database (migrated, the plan loaded): every request here only reads,
    so nothing the next tests see changes, and no second database has to be migrated."""
    upstream = processes.server()
    proxy = Proxy((upstream["host"], upstream["port"]))
    name = connection.settings_dict["NAME"]
    port = processes.free_port()
    log = tmp_path / "serve.log"
    app = processes.start(
        ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
        log,
        DATABASE_URL=processes.url(name, host="127.0.0.1", port=proxy.port),
        HUANXIN_CONN_MAX_AGE="60",  # kept connections, cut under the app: the health check must replace them
        HUANXIN_READY_WORKER_SECONDS="0",  # no worker in this test; tests/jobs/test_multiprocess.py has them
        HUANXIN_API_RATE_ANON="1000000",
        HUANXIN_LOG_FORMAT="json",
    )
    stop, lock, answers = threading.Event(), threading.Lock(), []
    base = f"http://127.0.0.1:{port}"
    drivers = [threading.Thread(target=_load, args=(base, stop, answers, lock, i)) for i in range(6)]
    try:
        processes.wait_for(base + "/readyz", process=app, log=log)
        for driver in drivers:
            driver.start()
        time.sleep(2.0)
        cut_at = time.monotonic()
        proxy.cut()
        time.sleep(3.0)
        restored_at = time.monotonic()
        proxy.restore()
        time.sleep(4.0)
    finally:
        stop.set()
        for driver in drivers:
            driver.join(timeout=20)
        proxy.cut()
        processes.stop(app)

    server_log = log.read_text(errors="replace")
    statuses = sorted({a.status for a in answers})
    assert all(a.status != 500 for a in answers), f"500s: {statuses}\n{server_log[-4000:]}"
    assert all(a.status in (EXPECTED[a.path], 503) for a in answers), statuses
    assert all(a.retry_after == "5" for a in answers if a.status == 503)

    before = [a for a in answers if a.ended < cut_at]
    during = [a for a in answers if a.started > cut_at + 0.2 and a.ended < restored_at]
    after = [a for a in answers if a.started > restored_at + 1.0]
    assert before and all(a.status == EXPECTED[a.path] for a in before)
    assert len(during) >= 20 and all(a.status == 503 for a in during), [(a.path, a.status) for a in during]
    assert {a.path for a in during} == set(EXPECTED)  # pages, the API, the login check and /readyz alike
    assert len(after) >= 20 and all(a.status == EXPECTED[a.path] for a in after), [(a.path, a.status) for a in after]
    assert any(a.path == "/readyz" and a.status == 200 for a in after)

    lines = [json.loads(line) for line in server_log.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("database unavailable") for line in lines)
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert not errors, errors[:3]
