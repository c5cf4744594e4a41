"""Who gets freed seats: offers oldest first with skipping, lapsed offers passed on,
the capacity services that free seats, and reading the line."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from capacity.services import (
    block_seats,
    get_availability,
    override_capacity,
    release_blocked_seats,
)
from capacity.waiting import (
    lapse_offers,
    offer_freed_seats,
    offer_lapsed_seats,
    people_reached_by_raise,
    place_in_line,
    plan_offers,
    waiting_summary,
)
from registration.models import Order, WaitingListEntry
from registration.services import mark_paid, place_order
from tests.factories import (
    make_conference,
    make_entry,
    make_order,
    make_ticket_type,
    make_user,
)

pytestmark = pytest.mark.django_db

WAITING = WaitingListEntry.Status.WAITING
OFFERED = WaitingListEntry.Status.OFFERED
EXPIRED = WaitingListEntry.Status.EXPIRED


def statuses(*entries):
    for entry in entries:
        entry.refresh_from_db()
    return [entry.status for entry in entries]


def lapsed_hold(conference, ticket_type, quantity):
    """Seats freed by a hold that lapsed, which nothing has offered on yet."""
    return make_order(
        conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket_type, quantity)]
    )


@pytest.fixture
def venue():
    """A venue of 10 seats, 7 sold; one ticket type with no cap of its own."""
    conference = make_conference(total_capacity=10, waiting_list_offer_minutes=30)
    regular = make_ticket_type(conference, slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 7)])
    return conference, regular


# --- oldest first, with skipping -------------------------------------------------------


def test_an_entry_too_big_keeps_its_place_while_smaller_ones_behind_it_are_served(venue):
    conference, regular = venue
    big = make_entry(conference, regular, 4)
    two = make_entry(conference, regular, 2)
    one = make_entry(conference, None, 1)
    last = make_entry(conference, regular, 1)

    offers = offer_freed_seats(conference)

    assert statuses(big, two, one, last) == [WAITING, OFFERED, OFFERED, WAITING]
    assert [offer.pk for offer in offers] == [two.order_id, one.order_id]
    assert place_in_line(big) == 1 and place_in_line(last) == 2
    assert get_availability(conference).free == 0
    assert offer_freed_seats(conference) == []


def test_offers_go_oldest_first_when_not_all_fit(venue):
    conference, regular = venue
    later = make_entry(conference, regular, 2, created_at=timezone.now())
    earlier = make_entry(conference, regular, 2, created_at=timezone.now() - timedelta(hours=1))

    offer_freed_seats(conference)

    assert statuses(earlier, later) == [OFFERED, WAITING]


def test_an_offer_is_a_pending_order_held_for_the_offer_time(venue):
    conference, regular = venue
    entry = make_entry(conference, regular, 3, email="Ada@Example.com")
    now = timezone.now() + timedelta(minutes=5)

    (offer,) = offer_freed_seats(conference, now=now)

    entry.refresh_from_db()
    assert entry.status == OFFERED and entry.order == offer and entry.offered_at == now
    assert offer.status == Order.Status.PENDING
    assert offer.hold_expires_at == now + timedelta(minutes=30)
    assert (offer.email, offer.name, offer.conference) == (entry.email, entry.name, conference)
    line = offer.lines.get()
    assert (line.ticket_type, line.quantity, line.line_total) == (regular, 3, regular.price * 3)


def test_any_entries_take_the_first_ticket_type_on_sale_with_room():
    conference = make_conference(total_capacity=0)
    now = timezone.now()
    full = make_ticket_type(conference, slug="a-full", position=1, total_quantity=2)
    ended = make_ticket_type(
        conference, slug="b-ended", position=2, available_until=now - timedelta(days=1)
    )
    inactive = make_ticket_type(conference, slug="c-inactive", position=3, is_active=False)
    small = make_ticket_type(conference, slug="d-small", position=4, total_quantity=1)
    roomy = make_ticket_type(conference, slug="e-roomy", position=5, total_quantity=5)
    make_order(conference, Order.Status.PAID, tickets=[(full, 2)])
    pair = make_entry(conference, None, 2)
    single = make_entry(conference, None, 1)

    offer_freed_seats(conference)

    pair.refresh_from_db()
    single.refresh_from_db()
    assert pair.order.lines.get().ticket_type == roomy  # too big for d-small
    assert single.order.lines.get().ticket_type == small
    assert not Order.objects.filter(lines__ticket_type__in=[ended, inactive]).exists()


def test_nothing_is_offered_for_a_ticket_type_off_sale(venue):
    conference, regular = venue
    regular.available_from = timezone.now() + timedelta(days=1)
    regular.save()
    entry = make_entry(conference, regular, 1)

    assert offer_freed_seats(conference) == []
    assert statuses(entry) == [WAITING]


def test_the_venue_and_the_ticket_type_must_both_have_room():
    conference = make_conference(total_capacity=10)
    capped = make_ticket_type(conference, total_quantity=3)
    other = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(other, 5)])
    too_many_for_type = make_entry(conference, capped, 4)  # venue has 5, type 3
    fits = make_entry(conference, capped, 3)
    too_many_for_venue = make_entry(conference, other, 3)  # 2 left at the venue
    last = make_entry(conference, other, 2)

    offer_freed_seats(conference)

    assert statuses(too_many_for_type, fits, too_many_for_venue, last) == [
        WAITING,
        OFFERED,
        WAITING,
        OFFERED,
    ]
    availability = get_availability(conference)
    assert availability.taken == 10 and availability.ticket_type(capped.pk).taken == 3


def test_plan_offers_answers_what_a_new_capacity_would_do(venue):
    conference, regular = venue
    entries = [make_entry(conference, regular, n) for n in (2, 3, 1)]
    availability = get_availability(conference)

    assert [entry for entry, _ in plan_offers(availability, entries)] == [entries[0], entries[2]]
    reached = plan_offers(availability, entries, venue_free=6)
    assert [entry for entry, _ in reached] == entries
    assert plan_offers(availability, entries, own_free={regular.pk: 0}) == []
    assert len(plan_offers(availability, entries, venue_free=None)) == 3


# --- the services that free seats offer them at once ----------------------------------


@pytest.fixture
def full_house():
    """A sold-out venue of 10 seats, with one capped ticket type (6, sold out) and
    one uncapped; two people waiting for the capped type, one for any type."""
    conference = make_conference(total_capacity=10)
    capped = make_ticket_type(conference, slug="capped", total_quantity=6, position=1)
    uncapped = make_ticket_type(conference, slug="uncapped", position=2)
    make_order(conference, Order.Status.PAID, tickets=[(capped, 6), (uncapped, 4)])
    entries = [
        make_entry(conference, capped, 2),
        make_entry(conference, capped, 1),
        make_entry(conference, None, 3),
    ]
    return conference, capped, uncapped, entries


def test_raising_the_venue_capacity_offers_the_new_seats(full_house):
    conference, capped, _, entries = full_house
    admin = make_user(is_staff=True)
    assert people_reached_by_raise(conference, 14) == 1

    override_capacity(target=conference, total=14, reason="bigger room", user=admin)

    # The capped type has no room: only "any" fits, in the uncapped type.
    assert statuses(*entries) == [WAITING, WAITING, OFFERED]
    assert entries[2].order.lines.get().ticket_type.slug == "uncapped"
    availability = get_availability(conference)
    assert (availability.free, availability.waiting, availability.remaining) == (1, 3, 0)


def test_raising_a_ticket_types_quantity_offers_the_new_seats(full_house):
    conference, capped, _, entries = full_house
    admin = make_user(is_staff=True)
    override_capacity(target=conference, total=20, reason="bigger room", user=admin)
    assert statuses(*entries) == [WAITING, WAITING, OFFERED]
    assert people_reached_by_raise(capped, 8) == 1
    assert people_reached_by_raise(capped, 9) == 2
    assert people_reached_by_raise(capped, 0) == 2

    override_capacity(target=capped, total=8, reason="more chairs", user=admin)

    assert statuses(*entries) == [OFFERED, WAITING, OFFERED]
    override_capacity(target=capped, total=0, reason="no cap", user=admin)
    assert statuses(*entries) == [OFFERED, OFFERED, OFFERED]
    assert people_reached_by_raise(capped, 100) == 0


def test_releasing_blocked_seats_offers_them(full_house):
    conference, capped, _, entries = full_house
    admin = make_user(is_staff=True)
    override_capacity(target=conference, total=20, reason="bigger room", user=admin)
    assert statuses(*entries) == [WAITING, WAITING, OFFERED]
    block = block_seats(
        conference=conference,
        ticket_type=capped,
        quantity=2,
        label="speakers",
        reason="keynote",
        user=admin,
        force=True,
    )
    override_capacity(target=capped, total=9, reason="more chairs", user=admin)
    # Of the 3 new seats of the type, 2 are blocked: the first in line wants 2.
    assert statuses(*entries) == [WAITING, OFFERED, OFFERED]

    release_blocked_seats(block=block, quantity=1, reason="one speaker cancelled", user=admin)
    assert statuses(*entries) == [WAITING, OFFERED, OFFERED]
    release_blocked_seats(block=block, reason="the other one too", user=admin)

    assert statuses(*entries) == [OFFERED, OFFERED, OFFERED]
    assert get_availability(conference).ticket_type(capped.pk).taken == 9


# --- offers that lapse ------------------------------------------------------------------


def lapse(offer):
    """The offer's time passes."""
    Order.objects.filter(pk=offer.pk).update(hold_expires_at=timezone.now() - timedelta(seconds=1))


