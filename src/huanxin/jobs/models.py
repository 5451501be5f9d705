"""A background job as the person who started it sees it: what it is, whose, how far it got, what came of it.

`django_tasks_db` keeps the queue (which worker runs what); a `Job` is the record a person reads, and the row the
exactly-once rules hang on (`services.run`): a job is claimed by one conditional update, and a worker that dies
leaves a heartbeat that stops moving, after which the job is queued again (`services.recover_stale`)."""

from __future__ import annotations

from typing import Any

from django.db import models

from huanxin.core.models import User
from huanxin.core.roles import is_auditor, is_authenticated


class JobQuerySet(models.QuerySet["Job"]):
    def visible_to(self, user: Any) -> JobQuerySet:
        """One's own jobs; the periodic ones (no owner) to auditors as well."""
        if not is_authenticated(user):
            return self.none()
        if is_auditor(user):
            return self.filter(models.Q(owner=user) | models.Q(owner__isnull=True))
        return self.filter(owner=user)


class Job(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "处理中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    kind = models.CharField("类型", max_length=40)
    title = models.CharField("名称", max_length=200)
    owner = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="jobs", verbose_name="提交人")
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.QUEUED)
    params = models.JSONField("参数", default=dict, blank=True)  # never personal data: that is in the sealed input
    rows_done = models.PositiveIntegerField("已处理", default=0)
    rows_total = models.PositiveIntegerField("总数", null=True, blank=True)
    message = models.CharField("结果", max_length=500, blank=True)
    link_url = models.CharField(max_length=200, blank=True)  # kinds.Finished.link: a path on this site
    link_label = models.CharField(max_length=40, blank=True)
    errors = models.JSONField("错误", default=list, blank=True)  # at most MAX_ERRORS lines, each a person can read
    created_at = models.DateTimeField("提交时间", auto_now_add=True)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # moved by the running worker every HEARTBEAT s
    worker_id = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # 2 or more: a worker died while running it
    seen_at = models.DateTimeField(null=True, blank=True)  # the owner opened it after it ended (待办)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "后台任务"
        verbose_name_plural = "后台任务"
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="jobs_owner_recent"),
            models.Index(fields=["state", "heartbeat_at"], name="jobs_state_heartbeat"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rows_total__isnull=True) | models.Q(rows_done__lte=models.F("rows_total")),
                name="jobs_done_within_total",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def ended(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)

    @property
    def took(self) -> str:
        """How long it ran, in words: 3 秒, 2 分 5 秒, 1 小时 4 分."""
        if self.started_at is None or self.finished_at is None:
            return ""
        seconds = max(0, round((self.finished_at - self.started_at).total_seconds()))
        if seconds < 60:
            return f"{seconds} 秒"
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return f"{minutes} 分 {seconds} 秒"
        return f"{minutes // 60} 小时 {minutes % 60} 分"

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(99, self.rows_done * 100 // self.rows_total)


class JobFile(models.Model):
    """A job's uploaded input or its result, sealed (`pii.seal_bytes`): in the database, so app servers and workers
    on different machines share it with nothing but PostgreSQL."""

    class Role(models.TextChoices):
        INPUT = "input", "上传文件"
        RESULT = "result", "结果文件"

    job = models.ForeignKey(Job, models.CASCADE, related_name="files")
    role = models.CharField(max_length=10, choices=Role.choices)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sealed = models.BinaryField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "role"], name="jobs_one_file_per_role")]

    def __str__(self) -> str:
        return self.name


class WorkerBeat(models.Model):
    """Each worker process's last sign of life: `/readyz` asks whether any worker was seen lately."""

    worker_id = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=100)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.worker_id


class ScheduledRun(models.Model):
    """One row per periodic job and slot ("2026-12-07" for a daily one): the unique pair is what lets several
    workers each try to start it and only one succeed."""

    name = models.CharField(max_length=60)
    slot = models.CharField(max_length=20)
    job = models.OneToOneField(Job, models.CASCADE, related_name="scheduled_run")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="jobs_one_run_per_slot")]

    def __str__(self) -> str:
        return f"{self.name} {self.slot}"
