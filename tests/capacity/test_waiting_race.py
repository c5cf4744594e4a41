"""Newcomers and offers to the waiting list racing for the same freed seats.

Seats are free (holds lapsed, nothing has offered them yet) and people wait for
them. Real threads, each with its own connection, are released together: some
place orders as newcomers, some run ``offer_freed_seats``. Nothing may be
oversold, and no newcomer may get a seat owed to the line. The control runs the
same race with ``SEATKEEPER_SEAT_LOCK = False`` and must break one of these,
proof that the harness really races.
"""

from decimal import Decimal

import pytest

from capacity.services import get_availability
from capacity.waiting import offer_freed_seats
from registration.models import Order, OrderLineItem, WaitingListEntry
from registration.services import place_order
from tests.factories import make_conference, make_entry, make_order, make_ticket_type
from tests.races import race

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

CONTENDERS = 20
VENUE = 30
CAPPED = 12
PAUSE_AFTER_CHECK = 0.05


@pytest.fixture(params=[True, False], ids=["locked", "control-without-lock"])
def seat_lock(request, settings):
    settings.SEATKEEPER_SEAT_LOCK = request.param
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = PAUSE_AFTER_CHECK
    return request.param


@pytest.fixture
def line():
    """30 seats, 16 taken and 8 of the 14 free waited for; of the capped type's 12,
    6 taken and all 6 free waited for (by its own entries and one for any type)."""
    conference = make_conference(total_capacity=VENUE)
    capped = make_ticket_type(
        conference, slug="capped", position=1, total_quantity=CAPPED, price=Decimal("10")
    )
    open_ended = make_ticket_type(conference, slug="open", position=2, price=Decimal("10"))
    make_order(conference, Order.Status.PAID, tickets=[(capped, 6), (open_ended, 10)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(capped, 6)])
    entries = [
        make_entry(conference, capped, 2),
        make_entry(conference, None, 3),
        make_entry(conference, capped, 1),
        make_entry(conference, open_ended, 2),
    ]
    availability = get_availability(conference)
    assert (availability.free, availability.waiting, availability.remaining) == (14, 8, 6)
    assert availability.ticket_type(capped.pk).remaining == 0
    return conference, capped, open_ended, entries


def newcomer_seats(conference, **lines):
    """Ticket seats taken by orders that are not offers to the waiting list."""
    taken = OrderLineItem.objects.filter(
        order__conference=conference,
        order__email__startswith="newcomer",
        kind=OrderLineItem.Kind.TICKET,
        **lines,
    ).exclude(order__status__in=[Order.Status.CANCELLED, Order.Status.EXPIRED])
    return sum(taken.values_list("quantity", flat=True))


def violations(conference, capped, entries) -> list[str]:
    """What went wrong: overselling, or a newcomer holding seats owed to the line."""
    found = []
    availability = get_availability(conference)
    if availability.taken > VENUE:
        found.append(f"venue oversold: {availability.taken} of {VENUE}")
    capped_taken = availability.ticket_type(capped.pk).taken
    if capped_taken > CAPPED:
        found.append(f"capped type oversold: {capped_taken} of {CAPPED}")
    # 6 venue seats were free beyond the line's, and none of the capped type.
    if newcomer_seats(conference) > 6:
        found.append(f"newcomers took {newcomer_seats(conference)} seats of the 6 not waited for")
    if newcomer_seats(conference, ticket_type=capped):
        found.append("a newcomer took a capped seat owed to the line")
    for entry in entries:
        entry.refresh_from_db()
        if entry.status != WaitingListEntry.Status.OFFERED:
            found.append(f"entry {entry.pk} is {entry.status}")
        offers = Order.objects.filter(conference=conference, email=entry.email)
        if offers.count() != (entry.status == WaitingListEntry.Status.OFFERED):
            found.append(f"entry {entry.pk} has {offers.count()} offers")
    return found


def test_newcomers_never_take_the_seats_offered_to_the_line(seat_lock, line):
    conference, capped, open_ended, entries = line

    def attempt(index):
        if index % 3 == 0:
            return offer_freed_seats(conference)
        if index % 3 == 1:
            tickets = {capped: 1}
        else:
            tickets = {open_ended: 2}
        return place_order(
            conference=conference,
            email=f"newcomer{index}@example.com",
            name=f"Newcomer {index}",
            tickets=tickets,
        )

    outcome = race(CONTENDERS, attempt)

    found = violations(conference, capped, entries)
    if seat_lock:
        assert found == []
        availability = get_availability(conference)
        assert availability.taken == VENUE
        assert availability.ticket_type(capped.pk).taken == CAPPED
        assert newcomer_seats(conference) == 6
        assert all(
            "waiting" in error.messages[0] or "sold out" in error.messages[0]
            for error in outcome.refused
        )
        assert len(outcome.refused) == 7 + 3  # every capped newcomer, 3 of the 6 others
    else:
        assert found, "the control neither oversold nor gave the line's seats away"
        assert newcomer_seats(conference) > 6, found