def test_a_lapsed_offer_expires_and_its_seats_go_to_the_next_in_line(venue):
    conference, regular = venue
    first = make_entry(conference, regular, 3)
    second = make_entry(conference, regular, 3)
    (offer,) = offer_freed_seats(conference)
    lapse(offer)

    # Even before the worker runs, nobody new can take the lapsed offer's seats.
    with pytest.raises(ValidationError, match="waiting"):
        place_order(
            conference=conference, email="new@example.com", name="New", tickets={regular: 1}
        )
    offers = offer_lapsed_seats()

    assert statuses(first, second) == [EXPIRED, OFFERED]
    offer.refresh_from_db()
    assert offer.status == Order.Status.EXPIRED
    assert [o.pk for o in offers] == [second.order_id]
    # Paying the lapsed offer late finds its seats gone.
    with pytest.raises(ValidationError, match="no longer free"):
        mark_paid(offer)


def test_lapse_offers_marks_expired_offers_and_leaves_live_ones(venue):
    conference, regular = venue
    live = make_entry(conference, regular, 1)
    pending_past = make_entry(conference, regular, 1)
    marked_expired = make_entry(conference, regular, 1)
    offer_freed_seats(conference)
    assert statuses(live, pending_past, marked_expired) == [OFFERED, OFFERED, OFFERED]
    lapse(pending_past.order)
    Order.objects.filter(pk=marked_expired.order_id).update(status=Order.Status.EXPIRED)

    assert lapse_offers(conference) == 2

    assert statuses(live, pending_past, marked_expired) == [OFFERED, EXPIRED, EXPIRED]
    assert live.order.status == Order.Status.PENDING
    assert lapse_offers(conference) == 0


