"""The waiting list from the attendee's side: joining, leaving, the fairness rule
of ``place_order``, offers made at once when seats free up, and paying them."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from capacity.services import get_availability
from registration.models import Order, TicketType, WaitingListEntry
from registration.services import (
    cancel_order,
    join_waiting_list,
    leave_waiting_list,
    mark_paid,
    place_order,
    refund_order,
)
from tests.factories import make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def sold_out():
    """A venue of 5 seats, all sold, with one ticket type (at most 4 per order)."""
    conference = make_conference(total_capacity=5, waiting_list_offer_minutes=60)
    regular = make_ticket_type(conference, slug="regular", max_per_order=4)
    paid = make_order(conference, Order.Status.PAID, tickets=[(regular, 5)])
    return conference, regular, paid


def join(conference, ticket_type=None, quantity=1, email="ada@example.com", name="Ada"):
    return join_waiting_list(
        conference=conference, email=email, name=name, quantity=quantity, ticket_type=ticket_type
    )


def buy(conference, ticket_type, quantity, email="newcomer@example.com"):
    return place_order(
        conference=conference, email=email, name="Newcomer", tickets={ticket_type: quantity}
    )


def nothing_written(conference, entries=0, orders=1):
    assert WaitingListEntry.objects.filter(conference=conference).count() == entries
    assert Order.objects.filter(conference=conference).count() == orders


# --- joining ------------------------------------------------------------------------


def test_joining_a_sold_out_ticket_type_puts_the_person_in_line(sold_out):
    conference, regular, _ = sold_out

    entry = join(conference, regular, 3, email=" Ada@Example.com ")

    assert entry.status == WaitingListEntry.Status.WAITING
    assert (entry.email, entry.name, entry.quantity) == ("Ada@Example.com", "Ada", 3)
    assert entry.ticket_type == regular and entry.order is None
    assert entry.secret and entry.get_absolute_url().endswith(f"/{entry.pk}/{entry.secret}/")
    assert get_availability(conference).waiting == 3


def test_joining_for_any_ticket_type_by_pk_or_by_none(sold_out):
    conference, regular, _ = sold_out

    any_type = join(conference, None, 10)
    by_pk = join(conference, str(regular.pk), 1, email="bob@example.com")

    assert any_type.ticket_type is None and any_type.quantity == 10
    assert by_pk.ticket_type == regular


@pytest.mark.parametrize(
    ("quantity", "for_any", "message"),
    [
        (0, False, "Wait for 1 to 4 tickets"),
        (-1, False, "Wait for 1 to 4 tickets"),
        (5, False, "Wait for 1 to 4 tickets"),  # above the type's max_per_order
        (0, True, "Wait for 1 to 10 tickets"),
        (-1, True, "Wait for 1 to 10 tickets"),
        (11, True, "Wait for 1 to 10 tickets"),
        (10**30, True, "Wait for 1 to 10 tickets"),
        ("abc", False, "must be a whole number"),
        ("1.5", True, "must be a whole number"),
        ("", False, "must be a whole number"),
        (None, True, "must be a whole number"),
    ],
)
def test_bad_quantities_are_refused_and_nothing_is_written(sold_out, quantity, for_any, message):
    conference, regular, _ = sold_out

    with pytest.raises(ValidationError, match=message):
        join(conference, None if for_any else regular, quantity)

    nothing_written(conference)


def test_a_ticket_type_of_another_conference_is_refused(sold_out):
    conference, _, _ = sold_out
    elsewhere = make_ticket_type(make_conference(total_capacity=1))

    for foreign in (elsewhere, elsewhere.pk, "abc", 10**30, 2**63 - 1):
        with pytest.raises(ValidationError, match="not sold for"):
            join(conference, foreign)

    nothing_written(conference)
    assert not WaitingListEntry.objects.exists()


def test_an_inactive_ticket_type_has_no_waiting_list(sold_out):
    conference, _, _ = sold_out
    retired = make_ticket_type(conference, is_active=False, total_quantity=1)

    with pytest.raises(ValidationError, match="not on sale"):
        join(conference, retired)

    nothing_written(conference)


@pytest.mark.parametrize(
    "window",
    [
        {"available_from": timezone.now() + timedelta(days=1)},
        {"available_until": timezone.now() - timedelta(days=1)},
    ],
    ids=["not-on-sale-yet", "sale-ended"],
)
def test_a_ticket_type_off_sale_has_no_waiting_list(window):
    """A place in line before the sale opens would jump the launch rush: the
    seats waited for are kept from everyone and offered first."""
    conference = make_conference(total_capacity=10)
    later = make_ticket_type(conference, total_quantity=5, **window)

    with pytest.raises(ValidationError, match="not on sale"):
        join(conference, later)
    with pytest.raises(ValidationError, match="on sale now"):
        join(conference, None)  # and no ticket type is on sale

    nothing_written(conference, orders=0)
    assert get_availability(conference).waiting == 0


def test_a_disabled_waiting_list_takes_nobody(sold_out):
    conference, regular, _ = sold_out
    conference.waiting_list_enabled = False
    conference.save()

    for ticket_type in (regular, None):
        with pytest.raises(ValidationError, match="has no waiting list"):
            join(conference, ticket_type)

    nothing_written(conference)


def test_what_can_be_ordered_right_now_is_refused_as_available():
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference, total_quantity=3)
    vip = make_ticket_type(conference, total_quantity=0)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])

    with pytest.raises(ValidationError, match="available right now"):
        join(conference, regular, 2)
    with pytest.raises(ValidationError, match="available"):
        join(conference, vip, 4)
    # Any ticket type: one with room is enough.
    with pytest.raises(ValidationError, match="available"):
        join(conference, None, 5)

    nothing_written(conference, orders=1)
    # More than is left of the type may wait.
    assert join(conference, regular, 3).status == WaitingListEntry.Status.WAITING


def test_any_ticket_type_may_wait_when_every_type_is_sold_out():
    conference = make_conference(total_capacity=0)
    small = make_ticket_type(conference, total_quantity=2)
    ended = make_ticket_type(
        conference, available_until=timezone.now() - timedelta(days=1), total_quantity=0
    )
    make_order(conference, Order.Status.PAID, tickets=[(small, 2)])

    entry = join(conference, None, 1)

    # A type whose sale ended has room but sells nothing, and offers nothing.
    assert get_availability(conference).ticket_type(ended.pk).sale_state == "ended"
    assert entry.status == WaitingListEntry.Status.WAITING and entry.order is None


def test_a_second_live_entry_of_the_same_email_in_another_case_is_refused(sold_out):
    conference, regular, _ = sold_out
    join(conference, regular, email="ada@example.com")
    join(conference, None, email="ada@example.com")

    with pytest.raises(ValidationError, match="already on the waiting list"):
        join(conference, regular, email="ADA@Example.COM")
    with pytest.raises(ValidationError, match="already"):
        join(conference, None, 2, email="Ada@example.com")

    nothing_written(conference, entries=2)


def test_once_an_entry_has_ended_the_same_email_may_join_again(sold_out):
    conference, regular, _ = sold_out
    first = join(conference, regular)
    leave_waiting_list(first)

    again = join(conference, regular, email="ADA@example.com")

    assert again.pk != first.pk and again.status == WaitingListEntry.Status.WAITING


@pytest.mark.parametrize(
    ("email", "name", "message"),
    [
        ("not-an-email", "Ada", "valid email"),
        ("", "Ada", "valid email"),
        (None, "Ada", "valid email"),
        ("ada@example.com", "", "Enter your name"),
        ("ada@example.com", "   ", "Enter your name"),
        ("ada@example.com", "x" * 201, "too long"),
    ],
)
def test_an_invalid_name_or_email_is_refused(sold_out, email, name, message):
    conference, regular, _ = sold_out

    with pytest.raises(ValidationError, match=message):
        join(conference, regular, email=email, name=name)

    nothing_written(conference)


# --- the fairness rule --------------------------------------------------------------


def test_seats_waited_for_are_kept_from_newcomers_at_the_venue():
    """A hold lapsed and nothing has offered its seats yet: they stay the line's."""
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 5)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 5)])
    make_entry(conference, regular, 2)
    make_entry(conference, None, 1)

    availability = get_availability(conference)
    assert (availability.free, availability.waiting, availability.remaining) == (5, 3, 2)

    with pytest.raises(ValidationError, match="waiting") as refused:
        buy(conference, regular, 3)
    assert "waiting list" in str(refused.value)
    assert Order.objects.filter(email="newcomer@example.com").count() == 0
    assert buy(conference, regular, 2).status == Order.Status.PENDING
    with pytest.raises(ValidationError, match="waiting"):
        buy(conference, regular, 1)


