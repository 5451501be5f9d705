"""A booking's citizen is told at each step (已提交, 已接单 with the visit time, 已完成, 上门未遇, 已取消), by message
and SMS to the booking's phone; a merchant's customer gets the SMS only; the text names no person or address."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from huanxin.notices.models import Message
from huanxin.recycling import services
from tests.jobs.helpers import run_queued_jobs
from tests.notices.helpers import assert_no_personal_data, events, recording
from tests.recycling.conftest import NOW, book

pytestmark = pytest.mark.django_db


def test_each_step_of_a_booking_is_a_message(citizen, recycler, slot, settings) -> None:
    sent = recording(settings)
    booking = book(citizen, slot)
    services.accept_booking(actor=recycler, booking=booking, now=NOW + dt.timedelta(hours=1))
    services.complete_booking(
        actor=recycler,
        booking=booking,
        lines=[services.LineIn("refrigerator", 1, Decimal("48.5"), 8000)],
        now=slot.starts_at + dt.timedelta(hours=1),
    )
    assert events(booking.number) == ["booking.submitted", "booking.accepted", "booking.completed"]
    accepted = Message.objects.get(subject=booking.number, event="booking.accepted")
    assert accepted.text == f"您的上门回收预约{booking.number}已接单，约定06月11日09:00上门。"
    assert accepted.user == citizen and accepted.phone == "13812345678"
    completed = Message.objects.get(subject=booking.number, event="booking.completed")
    assert "80" not in completed.text  # what was paid at the door is not in an SMS
    assert_no_personal_data(booking.number, "李明", "13812345678", "幸福小区", "501")
    run_queued_jobs()
    assert [s.template for s in sent] == events(booking.number)


def test_no_show_and_cancellation_are_told(citizen, recycler, slot) -> None:
    booking = book(citizen, slot)
    services.accept_booking(actor=recycler, booking=booking, now=NOW + dt.timedelta(hours=1))
    services.mark_no_show(actor=recycler, booking=booking, now=slot.starts_at + dt.timedelta(minutes=30))
    other = book(citizen, slot)
    services.cancel_booking(actor=citizen, booking=other, now=NOW)
    assert events(booking.number) == ["booking.submitted", "booking.accepted", "booking.no_show"]
    assert events(other.number) == ["booking.submitted", "booking.cancelled"]


def test_a_merchants_customer_gets_the_sms_only(merchant, slot) -> None:
    booking = book(merchant, slot, phone="13700001111")
    message = Message.objects.get(subject=booking.number)
    assert message.user is None and message.phone == "13700001111" and message.sms_state == Message.Sms.PENDING
