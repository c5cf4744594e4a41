"""Real threads racing for the last seats must never oversell.

Every race runs twice: with the conference lock (exactly the cap is taken) and
as a control with ``SEATKEEPER_SEAT_LOCK = False``, which must oversell — proof
that the harness really races. Both runs widen the window between the seat
check and the write with ``SEATKEEPER_PAUSE_AFTER_CHECK``.
"""

from decimal import Decimal

import pytest

from capacity.services import get_availability, get_global_sold_count
from registration.models import Order
from registration.services import mark_paid, place_order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type
from tests.races import race

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

BUYERS = 30
SEATS = 10
PAUSE_AFTER_CHECK = 0.05


@pytest.fixture(params=[True, False], ids=["locked", "control-without-lock"])
def seat_lock(request, settings):
    """Run the test with the conference lock, then again without it (the control)."""
    settings.SEATKEEPER_SEAT_LOCK = request.param
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = PAUSE_AFTER_CHECK
    return request.param


def buy(conference, tickets, addons=None):
    """An attempt for ``race``: buyer ``i`` places one order."""

    def attempt(index):
        return place_order(
            conference=conference,
            email=f"buyer{index}@example.com",
            name=f"Buyer {index}",
            tickets=tickets,
            addons=addons,
        )

    return attempt


def assert_cap_held_or_oversold(seat_lock, outcome, taken, cap):
    if seat_lock:
        assert taken == cap
        assert len(outcome.won) == cap
        assert len(outcome.refused) == BUYERS - cap
    else:
        assert taken > cap, "the control did not oversell: the harness does not race"
        assert len(outcome.won) == taken


def test_buyers_racing_for_the_venue_cap(seat_lock):
    conference = make_conference(total_capacity=SEATS)
    ticket = make_ticket_type(conference, price=Decimal("10"))

    outcome = race(BUYERS, buy(conference, {ticket: 1}))

    taken = get_global_sold_count(conference)
    assert_cap_held_or_oversold(seat_lock, outcome, taken, SEATS)
    if seat_lock:
        assert all("sold out" in error.messages[0] for error in outcome.refused)


def test_buyers_racing_for_a_ticket_type_quantity(seat_lock):
    conference = make_conference(total_capacity=0)
    ticket = make_ticket_type(conference, price=Decimal("10"), total_quantity=SEATS)

    outcome = race(BUYERS, buy(conference, {ticket.pk: 1}))

    item = get_availability(conference).ticket_type(ticket.pk)
    assert_cap_held_or_oversold(seat_lock, outcome, item.sold + item.held, SEATS)


def test_buyers_racing_for_an_addon_quantity(seat_lock):
    conference = make_conference(total_capacity=0)
    ticket = make_ticket_type(conference, price=Decimal("10"))
    workshop = make_addon(conference, total_quantity=SEATS)

    outcome = race(BUYERS, buy(conference, {ticket: 1}, {workshop: 1}))

    item = get_availability(conference).addon(workshop.pk)
    assert_cap_held_or_oversold(seat_lock, outcome, item.sold + item.held, SEATS)
    # Refused buyers wrote no ticket lines either.
    assert get_global_sold_count(conference) == len(outcome.won)


def test_two_late_payments_racing_for_the_last_seat(seat_lock):
    conference = make_conference(total_capacity=5)
    ticket = make_ticket_type(conference, price=Decimal("10"))
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
    late = [
        make_order(conference, Order.Status.EXPIRED, hold_minutes=-1, tickets=[(ticket, 1)]),
        make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket, 1)]),
    ]

    outcome = race(2, lambda index: mark_paid(late[index]))

    paid = Order.objects.filter(pk__in=[order.pk for order in late], status=Order.Status.PAID)
    if seat_lock:
        assert len(outcome.won) == 1
        assert len(outcome.refused) == 1
        assert "no longer free" in outcome.refused[0].messages[0]
        assert paid.count() == 1
        assert get_global_sold_count(conference) == 5
    else:
        assert len(outcome.won) == 2, "the control did not oversell: the harness does not race"
        assert paid.count() == 2
        assert get_global_sold_count(conference) == 6
