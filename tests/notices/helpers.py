"""What tests ask of the messages: their events in order, and the rule that no text carries personal data."""

from __future__ import annotations

from huanxin.notices.models import Message
from huanxin.notices.notify import Sms
from tests.notices.gateways import Failing, Recording


def events(number: str) -> list[str]:
    return list(Message.objects.filter(subject=number).order_by("created_at", "pk").values_list("event", flat=True))


def assert_no_personal_data(number: str, *secrets: str) -> None:
    """None of the messages about `number` shows a name, an ID number or the phone, in whole or in part beyond the
    masked form (the last four digits of a phone are what the status page asks for, never shown)."""
    for message in Message.objects.filter(subject=number):
        for secret in secrets:
            assert secret not in message.text, (message.event, message.text)


def recording(settings) -> list[Sms]:
    """Plug in the recording gateway; the list of what it is handed."""
    settings.HUANXIN_SMS_GATEWAY = "tests.notices.gateways.Recording"
    Recording.sent.clear()
    return Recording.sent


def failing(settings) -> type[Failing]:
    settings.HUANXIN_SMS_GATEWAY = "tests.notices.gateways.Failing"
    Failing.calls = 0
    return Failing