def test_seats_waited_for_are_kept_from_newcomers_of_the_ticket_type():
    conference = make_conference(total_capacity=0)
    regular = make_ticket_type(conference, total_quantity=6)
    other = make_ticket_type(conference, total_quantity=6)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    make_entry(conference, regular, 2)
    make_entry(conference, None, 1)

    availability = get_availability(conference)
    item = availability.ticket_type(regular.pk)
    assert (item.free, item.waiting, item.remaining) == (4, 3, 1)
    # "Any" waits for seats of every type; the venue is unlimited.
    assert availability.ticket_type(other.pk).remaining == 5
    assert availability.remaining is None and availability.waiting == 3

    with pytest.raises(ValidationError, match="waiting"):
        buy(conference, regular, 2)
    with pytest.raises(ValidationError, match="waiting"):
        buy(conference, other, 6)
    assert buy(conference, regular, 1).status == Order.Status.PENDING
    assert buy(conference, other, 5, email="other@example.com").status == Order.Status.PENDING


def test_entries_of_one_type_keep_venue_seats_from_another_type():
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference, total_quantity=4)
    vip = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 4), (vip, 3)])
    make_entry(conference, regular, 2)  # waits for a cancellation of Regular

    with pytest.raises(ValidationError, match="waiting"):
        buy(conference, vip, 2)
    assert buy(conference, vip, 1).status == Order.Status.PENDING


