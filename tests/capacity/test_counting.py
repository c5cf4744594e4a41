"""The seat-counting rule of capacity.services, case by case, and the availability snapshot."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from capacity.counters import (
    naive_seat_totals,
    naive_venue_seats_taken,
    seat_totals,
    venue_seats_taken,
)
from capacity.models import BlockedSeats
from capacity.services import (
    get_availability,
    get_global_remaining,
    get_global_sold_count,
    validate_global_capacity,
)
from registration.models import Order, OrderLineItem
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def venue():
    """A 100-seat venue with one ticket type."""
    conference = make_conference(total_capacity=100)
    return conference, make_ticket_type(conference)


@pytest.mark.parametrize(
    ("status", "hold_minutes", "takes_seats"),
    [
        (Order.Status.PAID, 15, True),
        (Order.Status.PARTIALLY_REFUNDED, 15, True),
        (Order.Status.PENDING, 15, True),
        (Order.Status.PENDING, -1, False),
        (Order.Status.CANCELLED, 15, False),
        (Order.Status.REFUNDED, 15, False),
        (Order.Status.EXPIRED, -1, False),
        # An EXPIRED order never counts, even if its hold timestamp looks live.
        (Order.Status.EXPIRED, 15, False),
    ],
)
def test_each_status_takes_seats_or_not(venue, status, hold_minutes, takes_seats):
    conference, ticket = venue
    make_order(conference, status, hold_minutes=hold_minutes, tickets=[(ticket, 3)])

    taken = 3 if takes_seats else 0
    assert get_global_sold_count(conference) == taken
    assert get_global_remaining(conference) == 100 - taken
    availability = get_availability(conference)
    assert availability.sold + availability.held == taken
    assert availability.remaining == 100 - taken
    assert availability.ticket_type(ticket.pk).remaining == 100 - taken


def test_sold_and_held_are_reported_apart(venue):
    conference, ticket = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
    make_order(conference, Order.Status.PARTIALLY_REFUNDED, tickets=[(ticket, 1)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-5, tickets=[(ticket, 7)])

    availability = get_availability(conference)
    assert (availability.sold, availability.held, availability.remaining) == (5, 2, 93)
    item = availability.ticket_type(ticket.slug)
    assert (item.sold, item.held) == (5, 2)


def test_a_hold_stops_counting_the_instant_it_expires(venue):
    conference, ticket = venue
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 6)])
    now = timezone.now()
    assert get_availability(conference, now=order.hold_expires_at - timedelta(seconds=1)).held == 6
    assert get_availability(conference, now=order.hold_expires_at).held == 0
    assert get_availability(conference, now=now).held == 6


def test_held_seats_are_exact_around_minute_boundaries(venue):
    """Holds expiring just before, at and just after a minute boundary, read at many moments.

    Held seats are counted per expiry minute, and those of the current minute
    summed from the orders: wherever ``now`` falls, every hold must count until
    the instant it expires and not a microsecond after. Each hold has its own
    power of two of seats, so a total says exactly which holds were counted.
    """
    conference, ticket = venue
    addon = make_addon(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    boundary = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=30)
    offsets = [
        timedelta(seconds=-60),
        timedelta(seconds=-1),
        timedelta(microseconds=-1),
        timedelta(0),
        timedelta(microseconds=1),
        timedelta(seconds=1),
        timedelta(seconds=30),
        # SQLite's strftime would round this up into the next minute.
        timedelta(seconds=59, microseconds=999_600),
        timedelta(seconds=60),
    ]
    holds = []
    for n, offset in enumerate(offsets):
        order = make_order(
            conference, Order.Status.PENDING, tickets=[(ticket, 2**n)], addons=[(addon, 1)]
        )
        Order.objects.filter(pk=order.pk).update(hold_expires_at=boundary + offset)
        holds.append((boundary + offset, 2**n))
    nudges = [timedelta(seconds=-1), timedelta(microseconds=-1), timedelta(0)]
    nudges += [-nudge for nudge in nudges]
    moments = {expires + nudge for expires, _ in holds for nudge in nudges}
    moments |= {boundary - timedelta(hours=1), boundary + timedelta(hours=1)}

    for now in sorted(moments):
        live = [seats for expires, seats in holds if expires > now]
        availability = get_availability(conference, now=now)
        assert (availability.sold, availability.held) == (3, sum(live)), now
        assert availability.ticket_type(ticket.pk).held == sum(live), now
        assert availability.addon(addon.pk).held == len(live), now
        fast = {key: value for key, value in seat_totals(conference, now).items() if any(value)}
        assert fast == naive_seat_totals(conference, now), now
        assert venue_seats_taken(conference, now) == naive_venue_seats_taken(conference, now)


def test_addon_lines_never_take_venue_seats(venue):
    conference, ticket = venue
    addon = make_addon(conference, total_quantity=5)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)], addons=[(addon, 4)])

    assert get_global_sold_count(conference) == 1
    assert get_global_remaining(conference) == 99
    item = get_availability(conference).addon(addon.pk)
    assert (item.sold, item.held, item.remaining) == (4, 0, 1)


def test_addon_lines_follow_the_same_status_rule(venue):
    conference, ticket = venue
    addon = make_addon(conference, total_quantity=10)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)], addons=[(addon, 2)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)], addons=[(addon, 3)])
    make_order(
        conference,
        Order.Status.PENDING,
        hold_minutes=-1,
        tickets=[(ticket, 1)],
        addons=[(addon, 4)],
    )
    make_order(conference, Order.Status.REFUNDED, tickets=[(ticket, 1)], addons=[(addon, 1)])

    item = get_availability(conference).addon(addon.slug)
    assert (item.sold, item.held, item.remaining, item.sold_out) == (2, 3, 5, False)


def test_several_ticket_types_share_the_venue(venue):
    conference, regular = venue
    student = make_ticket_type(conference, total_quantity=20)
    vip = make_ticket_type(conference, total_quantity=5)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 10), (student, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(vip, 2), (student, 1)])

    assert get_global_sold_count(conference) == 16
    assert get_global_remaining(conference) == 84
    availability = get_availability(conference)
    assert availability.ticket_type(regular.pk).remaining == 84  # own is unlimited: the venue's
    assert availability.ticket_type(student.pk).remaining == 16
    assert availability.ticket_type(vip.pk).remaining == 3
    assert availability.ticket_type(vip.pk).own_remaining == 3


def test_a_ticket_type_is_limited_by_the_venue_when_the_venue_is_scarcer():
    conference = make_conference(total_capacity=10)
    big = make_ticket_type(conference, total_quantity=50)
    other = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(other, 8)])

    item = get_availability(conference).ticket_type(big.pk)
    assert (item.own_remaining, item.remaining) == (50, 2)


def test_other_conferences_do_not_count(venue):
    conference, ticket = venue
    elsewhere = make_conference(total_capacity=100)
    make_order(elsewhere, Order.Status.PAID, tickets=[(make_ticket_type(elsewhere), 40)])

    assert get_global_sold_count(conference) == 0
    assert get_availability(conference).remaining == 100


def test_a_deleted_ticket_type_still_takes_seats(venue):
    conference, ticket = venue
    doomed = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(doomed, 7)])
    make_order(conference, Order.Status.PENDING, tickets=[(doomed, 2)])

    doomed.delete()

    line = OrderLineItem.objects.get(quantity=7)
    assert line.ticket_type_id is None
    assert line.kind == OrderLineItem.Kind.TICKET
    assert get_global_sold_count(conference) == 9
    assert get_global_remaining(conference) == 91
    availability = get_availability(conference)
    assert (availability.sold, availability.held, availability.remaining) == (7, 2, 91)
    assert [item.pk for item in availability.ticket_types] == [ticket.pk]
    assert availability.ticket_type(ticket.pk).remaining == 91


def test_a_deleted_addon_never_takes_venue_seats(venue):
    conference, ticket = venue
    addon = make_addon(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)], addons=[(addon, 5)])

    addon.delete()

    assert OrderLineItem.objects.get(quantity=5).kind == OrderLineItem.Kind.ADDON
    assert get_global_sold_count(conference) == 1
    assert get_availability(conference).remaining == 99


def test_an_unlimited_venue_never_runs_out():
    conference = make_conference(total_capacity=0)
    ticket = make_ticket_type(conference)
    limited = make_ticket_type(conference, total_quantity=4)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 500), (limited, 3)])

    assert get_global_sold_count(conference) == 503
    assert get_global_remaining(conference) is None
    availability = get_availability(conference)
    assert availability.capacity is None
    assert availability.remaining is None
    assert availability.sold_out is False
    assert availability.is_purchase_permitted(10**6) == (True, "")
    assert availability.ticket_type(ticket.pk).remaining is None
    assert availability.ticket_type(limited.pk).remaining == 1
    with transaction.atomic():
        validate_global_capacity(conference, 10**6)


def test_a_cap_lowered_below_what_is_sold_leaves_zero_and_says_sold_out(venue):
    conference, ticket = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 12)])
    conference.total_capacity = 10
    conference.save()

    assert get_global_remaining(conference) == 0
    availability = get_availability(conference)
    assert availability.remaining == 0
    assert availability.sold_out
    assert availability.over_capacity == 2
    assert availability.ticket_type(ticket.pk).remaining == 0
    with pytest.raises(ValidationError, match=r"sold out.*10 seats"), transaction.atomic():
        validate_global_capacity(conference, 1)


def test_a_ticket_quantity_lowered_below_what_is_sold_leaves_zero(venue):
    conference, ticket = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 8)])
    ticket.total_quantity = 5
    ticket.save()

    item = get_availability(conference).ticket_type(ticket.pk)
    assert (item.own_remaining, item.remaining, item.sold_out) == (0, 0, True)
    assert item.is_purchase_permitted(1) == (False, f"{ticket.name} is sold out.")


def test_blocked_seats_count_as_taken_until_released(venue):
    conference, ticket = venue
    limited = make_ticket_type(conference, total_quantity=20)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 10)])
    speakers = BlockedSeats.objects.create(conference=conference, label="speakers", quantity=15)
    BlockedSeats.objects.create(
        conference=conference, ticket_type=limited, label="sponsors", quantity=6
    )

    # Blocked seats are not sales, but they leave the venue and the type.
    assert get_global_sold_count(conference) == 10
    assert get_global_remaining(conference) == 100 - 10 - 15 - 6
    availability = get_availability(conference)
    assert availability.blocked == 21
    assert availability.remaining == 69
    assert availability.ticket_type(limited.pk).blocked == 6
    assert availability.ticket_type(limited.pk).own_remaining == 14
    assert availability.ticket_type(ticket.pk).blocked == 0

    speakers.quantity = 0  # released
    speakers.save()
    assert get_global_remaining(conference) == 84
    assert get_availability(conference).blocked == 6


def test_blocked_seats_can_sell_out_the_venue():
    conference = make_conference(total_capacity=10)
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
    BlockedSeats.objects.create(conference=conference, label="press", quantity=6)

    assert get_global_remaining(conference) == 0
    assert get_availability(conference).sold_out
    with pytest.raises(ValidationError, match="sold out"), transaction.atomic():
        validate_global_capacity(conference, 1)


def test_low_stock_follows_the_threshold():
    conference = make_conference(total_capacity=30, low_stock_threshold=10)
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 19)])
    assert get_availability(conference).low_stock is False
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    availability = get_availability(conference)
    assert (availability.remaining, availability.low_stock) == (10, True)
    assert availability.ticket_type(ticket.pk).low_stock
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 10)])
    availability = get_availability(conference)
    assert (availability.sold_out, availability.low_stock) == (True, False)


def test_snapshot_reports_sale_state_of_each_item(venue):
    conference, ticket = venue
    now = timezone.now()
    later = make_ticket_type(conference, available_from=now + timedelta(days=1))
    over = make_ticket_type(conference, available_until=now - timedelta(minutes=1))
    off = make_ticket_type(conference, is_active=False)
    addon_off = make_addon(conference, is_active=False)

    availability = get_availability(conference, now=now)
    assert availability.ticket_type(ticket.pk).sale_state == "on_sale"
    assert availability.ticket_type(later.pk).sale_state == "not_yet"
    assert availability.ticket_type(over.pk).sale_state == "ended"
    assert availability.ticket_type(off.pk).sale_state == "inactive"
    assert availability.addon(addon_off.pk).on_sale is False


def test_snapshot_as_dict_matches_the_api_shape(venue):
    conference, ticket = venue
    addon = make_addon(conference, total_quantity=0)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 2)], addons=[(addon, 1)])

    data = get_availability(conference).as_dict()
    assert {key: data[key] for key in ("capacity", "sold", "held", "remaining", "sold_out")} == {
        "capacity": 100,
        "sold": 2,
        "held": 0,
        "remaining": 98,
        "sold_out": False,
    }
    assert data["ticket_types"][0]["slug"] == ticket.slug
    assert data["ticket_types"][0]["remaining"] == 98
    assert data["addons"][0]["capacity"] is None
    assert data["addons"][0]["remaining"] is None


def _conference_with(ticket_type_count):
    conference = make_conference(total_capacity=1000)
    ticket_types = [
        make_ticket_type(conference, total_quantity=50) for _ in range(ticket_type_count)
    ]
    addons = [make_addon(conference, total_quantity=20) for _ in range(3)]
    for ticket_type in ticket_types:
        make_order(
            conference, Order.Status.PAID, tickets=[(ticket_type, 2)], addons=[(addons[0], 1)]
        )
        make_order(conference, Order.Status.PENDING, tickets=[(ticket_type, 1)])
    BlockedSeats.objects.create(
        conference=conference, ticket_type=ticket_types[0], label="crew", quantity=2
    )
    return conference


def test_snapshot_costs_the_same_few_queries_for_3_or_30_ticket_types(django_assert_num_queries):
    small, large = _conference_with(3), _conference_with(30)

    with CaptureQueriesContext(connection) as small_queries:
        availability = get_availability(small)
    assert len(availability.ticket_types) == 3
    assert len(small_queries) <= 4

    with django_assert_num_queries(len(small_queries)):
        availability = get_availability(large)
        # Reading the snapshot afterwards costs nothing more.
        # Sorted: the factory's names ("Ticket 99", "Ticket 100") list in no fixed order.
        assert sorted(item.remaining for item in availability.ticket_types) == [45] + [47] * 29
        assert availability.sold == 60
        assert availability.held == 30
        assert availability.addon(availability.addons[0].pk).sold == 30
