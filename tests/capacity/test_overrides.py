"""Capacity overrides: changing caps, blocking seats, comp tickets — always on the record."""

import pytest
from django.core.exceptions import ValidationError

from capacity.models import BlockedSeats, CapacityChange
from capacity.services import (
    block_seats,
    get_availability,
    override_capacity,
    release_blocked_seats,
)
from conference.models import Conference
from registration.models import Order, TicketType
from registration.services import issue_comp_order, place_order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    return make_user("capacity-admin", is_staff=True)


def fill(conference, ticket_type, seats):
    return make_order(conference, Order.Status.PAID, tickets=[(ticket_type, seats)])


def test_raise_venue_capacity_writes_the_field_and_an_exact_audit_row(conference, admin_user):
    override_capacity(
        target=conference, total=150, reason="Fire marshal allows 150", user=admin_user
    )

    conference.refresh_from_db()
    assert conference.total_capacity == 150
    change = CapacityChange.objects.get()
    assert change.conference == conference
    assert change.target_kind == CapacityChange.Target.VENUE
    assert change.target_id == conference.pk
    assert change.target_name == conference.name
    assert change.field == "total_capacity"
    assert (change.old_value, change.new_value) == (100, 150)
    assert change.reason == "Fire marshal allows 150"
    assert change.user == admin_user
    assert change.forced is False
    assert change.created_at is not None
    assert change.summary == "Venue capacity 100 → 150"


def test_lower_above_what_is_taken_is_allowed(conference, admin_user):
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 40)

    override_capacity(target=conference, total=40, reason="Room change", user=admin_user)

    assert Conference.objects.get(pk=conference.pk).total_capacity == 40
    assert get_availability(conference).sold_out


def test_lower_below_taken_is_refused_and_writes_nothing(conference, admin_user):
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 30)
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    block_seats(conference=conference, quantity=3, label="speakers", reason="Keynotes", user=None)
    CapacityChange.objects.all().delete()

    with pytest.raises(
        ValidationError, match="35 seats are already taken; lower to 35 or more, or force"
    ):
        override_capacity(target=conference, total=34, reason="Smaller room", user=admin_user)

    assert Conference.objects.get(pk=conference.pk).total_capacity == 100
    assert not CapacityChange.objects.exists()


def test_forced_lower_goes_below_taken_without_cancelling_orders(conference, admin_user):
    ticket = make_ticket_type(conference)
    order = fill(conference, ticket, 30)

    override_capacity(
        target=conference, total=20, reason="Half the hall flooded", user=admin_user, force=True
    )

    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    availability = get_availability(Conference.objects.get(pk=conference.pk))
    assert availability.capacity == 20
    assert availability.over_capacity == 10
    assert availability.sold_out
    assert CapacityChange.objects.get().forced is True


@pytest.mark.parametrize("total", [-1, "-5", "ten", "12.5", None, True, 10_000_001])
def test_bad_totals_are_refused(conference, admin_user, total):
    with pytest.raises(ValidationError, match="whole number|negative|cannot be more than"):
        override_capacity(target=conference, total=total, reason="Typo", user=admin_user)
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100
    assert not CapacityChange.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reason_is_required(conference, admin_user, reason):
    with pytest.raises(ValidationError, match="Give a reason"):
        override_capacity(target=conference, total=120, reason=reason, user=admin_user)
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100


def test_unlimited_to_a_cap_and_back(admin_user):
    conference = make_conference(total_capacity=0)
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 25)

    with pytest.raises(ValidationError, match="25 seats are already taken"):
        override_capacity(target=conference, total=10, reason="Cap it", user=admin_user)
    override_capacity(target=conference, total=30, reason="Cap it", user=admin_user)
    assert get_availability(Conference.objects.get(pk=conference.pk)).remaining == 5

    override_capacity(target=conference, total=0, reason="Outdoor venue", user=admin_user)
    assert get_availability(Conference.objects.get(pk=conference.pk)).remaining is None
    assert list(CapacityChange.objects.values_list("old_value", "new_value")) == [
        (30, 0),
        (0, 30),
    ]
    assert CapacityChange.objects.first().summary == "Venue capacity 30 → unlimited"


def test_unlimited_is_allowed_even_when_over_capacity(conference, admin_user):
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 30)
    override_capacity(target=conference, total=10, reason="Forced", user=admin_user, force=True)

    override_capacity(target=conference, total=0, reason="Lift the cap", user=admin_user)

    assert Conference.objects.get(pk=conference.pk).total_capacity == 0


def test_setting_the_same_value_is_a_no_op_without_a_record(conference, admin_user):
    override_capacity(target=conference, total=100, reason="Nothing", user=admin_user)
    assert not CapacityChange.objects.exists()


