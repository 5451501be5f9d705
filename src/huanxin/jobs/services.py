"""Starting, running and finishing background jobs: the exactly-once rules.

- `start` writes the job, its sealed input, its audit event and its queue entry in one transaction: a job is never
  queued without its record, nor recorded without being queued.
- `run` claims the job by a conditional update (QUEUED → RUNNING): of two workers handed the same job, one runs it.
- While it runs, a thread with its own connection moves the job's heartbeat and progress every second; a job whose
  heartbeat stopped for `stale_after()` (its worker was killed) is queued again by any worker (`recover_stale`) and
  run again from the start. Kinds are written to be safe to run again (`kinds`), so nothing is written twice.
- `finish` is conditional on the job still being this worker's: a worker that was presumed dead and comes back
  cannot overwrite the run that replaced it.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from huanxin.core import audit, logs, pii
from huanxin.core.models import User
from huanxin.jobs import kinds
from huanxin.jobs.models import Job, JobFile

log = logging.getLogger(__name__)

HEARTBEAT = 1.0  # seconds between a running job's heartbeat writes
MAX_ATTEMPTS = 3  # a job that killed its worker three times is failed, not tried forever
MAX_ERRORS = 200
MAX_FILE = 64 * 1024 * 1024  # an input or result beyond this is refused (uploads stop at 20 MB)
FAILED_UNEXPECTEDLY = "处理时发生系统错误，已记录，请联系管理员"


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    content: bytes


def _store(job: Job, role: str, name: str, content_type: str, content: bytes) -> None:
    if len(content) > MAX_FILE:
        raise ValidationError("文件过大，无法保存", code="file_too_large")
    sealed = pii.seal_bytes(content)
    JobFile.objects.create(
        job=job, role=role, name=name[:200], content_type=content_type, size=len(content), sealed=sealed
    )


def start(
    *,
    actor: User | None,
    kind: str,
    title: str,
    params: dict[str, Any] | None = None,
    upload: Upload | None = None,
    rows_total: int | None = None,
) -> Job:
    kinds.get(kind)  # an unknown kind fails here, at the door, not in a worker
    from huanxin.jobs.tasks import run_job

    with transaction.atomic():
        job = Job.objects.create(kind=kind, title=title[:200], owner=actor, params=params or {}, rows_total=rows_total)
        if upload is not None:
            _store(job, JobFile.Role.INPUT, upload.name, upload.content_type, upload.content)
        audit.record(actor=actor, action="job.start", target=job, changes={"kind": kind, "title": job.title})
        run_job.enqueue(job.pk)  # the queue is a table of the same database: it commits with the job
    return job


def read_file(job: Job, role: str) -> tuple[JobFile, bytes] | None:
    file = JobFile.objects.filter(job=job, role=role).first()
    if file is None:
        return None
    return file, pii.open_bytes(bytes(file.sealed))


class Context:
    """What a running kind sees of its job."""

    def __init__(self, job: Job, worker_id: str) -> None:
        self.job = job
        self.worker_id = worker_id
        self.done = job.rows_done
        self.total = job.rows_total
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # Inside a caller's transaction (a test running a job in-process) another connection could not see the job:
        # progress is then written on this connection, and there is no heartbeat thread.
        self._threaded = not connection.in_atomic_block
        self._beat: threading.Thread | None = None

    @property
    def owner(self) -> User | None:
        return self.job.owner

    def input(self) -> bytes:
        found = read_file(self.job, JobFile.Role.INPUT)
        if found is None:
            raise ValidationError("任务缺少上传文件", code="no_file")
        return found[1]

    def progress(self, done: int, total: int | None = None) -> None:
        with self._lock:
            if total is not None:
                self.total = total
            self.done = min(done, self.total) if self.total is not None else done
        if not self._threaded:
            self._write()

    def _write(self) -> int:
        with self._lock:
            done, total = self.done, self.total
        return Job.objects.filter(pk=self.job.pk, state=Job.State.RUNNING, worker_id=self.worker_id).update(
            rows_done=done, rows_total=total, heartbeat_at=timezone.now()
        )

    def _beating(self) -> None:
        try:
            while not self._stop.wait(HEARTBEAT):
                try:
                    self._write()
                except OperationalError:  # the database away for a moment: the next beat tries again
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> Context:
        if self._threaded:
            self._beat = threading.Thread(target=self._beating, name=f"job-{self.job.pk}-heartbeat", daemon=True)
            self._beat.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()


def claim(job_id: int, worker_id: str) -> Job | None:
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=Job.State.QUEUED).update(
        state=Job.State.RUNNING,
        worker_id=worker_id,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    return Job.objects.select_related("owner").get(pk=job_id) if claimed else None


def run(job_id: int, worker_id: str) -> str:
    """Run one queued job to its end. Returns its final state, or "skipped" when another worker has it."""
    job = claim(job_id, worker_id)
    if job is None:
        return "skipped"
    kind = kinds.get(job.kind)
    context = Context(job, worker_id)
    token = logs.JOB_ID.set(job.pk)  # the run's log lines carry the job's id (core/logs.py)
    try:
        with context:
            finished = kind.run(context)
    except kinds.JobFailed as exc:
        return finish(job, worker_id, Job.State.FAILED, exc.finished, context)
    except (ValidationError, PermissionDenied) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        return finish(job, worker_id, Job.State.FAILED, kinds.Finished("；".join(messages)[:500]), context)
    except Exception:
        log.exception("job %s (%s) failed", job.pk, job.kind)  # the traceback names no personal data
        return finish(job, worker_id, Job.State.FAILED, kinds.Finished(FAILED_UNEXPECTEDLY), context)
    finally:
        logs.JOB_ID.reset(token)
    return finish(job, worker_id, Job.State.DONE, finished, context)


def finish(job: Job, worker_id: str, state: str, finished: kinds.Finished, context: Context | None = None) -> str:
    total = context.total if context is not None else job.rows_total
    done = context.done if context is not None else job.rows_done
    if state == Job.State.DONE and total is not None:
        done = total
    with transaction.atomic():
        ended = Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, worker_id=worker_id).update(
            state=state,
            message=finished.message[:500],
            errors=[str(e)[:500] for e in finished.errors[:MAX_ERRORS]],
            link_url=_local(finished.link[0]) if finished.link else "",
            link_label=finished.link[1][:40] if finished.link else "",
            rows_done=done,
            rows_total=total,
            finished_at=timezone.now(),
        )
        if not ended:  # presumed dead and queued again meanwhile: that run's answer stands
            return "skipped"
        if finished.result is not None:
            out = finished.result
            _store(job, JobFile.Role.RESULT, out.filename, out.content_type, out.content)
        audit.record(
            actor=None,
            actor_label=f"worker:{worker_id}"[:150],
            action=f"job.{state}",
            target=job,
            changes={"message": finished.message[:500], "rows_done": done, "rows_total": total},
        )
    return state


def stale_after() -> dt.timedelta:
    """No heartbeat for this long and a running job's worker is presumed gone (HUANXIN_JOB_STALE_SECONDS)."""
    return dt.timedelta(seconds=settings.JOBS_STALE_SECONDS)


