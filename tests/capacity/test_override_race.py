"""Overrides racing buyers for the last seats, on real threads against the real database.

Each race has a control: the same race with the conference lock switched off
must oversell, which proves the harness really races.
"""

import pytest

from capacity.models import CapacityChange
from capacity.services import block_seats, get_availability, override_capacity
from conference.models import Conference
from registration.models import Order
from registration.services import place_order
from tests.factories import make_conference, make_order, make_ticket_type, make_user
from tests.races import race

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

CAPACITY = 10
TAKEN_BEFORE = 6
BUYERS = 4
LOWER_TO = 8
BLOCK = 2


def lower_capacity(conference_pk, user):
    override_capacity(
        target=Conference.objects.get(pk=conference_pk),
        total=LOWER_TO,
        reason="Fire marshal: two rows closed",
        user=user,
    )


def block_two_seats(conference_pk, user):
    block_seats(
        conference=Conference.objects.get(pk=conference_pk),
        quantity=BLOCK,
        label="speakers",
        reason="Late keynote",
        user=user,
    )


def race_override_against_buyers(conference_pk, ticket_pk, override, user) -> list[str]:
    """Start BUYERS buyers (one seat each) and one override at the same instant.

    Returns who succeeded: "buyer" once per order placed, "override" if it went through.
    """

    def attempt(index):
        if index == BUYERS:
            override(conference_pk, user)
            return "override"
        place_order(
            conference=conference_pk,
            email=f"racer{index}@example.com",
            name=f"Racer {index}",
            tickets={ticket_pk: 1},
        )
        return "buyer"

    outcome = race(BUYERS + 1, attempt)
    assert len(outcome.won) + len(outcome.refused) == BUYERS + 1, "a racer did not finish"
    return outcome.won


def setup_nearly_full_conference():
    conference = make_conference(total_capacity=CAPACITY)
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, TAKEN_BEFORE)])
    return conference, ticket


@pytest.mark.parametrize("override", [lower_capacity, block_two_seats])
def test_an_override_racing_buyers_never_leaves_more_taken_than_the_cap(settings, override):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.2
    conference, ticket = setup_nearly_full_conference()
    user = make_user(is_staff=True)

    won = race_override_against_buyers(conference.pk, ticket.pk, override, user)

    availability = get_availability(Conference.objects.get(pk=conference.pk))
    sold_to_racers = won.count("buyer")
    assert availability.sold + availability.held == TAKEN_BEFORE + sold_to_racers
    assert availability.taken <= availability.capacity
    assert availability.over_capacity == 0
    override_won = "override" in won
    assert CapacityChange.objects.count() == int(override_won)
    assert not CapacityChange.objects.filter(forced=True).exists()
    if override_won:
        # Buyers after the override saw the smaller room and filled exactly that.
        assert availability.taken == (LOWER_TO if override is lower_capacity else CAPACITY)
    else:
        # The buyers filled the room first; the override was refused as too late.
        assert sold_to_racers == BUYERS


@pytest.mark.parametrize("override", [lower_capacity, block_two_seats])
def test_control_without_the_lock_the_same_race_oversells(settings, override):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.3
    settings.SEATKEEPER_SEAT_LOCK = False
    conference, ticket = setup_nearly_full_conference()
    user = make_user(is_staff=True)

    won = race_override_against_buyers(conference.pk, ticket.pk, override, user)

    assert won.count("buyer") == BUYERS
    assert "override" in won
    availability = get_availability(Conference.objects.get(pk=conference.pk))
    assert availability.taken > availability.capacity
    assert availability.over_capacity == 2


def test_a_forced_lower_during_the_race_is_the_only_way_over_and_it_is_recorded(settings):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.2
    conference, ticket = setup_nearly_full_conference()
    user = make_user(is_staff=True)

    def force_lower(conference_pk, user):
        override_capacity(
            target=Conference.objects.get(pk=conference_pk),
            total=5,
            reason="Half the hall is closed",
            user=user,
            force=True,
        )

    won = race_override_against_buyers(conference.pk, ticket.pk, force_lower, user)

    assert "override" in won
    availability = get_availability(Conference.objects.get(pk=conference.pk))
    assert availability.capacity == 5
    assert availability.over_capacity == availability.taken - 5 >= 1
    change = CapacityChange.objects.get()
    assert change.forced is True
    # Buyers who came after the forced lower were refused: nothing was sold past it
    # except what was already taken when it happened.
    assert availability.taken <= CAPACITY