def test_ticket_type_quantity_lowering_counts_its_own_seats(conference, admin_user):
    regular = make_ticket_type(conference, name="Regular", total_quantity=50)
    other = make_ticket_type(conference, total_quantity=50)
    fill(conference, regular, 12)
    fill(conference, other, 30)

    with pytest.raises(
        ValidationError, match="12 Regular tickets are already taken; lower to 12 or more"
    ):
        override_capacity(target=regular, total=11, reason="Fewer", user=admin_user)
    override_capacity(target=regular, total=12, reason="Fewer", user=admin_user)

    assert TicketType.objects.get(pk=regular.pk).total_quantity == 12
    change = CapacityChange.objects.get()
    assert (change.target_kind, change.target_id, change.field) == (
        CapacityChange.Target.TICKET_TYPE,
        regular.pk,
        "total_quantity",
    )
    assert change.summary == "Ticket type Regular: quantity 50 → 12"


def test_addon_quantity_override(conference, admin_user):
    ticket = make_ticket_type(conference)
    workshop = make_addon(conference, name="Workshop", total_quantity=10)
    make_order(conference, tickets=[(ticket, 4)], addons=[(workshop, 4)])

    with pytest.raises(ValidationError, match="4 of Workshop are already taken"):
        override_capacity(target=workshop, total=3, reason="Smaller room", user=admin_user)
    override_capacity(target=workshop, total=25, reason="Bigger room", user=admin_user)

    assert get_availability(conference).addon(workshop.pk).remaining == 21
    assert CapacityChange.objects.get().target_kind == CapacityChange.Target.ADDON


def test_a_stale_object_changes_only_its_capacity(conference, admin_user):
    stale = Conference.objects.get(pk=conference.pk)
    Conference.objects.filter(pk=conference.pk).update(name="Renamed", hold_minutes=30)

    override_capacity(target=stale, total=200, reason="More room", user=admin_user)

    fresh = Conference.objects.get(pk=conference.pk)
    assert (fresh.name, fresh.hold_minutes, fresh.total_capacity) == ("Renamed", 30, 200)
    assert stale.total_capacity == 200


def test_the_old_value_comes_from_the_database_not_the_stale_object(conference, admin_user):
    stale = Conference.objects.get(pk=conference.pk)
    Conference.objects.filter(pk=conference.pk).update(total_capacity=120)

    override_capacity(target=stale, total=150, reason="More room", user=admin_user)

    assert CapacityChange.objects.get().old_value == 120


def test_raising_after_a_sell_out_reopens_sales_at_once(admin_user):
    conference = make_conference(total_capacity=5)
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 5)
    with pytest.raises(ValidationError, match="sold out"):
        place_order(conference=conference, email="a@example.com", name="A", tickets={ticket: 1})

    override_capacity(target=conference, total=6, reason="One more chair", user=admin_user)

    order = place_order(conference=conference, email="a@example.com", name="A", tickets={ticket: 1})
    assert order.status == Order.Status.PENDING


# --- blocked seats -----------------------------------------------------------------


def test_blocked_seats_count_as_taken_and_release_reopens_them(admin_user):
    conference = make_conference(total_capacity=10)
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 6)

    block = block_seats(
        conference=conference, quantity=4, label="speakers", reason="Keynotes", user=admin_user
    )
    availability = get_availability(conference)
    assert (availability.blocked, availability.remaining, availability.sold_out) == (4, 0, True)
    with pytest.raises(ValidationError, match="sold out"):
        place_order(conference=conference, email="a@example.com", name="A", tickets={ticket: 1})

    release_blocked_seats(block=block, quantity=1, reason="One speaker cancelled", user=admin_user)
    assert get_availability(conference).remaining == 1
    place_order(conference=conference, email="a@example.com", name="A", tickets={ticket: 1})

    release_blocked_seats(block=block, reason="Speakers have their seats", user=admin_user)
    assert BlockedSeats.objects.get(pk=block.pk).quantity == 0
    assert get_availability(conference).remaining == 3
    assert [change.summary for change in CapacityChange.objects.order_by("pk")] == [
        "Blocked 4 seats for speakers",
        "Released 1 of 4 seats blocked for speakers",
        "Released 3 of 3 seats blocked for speakers",
    ]


def test_blocking_more_than_is_free_needs_force(admin_user):
    conference = make_conference(total_capacity=10)
    ticket = make_ticket_type(conference)
    fill(conference, ticket, 7)

    with pytest.raises(ValidationError, match="Only 3 seats are free; block 3 or fewer, or force"):
        block_seats(conference=conference, quantity=4, label="press", reason="x", user=admin_user)
    assert not BlockedSeats.objects.exists()

    block_seats(
        conference=conference, quantity=4, label="press", reason="x", user=admin_user, force=True
    )
    assert get_availability(conference).over_capacity == 1
    assert CapacityChange.objects.get().forced is True