@pytest.mark.parametrize(
    "off_sale",
    [
        {"available_until": timezone.now() - timedelta(minutes=1)},
        {"is_active": False},
    ],
    ids=["sale-ended", "withdrawn"],
)
def test_entries_of_a_type_off_sale_keep_no_seats_from_anyone(off_sale):
    """An early bird sells out, people wait for it, then its sale ends: no offer
    can serve them now, so the venue's seats they waited for go on sale."""
    conference = make_conference(total_capacity=10)
    early = make_ticket_type(conference, slug="early", total_quantity=5)
    regular = make_ticket_type(conference, slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(early, 5), (regular, 3)])
    entry = make_entry(conference, early, 2)
    assert get_availability(conference).waiting == 2

    TicketType.objects.filter(pk=early.pk).update(**off_sale)

    availability = get_availability(conference)
    assert (availability.free, availability.waiting, availability.remaining) == (2, 0, 2)
    assert availability.ticket_type(regular.pk).remaining == 2
    assert buy(conference, regular, 2).status == Order.Status.PENDING
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.WAITING  # keeps its place in line

    # Back on sale, the line is served first again.
    TicketType.objects.filter(pk=early.pk).update(available_until=None, is_active=True)
    assert get_availability(conference).waiting == 2


def test_entries_for_any_type_keep_seats_only_while_a_type_is_on_sale():
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 7)])
    make_entry(conference, None, 2)
    assert get_availability(conference).waiting == 2

    regular.available_until = timezone.now() - timedelta(minutes=1)
    regular.save()

    assert get_availability(conference).waiting == 0


def test_a_sold_out_venue_still_says_sold_out(sold_out):
    conference, regular, _ = sold_out
    make_entry(conference, regular, 1)

    with pytest.raises(ValidationError, match="sold out"):
        buy(conference, regular, 1)