def test_offers_settled_behind_the_services_back_end_their_entries(venue):
    conference, regular = venue
    cancelled, paid, live = (make_entry(conference, regular, 1) for _ in range(3))
    offer_freed_seats(conference)
    assert statuses(cancelled, paid, live) == [OFFERED, OFFERED, OFFERED]
    # What an admin's bulk edit or a raw statement does: no service sees it.
    Order.objects.filter(pk=cancelled.order_id).update(status=Order.Status.CANCELLED)
    Order.objects.filter(pk=paid.order_id).update(status=Order.Status.PAID)

    assert lapse_offers(conference) == 1

    assert statuses(cancelled, paid, live) == [EXPIRED, "accepted", OFFERED]


def test_an_offer_paid_late_while_its_seats_are_still_free_is_accepted(venue):
    conference, regular = venue
    entry = make_entry(conference, regular, 2)
    (offer,) = offer_freed_seats(conference)
    lapse(offer)
    lapse_offers(conference)

    mark_paid(offer)

    assert statuses(entry) == [WaitingListEntry.Status.ACCEPTED]


def test_without_the_worker_a_lapsed_hold_never_goes_to_a_newcomer(venue):
    conference, regular = venue
    hold = make_order(conference, Order.Status.PENDING, tickets=[(regular, 3)])
    entry = make_entry(conference, regular, 2)
    Order.objects.filter(pk=hold.pk).update(hold_expires_at=timezone.now() - timedelta(seconds=1))

    availability = get_availability(conference)
    assert (availability.free, availability.waiting, availability.remaining) == (3, 2, 1)
    with pytest.raises(ValidationError, match="waiting"):
        place_order(
            conference=conference, email="new@example.com", name="New", tickets={regular: 2}
        )
    assert statuses(entry) == [WAITING]
    order = place_order(
        conference=conference, email="new@example.com", name="New", tickets={regular: 1}
    )
    assert order.status == Order.Status.PENDING
    assert get_availability(conference).remaining == 0


