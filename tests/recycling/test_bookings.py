"""Pickup bookings: a citizen books, the recycler accepts and completes (or marks a no-show); slots have a
capacity; deadlines flag a recycler that lets bookings sit; bad input is refused with nothing half-saved."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from huanxin.core.models import AuditEvent, Region
from huanxin.core.roles import Role
from huanxin.recycling import selectors, services
from huanxin.recycling.models import Booking, BookingEvent, CollectionRecord, PickupSlot
from tests.factories import UserFactory
from tests.recycling.conftest import NOW, book, recycler_org

pytestmark = pytest.mark.django_db


def codes(exc: ValidationError) -> set[str]:
    if hasattr(exc, "error_dict"):
        return {e.code for errors in exc.error_dict.values() for e in errors}
    return {e.code for e in exc.error_list}


def test_a_booking_goes_from_submitted_to_completed_with_its_records(citizen, recycler, slot) -> None:
    booking = book(citizen, slot, items=[services.ItemIn("refrigerator", 1), services.ItemIn("tv", 2)])
    assert booking.status == Booking.Status.SUBMITTED
    assert booking.number.startswith("HS250610")
    assert booking.accept_by == NOW + services.ACCEPT_WITHIN  # a day, as the slot is later than that
    slot.refresh_from_db()
    assert slot.booked == 1

    services.accept_booking(actor=recycler, booking=booking, now=NOW + dt.timedelta(hours=1))
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ACCEPTED and booking.visit_at == slot.starts_at

    services.complete_booking(
        actor=recycler,
        booking=booking,
        lines=[
            services.LineIn("refrigerator", 1, Decimal("48.5"), 8000),
            services.LineIn("tv", 2, Decimal("30"), 4000),
        ],
        now=slot.starts_at + dt.timedelta(hours=1),
    )
    booking.refresh_from_db()
    assert booking.status == Booking.Status.COMPLETED
    assert booking.paid_fen == 12000
    records = CollectionRecord.objects.filter(booking=booking).order_by("category")
    assert [(r.category, r.units, r.weight_kg, r.price_fen) for r in records] == [
        ("refrigerator", 1, Decimal("48.50"), 8000),
        ("tv", 2, Decimal("30.00"), 4000),
    ]
    assert {r.region_id for r in records} == {slot.site.region_id}
    assert list(BookingEvent.objects.filter(booking=booking).values_list("status", flat=True)) == [
        "submitted",
        "accepted",
        "completed",
    ]
    events = AuditEvent.objects.filter(object_type="recycling.booking", object_id=str(booking.pk))
    actions = list(events.order_by("id").values_list("action", flat=True))
    assert actions == ["recycling.booking_submitted", "recycling.booking_accepted", "recycling.booking_completed"]


def test_a_full_slot_is_refused_and_a_cancellation_frees_its_place(citizen, slot) -> None:
    first = book(citizen, slot)
    book(citizen, slot)
    with pytest.raises(ValidationError) as exc:
        book(citizen, slot)
    assert codes(exc.value) == {"slot_full"}
    assert Booking.objects.count() == 2
    services.cancel_booking(actor=citizen, booking=first, now=NOW)
    slot.refresh_from_db()
    assert slot.booked == 1
    book(citizen, slot)  # the freed place can be taken again


def test_the_same_token_books_once(citizen, slot) -> None:
    first = book(citizen, slot, token="form-123")
    again = book(citizen, slot, token="form-123")
    assert again.pk == first.pk
    slot.refresh_from_db()
    assert slot.booked == 1 and Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"phone": "1381234"}, "invalid_phone"),
        ({"address": "张北"}, "invalid_address"),
        ({"contact_name": " "}, "required"),
        ({"items": []}, "no_items"),
        ({"items": [services.ItemIn("refrigerator", 0)]}, "invalid_count"),
        ({"items": [services.ItemIn("car", 1)]}, "car_not_bookable"),
        ({"items": [services.ItemIn("computer", 1)]}, "category_not_served"),
        ({"items": [services.ItemIn("tv", 25)]}, "too_many_items"),
        ({"now": NOW + dt.timedelta(days=2)}, "slot_in_past"),
    ],
)
def test_bad_bookings_are_refused_and_nothing_is_saved(citizen, slot, change, code) -> None:
    with pytest.raises(ValidationError) as exc:
        book(citizen, slot, **change)
    assert code in codes(exc.value)
    slot.refresh_from_db()
    assert slot.booked == 0
    assert not Booking.objects.exists()
    assert not AuditEvent.objects.filter(action="recycling.booking_submitted").exists()


def test_a_booking_outside_the_recyclers_area_is_refused(citizen, slot, kangbao) -> None:
    with pytest.raises(ValidationError) as exc:
        book(citizen, slot, region=kangbao)
    assert codes(exc.value) == {"outside_area"}
    assert "不在康保县提供上门服务" in exc.value.messages[0]
    assert not Booking.objects.exists()


def test_only_citizens_and_merchants_book(recycler, slot) -> None:
    with pytest.raises(PermissionDenied):
        book(recycler, slot)


def test_a_merchant_books_for_a_customer_at_the_till(merchant, slot) -> None:
    booking = book(merchant, slot, contact_name="王芳")
    assert booking.channel == Booking.Channel.MERCHANT
    assert booking.merchant_id == merchant.organisation_id and booking.citizen is None
    assert Booking.objects.visible_to(merchant).filter(pk=booking.pk).exists()
    colleague = UserFactory(role=Role.MERCHANT, organisation=merchant.organisation)
    services.cancel_booking(actor=colleague, booking=booking, now=NOW)  # the store, not only the clerk


def test_only_the_serving_recycler_acts_on_a_booking(citizen, slot, zhangbei) -> None:
    booking = book(citizen, slot)
    other = UserFactory(role=Role.RECYCLER, organisation=recycler_org(zhangbei, "另一家回收公司"))
    with pytest.raises(PermissionDenied):
        services.accept_booking(actor=other, booking=booking, now=NOW)
    assert not Booking.objects.visible_to(other).exists()
    assert not Booking.objects.visible_to(UserFactory(role=Role.CITIZEN)).exists()


def test_transitions_follow_the_states(citizen, recycler, slot) -> None:
    booking = book(citizen, slot)
    with pytest.raises(ValidationError) as exc:
        services.complete_booking(
            actor=recycler, booking=booking, lines=[services.LineIn("refrigerator", 1, Decimal(40), 0)], now=NOW
        )
    assert codes(exc.value) == {"invalid_transition"}
    services.accept_booking(actor=recycler, booking=booking, now=NOW)
    with pytest.raises(ValidationError, match="还没到"):
        services.mark_no_show(actor=recycler, booking=booking, now=NOW)
    services.mark_no_show(actor=recycler, booking=booking, now=slot.starts_at + dt.timedelta(minutes=30))
    booking.refresh_from_db()
    assert booking.status == Booking.Status.NO_SHOW and booking.closed_at is not None
    with pytest.raises(ValidationError):
        services.cancel_booking(actor=citizen, booking=booking, now=NOW)


def test_a_recycler_declines_only_with_a_reason(citizen, recycler, slot) -> None:
    booking = book(citizen, slot)
    with pytest.raises(ValidationError) as exc:
        services.cancel_booking(actor=recycler, booking=booking, now=NOW)
    assert codes(exc.value) == {"reason_required"}
    services.cancel_booking(actor=recycler, booking=booking, reason="车辆故障，请改约", now=NOW)


def test_completion_refuses_negative_weights_and_keeps_the_booking_open(citizen, recycler, slot) -> None:
    booking = book(citizen, slot)
    services.accept_booking(actor=recycler, booking=booking, now=NOW)
    with pytest.raises(ValidationError) as exc:
        services.complete_booking(
            actor=recycler, booking=booking, lines=[services.LineIn("refrigerator", 1, Decimal("-3"), 100)], now=NOW
        )
    assert codes(exc.value) == {"negative_weight"}
    booking.refresh_from_db()
    assert booking.status == Booking.Status.ACCEPTED
    assert not CollectionRecord.objects.exists()


def test_bookings_left_sitting_are_flagged(citizen, recycler, slot) -> None:
    late = book(citizen, slot)
    accepted = services.accept_booking(actor=recycler, booking=book(citizen, slot), now=NOW)
    visible = Booking.objects.visible_to(recycler)
    assert list(selectors.overdue(visible, now=NOW + dt.timedelta(hours=2))) == []
    after_accept_deadline = NOW + dt.timedelta(hours=25)
    assert list(selectors.overdue(visible, now=after_accept_deadline)) == [late]
    assert late.overdue_reason(after_accept_deadline) == "超时未接单"
    after_slot = slot.ends_at + services.COMPLETE_WITHIN + dt.timedelta(minutes=1)
    assert set(selectors.overdue(visible, now=after_slot)) == {late, accepted}
    assert accepted.overdue_reason(after_slot) == "超时未完成"
    rows = selectors.overdue_by_recycler(visible, now=after_slot)
    assert rows == [{"organisation__name": recycler.organisation.name, "count": 2}]


def test_open_slots_are_created_once_and_never_in_the_past(recycler, site) -> None:
    day = (NOW + dt.timedelta(days=1)).date()
    windows = [(dt.time(9), dt.time(12)), (dt.time(14), dt.time(17))]
    opened = services.open_slots(
        actor=recycler, site=site, first_day=NOW.date(), last_day=day, windows=windows, capacity=5, now=NOW
    )
    assert opened == 3  # today 09:00 has started (NOW is 09:00), today 14:00 and both tomorrow
    again = services.open_slots(
        actor=recycler, site=site, first_day=NOW.date(), last_day=day, windows=windows, capacity=5, now=NOW
    )
    assert again == 0
    with pytest.raises(ValidationError):
        services.open_slots(
            actor=recycler, site=site, first_day=day, last_day=day, windows=[(dt.time(12), dt.time(9))], capacity=5
        )
    assert PickupSlot.objects.filter(site=site).count() == 3


def test_open_for_lists_slots_serving_the_county_and_category(slot, zhangbei: Region, kangbao: Region) -> None:
    assert list(PickupSlot.objects.open_for(region=zhangbei, category="refrigerator", now=NOW)) == [slot]
    assert not PickupSlot.objects.open_for(region=kangbao, category="refrigerator", now=NOW).exists()
    assert not PickupSlot.objects.open_for(region=zhangbei, category="computer", now=NOW).exists()