def test_the_availability_api_shows_the_seats_waited_for(client):
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference, slug="regular", total_quantity=5)
    vip = make_ticket_type(conference, slug="vip")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3), (vip, 3)])
    make_entry(conference, regular, 2)
    make_entry(conference, None, 1)
    make_entry(conference, vip, 1, status=WaitingListEntry.Status.LEFT)

    answer = client.get(f"/api/conferences/{conference.slug}/availability").json()

    assert (answer["waiting"], answer["remaining"], answer["sold_out"]) == (3, 1, False)
    types = {item["slug"]: item for item in answer["ticket_types"]}
    assert (types["regular"]["waiting"], types["regular"]["remaining"]) == (3, 0)
    assert types["regular"]["sold_out"] is True
    assert (types["vip"]["waiting"], types["vip"]["remaining"]) == (1, 1)


# --- offers made at once ------------------------------------------------------------


def assert_offered(entry, *, before, after, minutes=60):
    """``entry`` was offered its seats between ``before`` and ``after``."""
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.OFFERED
    offer = entry.order
    assert offer.status == Order.Status.PENDING
    assert offer.email == entry.email and offer.name == entry.name
    line = offer.lines.get()
    assert line.quantity == entry.quantity
    if entry.ticket_type_id:
        assert line.ticket_type_id == entry.ticket_type_id
    assert offer.total == line.unit_price * entry.quantity
    held_for = timedelta(minutes=minutes)
    assert before + held_for <= offer.hold_expires_at <= after + held_for
    assert before <= entry.offered_at <= after
    return offer


def test_cancelling_an_order_offers_its_seats_to_the_first_in_line(sold_out):
    conference, regular, paid = sold_out
    first = join(conference, regular, 3)
    second = join(conference, regular, 3, email="bob@example.com")

    before = timezone.now()
    cancel_order(paid)
    after = timezone.now()

    offer = assert_offered(first, before=before, after=after)
    second.refresh_from_db()
    assert second.status == WaitingListEntry.Status.WAITING  # 2 seats left, 3 wanted
    availability = get_availability(conference)
    assert (availability.held, availability.waiting, availability.remaining) == (3, 3, 0)
    assert offer.conference == conference


def test_a_full_refund_offers_the_seats_and_a_partial_one_does_not(sold_out):
    conference, regular, paid = sold_out
    entry = join(conference, regular, 2)

    refund_order(paid, partial=True)
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.WAITING

    before = timezone.now()
    refund_order(paid)
    assert_offered(entry, before=before, after=timezone.now())


def test_paying_an_offer_accepts_it(sold_out):
    conference, regular, paid = sold_out
    entry = join(conference, regular, 2)
    cancel_order(paid)
    entry.refresh_from_db()

    mark_paid(entry.order)

    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.ACCEPTED
    assert entry.order.status == Order.Status.PAID
    assert get_availability(conference).sold == 2


def test_cancelling_an_offer_ends_the_entry_and_offers_the_seats_on(sold_out):
    conference, regular, paid = sold_out
    first = join(conference, regular, 4)
    second = join(conference, regular, 4, email="bob@example.com")
    cancel_order(paid)
    first.refresh_from_db()

    cancel_order(first.order)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == WaitingListEntry.Status.LEFT
    assert second.status == WaitingListEntry.Status.OFFERED


def test_leaving_while_waiting_gives_the_seats_back_to_newcomers():
    conference = make_conference(total_capacity=3)
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 3)])
    entry = make_entry(conference, regular, 3)
    assert get_availability(conference).remaining == 0

    left = leave_waiting_list(entry)

    # leave_waiting_list also offers what is free: there is nobody left to offer to.
    assert left.status == WaitingListEntry.Status.LEFT
    assert get_availability(conference).remaining == 3
    assert buy(conference, regular, 3).status == Order.Status.PENDING


def test_leaving_with_an_open_offer_cancels_it_and_offers_the_seats_on(sold_out):
    conference, regular, paid = sold_out
    first = join(conference, regular, 4)
    second = join(conference, regular, 2, email="bob@example.com")
    third = join(conference, regular, 1, email="cy@example.com")
    cancel_order(paid)
    first.refresh_from_db()
    third.refresh_from_db()
    assert first.status == third.status == WaitingListEntry.Status.OFFERED
    offer = first.order

    before = timezone.now()
    leave_waiting_list(first)

    first.refresh_from_db()
    offer.refresh_from_db()
    assert first.status == WaitingListEntry.Status.LEFT
    assert offer.status == Order.Status.CANCELLED
    assert_offered(second, before=before, after=timezone.now())
    availability = get_availability(conference)
    assert (availability.held, availability.waiting, availability.remaining) == (3, 0, 2)