def test_a_block_for_a_ticket_type_takes_its_seats_and_venue_seats(conference, admin_user):
    vip = make_ticket_type(conference, name="VIP", total_quantity=5)
    block_seats(
        conference=conference,
        quantity=2,
        label="sponsors",
        reason="Gold sponsor",
        user=admin_user,
        ticket_type=vip,
    )
    availability = get_availability(conference)
    assert availability.ticket_type(vip.pk).remaining == 3
    assert availability.remaining == 98
    assert CapacityChange.objects.get().target_name == "sponsors (VIP)"


@pytest.mark.parametrize(
    ("quantity", "label", "reason", "message"),
    [
        (0, "speakers", "r", "at least 1"),
        (-2, "speakers", "r", "at least 1"),
        ("lots", "speakers", "r", "whole number"),
        (2, "  ", "r", "label"),
        (2, "speakers", "", "Give a reason"),
    ],
)
def test_block_bad_input_is_refused(conference, admin_user, quantity, label, reason, message):
    with pytest.raises(ValidationError, match=message):
        block_seats(
            conference=conference, quantity=quantity, label=label, reason=reason, user=admin_user
        )
    assert not BlockedSeats.objects.exists()
    assert not CapacityChange.objects.exists()


def test_block_refuses_a_ticket_type_of_another_conference(conference, admin_user):
    foreign = make_ticket_type(make_conference())
    with pytest.raises(ValidationError, match="not sold for"):
        block_seats(
            conference=conference,
            quantity=1,
            label="x",
            reason="r",
            user=admin_user,
            ticket_type=foreign,
        )


def test_release_refuses_more_than_blocked_and_a_second_full_release(conference, admin_user):
    block = block_seats(conference=conference, quantity=3, label="crew", reason="r", user=None)
    with pytest.raises(ValidationError, match="Only 3 seats are blocked for crew"):
        release_blocked_seats(block=block, quantity=4, reason="r", user=admin_user)
    release_blocked_seats(block=block, reason="r", user=admin_user)
    with pytest.raises(ValidationError, match="already been released"):
        release_blocked_seats(block=block, reason="r", user=admin_user)
    assert CapacityChange.objects.count() == 2


# --- comp tickets ------------------------------------------------------------------


def test_a_comp_order_may_exceed_the_cap_and_is_recorded(admin_user):
    conference = make_conference(total_capacity=10)
    speaker = make_ticket_type(conference, name="Speaker", total_quantity=0)
    fill(conference, speaker, 10)

    order = issue_comp_order(
        conference=conference,
        email="keynote@example.com",
        name="Keynote Speaker",
        tickets={speaker: 2},
        reason="Keynote and partner",
        user=admin_user,
    )

    order.refresh_from_db()
    assert (order.status, order.is_comp, order.total) == (Order.Status.PAID, True, 0)
    assert order.lines.get().quantity == 2
    availability = get_availability(conference)
    assert availability.over_capacity == 2
    change = CapacityChange.objects.get()
    assert change.target_kind == CapacityChange.Target.COMP
    assert change.target_id == order.pk
    assert (change.old_value, change.new_value, change.forced) == (10, 12, True)
    assert change.reason == "Keynote and partner"
    assert change.user == admin_user
    assert order.reference in change.target_name


def test_a_comp_within_capacity_is_recorded_but_not_forced(conference, admin_user):
    ticket = make_ticket_type(conference)
    issue_comp_order(
        conference=conference,
        email="v@example.com",
        name="Volunteer",
        tickets={ticket.pk: 1},
        reason="Volunteer",
        user=admin_user,
    )
    assert CapacityChange.objects.get().forced is False


@pytest.mark.parametrize(
    ("tickets", "reason", "message"),
    [
        ("none", "r", "at least one ticket"),
        ("zero", "r", "Choose 1 to 100"),
        ("many", "r", "Choose 1 to 100"),
        ("ok", "", "Give a reason"),
        ("foreign", "r", "is not sold for"),
    ],
)
def test_comp_bad_input_writes_nothing(conference, admin_user, tickets, reason, message):
    ticket = make_ticket_type(conference)
    tickets = {
        "none": {},
        "zero": {ticket: 0},
        "many": {ticket: 101},
        "ok": {ticket: 1},
        "foreign": {make_ticket_type(make_conference()): 1},
    }[tickets]
    with pytest.raises(ValidationError, match=message):
        issue_comp_order(
            conference=conference,
            email="v@example.com",
            name="V",
            tickets=tickets,
            reason=reason,
            user=admin_user,
        )
    assert not Order.objects.exists()
    assert not CapacityChange.objects.exists()
