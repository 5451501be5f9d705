"""SMS gateways for tests, plugged in by `HUANXIN_SMS_GATEWAY` as a provider would be: one that records what it
would send, one that always refuses (a provider down or out of credit)."""

from __future__ import annotations

from typing import ClassVar

from huanxin.notices.notify import GatewayError, Sms


class Recording:
    sent: ClassVar[list[Sms]] = []

    def send(self, sms: Sms) -> str:
        Recording.sent.append(sms)
        return f"rec-{len(Recording.sent)}"


class Failing:
    calls: ClassVar[int] = 0

    def send(self, sms: Sms) -> str:
        Failing.calls += 1
        raise GatewayError("isv.BUSINESS_LIMIT_CONTROL")