def test_an_entry_can_leave_only_once(sold_out):
    conference, regular, _ = sold_out
    entry = join(conference, regular)
    leave_waiting_list(entry)

    with pytest.raises(ValidationError, match="already ended"):
        leave_waiting_list(entry)
    accepted = make_entry(conference, regular, status=WaitingListEntry.Status.ACCEPTED)
    with pytest.raises(ValidationError, match="already ended"):
        leave_waiting_list(accepted)


# --- the buyer limit ----------------------------------------------------------------


def test_an_open_offer_counts_towards_the_buyers_hold_limit(sold_out):
    conference, regular, paid = sold_out
    entry = join(conference, regular, 4, email="Ada@Example.com")
    cancel_order(paid)
    entry.refresh_from_db()
    assert entry.order.hold_is_live()
    # Room for everyone, so only the buyer limit can refuse.
    type(conference).objects.filter(pk=conference.pk).update(
        total_capacity=50, max_held_seats_per_buyer=5
    )

    with pytest.raises(ValidationError, match="already holding 4 seats"):
        buy(conference, regular, 2, email="ada@EXAMPLE.com")
    assert buy(conference, regular, 1, email="ada@example.com").status == Order.Status.PENDING
    assert Order.objects.filter(email__iexact="ada@example.com").count() == 2


def test_no_offer_takes_a_buyer_past_the_hold_limit():
    """Ada holds 4 of the 5 seats a buyer may: her entry for 2 keeps its place
    while those behind it are served (her own entry for 1 too); once she
    releases her hold, her turn comes."""
    conference = make_conference(total_capacity=20, max_held_seats_per_buyer=5)
    regular = make_ticket_type(conference, slug="regular", total_quantity=10)
    vip = make_ticket_type(conference, slug="vip")
    paid = make_order(conference, Order.Status.PAID, tickets=[(regular, 10)])
    held = buy(conference, vip, 4, email="ada@example.com")
    ada_two = make_entry(conference, regular, 2, email="ADA@example.com")
    bob = make_entry(conference, regular, 2, email="bob@example.com")
    ada_one = make_entry(conference, None, 1, email="Ada@Example.com")

    cancel_order(paid)

    def statuses():
        return [WaitingListEntry.objects.get(pk=e.pk).status for e in (ada_two, bob, ada_one)]

    offered, waiting = WaitingListEntry.Status.OFFERED, WaitingListEntry.Status.WAITING
    assert statuses() == [waiting, offered, offered]
    with pytest.raises(ValidationError, match="already holding 5 seats"):
        buy(conference, vip, 1, email="ada@example.com")

    cancel_order(held)

    assert statuses() == [offered, offered, offered]


def test_joining_behind_an_entry_too_big_for_the_free_seats_is_offered_at_once():
    conference = make_conference(total_capacity=10)
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 7)])
    big = make_entry(conference, regular, 4)  # 3 free: it keeps its place
    with pytest.raises(ValidationError, match="waiting"):
        buy(conference, regular, 2)

    entry = join(conference, regular, 2)

    assert entry.status == WaitingListEntry.Status.OFFERED
    assert entry.order.lines.get().quantity == 2
    big.refresh_from_db()
    assert big.status == WaitingListEntry.Status.WAITING


def test_an_offer_emails_the_order_page_and_the_deadline(
    sold_out, mailoutbox, django_capture_on_commit_callbacks
):
    conference, regular, paid = sold_out
    entry = join(conference, regular, 2)

    with django_capture_on_commit_callbacks(execute=True):
        cancel_order(paid)

    entry.refresh_from_db()
    (message,) = mailoutbox
    assert message.to == [entry.email]
    assert entry.order.get_absolute_url() in message.body
    assert "held for you until" in message.subject
