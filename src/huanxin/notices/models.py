"""A message to a person about their application or booking: shown in their 消息 list (when they have an account)
and sent as an SMS (when there is a phone). The text holds no personal data: only what the public status page
shows (number, status, amount); the phone is encrypted and masked wherever it is shown or logged."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from huanxin.core import pii
from huanxin.core.fields import CodeField
from huanxin.core.models import User
from huanxin.core.roles import is_auditor, is_authenticated


class MessageQuerySet(models.QuerySet["Message"]):
    def visible_to(self, user: Any) -> MessageQuerySet:
        """One's own messages; auditors all (to check what was sent — the text holds no personal data)."""
        if not is_authenticated(user):
            return self.none()
        if is_auditor(user):
            return self
        return self.filter(user=user)


class Message(models.Model):
    class Subject(models.TextChoices):
        APPLICATION = "application", "补贴申请"
        BOOKING = "booking", "上门回收预约"

    class Sms(models.TextChoices):
        NONE = "none", "不发短信"
        PENDING = "pending", "待发送"
        SENT = "sent", "已发送"
        FAILED = "failed", "发送失败"

    # the recipient's account; none for a till's customer, who gets the SMS only
    user = models.ForeignKey(User, models.PROTECT, null=True, blank=True, related_name="+")
    event = CodeField("事件", max_length=40)  # a key of notify.TEMPLATES: application.approved …
    subject_kind = models.CharField(max_length=12, choices=Subject.choices)
    subject = CodeField("编号", max_length=24)  # the application's or booking's number
    text = models.CharField("内容", max_length=300)
    created_at = models.DateTimeField("时间", default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)
    phone = pii.EncryptedTextField("手机号码", blank=True, default="")
    sms_state = models.CharField("短信", max_length=10, choices=Sms.choices, default=Sms.NONE)
    sms_attempts = models.PositiveSmallIntegerField(default=0)
    sms_next_at = models.DateTimeField(null=True, blank=True)  # when the pending attempt is due
    sms_error = models.CharField(max_length=200, blank=True)  # the gateway's error code: never the phone or text
    sms_sent_at = models.DateTimeField(null=True, blank=True)
    sms_reference = models.CharField(max_length=64, blank=True)  # the provider's id of the sent SMS

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = verbose_name_plural = "消息"
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notices_user_recent"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notices_unread"),
            # the daily check reads the few pending and failed ones, never the sent millions
            models.Index(
                fields=["sms_state", "sms_next_at"],
                condition=Q(sms_state__in=["pending", "failed"]),
                name="notices_sms_open",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.event}"

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.phone)
