"""`huanxin serve`: the app under gunicorn, with the timeouts and worker count written down here, not left to
gunicorn's defaults (a 30 s timeout killed the worker in the middle of a large file before jobs existed).

- workers: 2 × cores + 1 by default (`--workers`), each with `--threads` threads (gthread: keep-alive works and a
  request waiting on the database does not hold a whole process);
- timeout 60 s: a worker silent for longer is killed and replaced. Long work is a background job now; what is left
  synchronous (a small file answered at once, an export page) finishes well within it;
- graceful_timeout 30 s: on SIGTERM or SIGHUP a worker finishes the requests in hand for up to this long;
- keepalive 5 s behind the reverse proxy.

Signals (to the master, whose pid is printed at start): SIGHUP starts new workers and retires the old ones
gracefully; SIGTERM stops after the requests in hand; SIGTTIN/SIGTTOU add or remove a worker. The application's code is
imported once in the master, so a new release is a restart of the service (or SIGUSR2, gunicorn's re-exec).

With PROMETHEUS_MULTIPROC_DIR set, the directory is emptied at start and each exited worker's figures are marked
dead, as prometheus-client's multiprocess mode requires (core/prom.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


def default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may run on (a container's share)
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 2 * cores + 1


def _empty_multiproc_dir(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def _worker_exited(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


def gunicorn_logging() -> dict[str, Any]:
    """Django's LOGGING, with gunicorn's own lines (workers started, timed out) through the same handler — JSON
    in production — and gunicorn's access log off: the app writes its own, without paths or query strings."""
    config: dict[str, Any] = {key: value for key, value in settings.LOGGING.items()}
    loggers = dict(config.get("loggers", {}))
    loggers["gunicorn.error"] = {"level": "INFO", "handlers": ["console"], "propagate": False}
    loggers["gunicorn.access"] = {"level": "WARNING", "handlers": [], "propagate": False}
    config["loggers"] = loggers
    return config


def options(*, bind: list[str], workers: int, threads: int, timeout: int) -> dict[str, Any]:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 30,
        "keepalive": 5,
        "proc_name": "huanxin",
        "accesslog": None,
        "errorlog": "-",
        "logconfig_dict": gunicorn_logging(),
        "control_socket_disable": True,  # gunicorn's control socket is one per user: two servers would collide
        "on_starting": _empty_multiproc_dir,
        "child_exit": _worker_exited,
    }


class Command(BaseCommand):
    help = "以生产方式运行网站（gunicorn）：明确的超时、按 CPU 核数启动工作进程，SIGHUP 平滑重启"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind",
            action="append",
            help="监听地址，可重复（默认 127.0.0.1:8000；如 0.0.0.0:8000、unix:/run/huanxin.sock）",
        )
        parser.add_argument("--workers", type=int, default=None, help="工作进程数（默认 2×CPU 核数+1）")
        parser.add_argument("--threads", type=int, default=2, help="每个工作进程的线程数（默认 2）")
        parser.add_argument("--timeout", type=int, default=60, help="请求超时秒数，超时的工作进程被替换（默认 60）")

    def handle(self, *args: Any, **opts: Any) -> None:
        from gunicorn.app.base import BaseApplication

        workers = opts["workers"] or default_workers()
        if workers < 1 or opts["threads"] < 1 or opts["timeout"] < 1:
            raise CommandError("--workers、--threads、--timeout 须为正整数")
        config = options(
            bind=opts["bind"] or ["127.0.0.1:8000"], workers=workers, threads=opts["threads"], timeout=opts["timeout"]
        )

        class Server(BaseApplication):
            def load_config(self) -> None:
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                from django.core.wsgi import get_wsgi_application

                return get_wsgi_application()

        connections.close_all()  # no connection of the master's is inherited by the forked workers
        self.stdout.write(f"焕新 服务启动：{', '.join(config['bind'])}，{workers} 个工作进程 × {opts['threads']} 线程")
        self.stdout.flush()
        Server().run()