def _local(url: str) -> str:
    """A link a job gives its owner stays on this site (a path), whatever a kind passes."""
    return url[:200] if url.startswith("/") and not url.startswith("//") else ""


def recover_stale(now: dt.datetime | None = None) -> list[int]:
    """Queue again each running job whose worker stopped beating; fail those that already had MAX_ATTEMPTS."""
    from huanxin.jobs.tasks import run_job

    cutoff = (now or timezone.now()) - stale_after()
    recovered = []
    stale = Job.objects.filter(state=Job.State.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", "attempts")
    for pk, attempts in list(stale):
        with transaction.atomic():
            taken = Job.objects.filter(pk=pk, state=Job.State.RUNNING, heartbeat_at__lt=cutoff)
            if attempts >= MAX_ATTEMPTS:
                message = f"处理{attempts}次均中断，已停止重试，请联系管理员"
                if taken.update(state=Job.State.FAILED, message=message, finished_at=timezone.now()):
                    audit.record(
                        actor=None, actor_label="worker", action="job.failed", object_type="jobs.job",
                        object_id=str(pk), changes={"message": message, "attempts": attempts},
                    )  # fmt: skip
                continue
            if taken.update(state=Job.State.QUEUED, worker_id="", heartbeat_at=None):
                audit.record(
                    actor=None, actor_label="worker", action="job.requeue", object_type="jobs.job",
                    object_id=str(pk), changes={"attempts": attempts},
                )  # fmt: skip
                run_job.enqueue(pk)
                recovered.append(pk)
    return recovered


def mark_seen(*, actor: User, job: Job) -> None:
    """The owner opened an ended job: it leaves their 待办. A read marker, not a business write: not audited."""
    if job.ended and job.seen_at is None and job.owner_id == actor.pk:
        Job.objects.filter(pk=job.pk, seen_at__isnull=True).update(seen_at=timezone.now())