def test_offer_lapsed_seats_serves_every_conference_with_a_line(venue):
    conference, regular = venue
    other = make_conference(total_capacity=2)
    other_type = make_ticket_type(other)
    lapsed_hold(other, other_type, 2)
    here = make_entry(conference, regular, 3)
    there = make_entry(other, other_type, 2)

    offers = offer_lapsed_seats()

    assert statuses(here, there) == [OFFERED, OFFERED]
    assert {offer.conference_id for offer in offers} == {conference.pk, other.pk}
    assert offer_lapsed_seats() == []


# --- reading the line ----------------------------------------------------------------------


def test_place_in_line_counts_who_is_ahead_for_the_same_seats():
    conference = make_conference(total_capacity=1)
    regular = make_ticket_type(conference)
    vip = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    a = make_entry(conference, regular)
    b = make_entry(conference, vip)
    c = make_entry(conference, None)
    d = make_entry(conference, regular)
    gone = make_entry(conference, regular, status=WaitingListEntry.Status.LEFT)

    assert [place_in_line(e) for e in (a, b, c, d)] == [1, 1, 3, 3]
    assert place_in_line(gone) is None
    a.status = WaitingListEntry.Status.LEFT
    a.save()
    assert place_in_line(d) == 2
    assert place_in_line(a) is None


def test_waiting_summary_counts_people_seats_and_offers_in_one_query(django_assert_num_queries):
    conference = make_conference(total_capacity=3)
    regular = make_ticket_type(conference)
    vip = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    make_entry(conference, regular, 2)  # gets an offer below
    make_entry(conference, regular, 3)
    make_entry(conference, regular, 1)
    make_entry(conference, None, 4)
    make_entry(conference, vip, 5, status=WaitingListEntry.Status.LEFT)
    make_entry(conference, vip, 5, status=WaitingListEntry.Status.ACCEPTED)
    offer_freed_seats(conference)
    make_entry(make_conference(), None, 9)  # another conference's line

    with django_assert_num_queries(1):
        summary = waiting_summary(conference)

    assert (summary.venue.people, summary.venue.seats, summary.venue.offers) == (3, 8, 1)
    mine = summary.for_ticket_type(regular.pk)
    assert (mine.people, mine.seats, mine.offers) == (2, 4, 1)
    anyone = summary.for_ticket_type(None)
    assert (anyone.people, anyone.seats, anyone.offers) == (1, 4, 0)
    nobody = summary.for_ticket_type(vip.pk)
    assert (nobody.people, nobody.seats, nobody.offers) == (0, 0, 0)


def test_people_reached_by_raise_matches_the_offers_the_raise_makes(venue):
    conference, regular = venue
    entries = [make_entry(conference, regular, n) for n in (4, 2, 3, 1)]
    Order.objects.filter(conference=conference).update(status=Order.Status.CANCELLED)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 10)])
    admin = make_user(is_staff=True)

    expected = {total: people_reached_by_raise(conference, total) for total in (10, 13, 16, 0)}

    assert expected == {10: 0, 13: 2, 16: 2, 0: 4}
    override_capacity(target=conference, total=13, reason="more", user=admin)
    assert statuses(*entries) == [WAITING, OFFERED, WAITING, OFFERED]
    assert people_reached_by_raise(conference, 16) == 1  # 3 more seats: only the 3 fits
    assert people_reached_by_raise(conference, 20) == 2
    assert people_reached_by_raise(regular, 5) == 0  # the venue is the limit
