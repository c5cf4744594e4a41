"""validate_global_capacity: the venue-cap check and its words."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.transaction import TransactionManagementError

from capacity.services import validate_global_capacity
from conference.models import Conference
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type


def _venue(capacity, taken):
    conference = make_conference(total_capacity=capacity)
    if taken:
        make_order(conference, Order.Status.PAID, tickets=[(make_ticket_type(conference), taken)])
    return conference


def validate(conference, desired_total):
    with transaction.atomic():
        validate_global_capacity(conference, desired_total)


@pytest.mark.django_db
class TestMessages:
    def test_exactly_at_the_cap_passes(self):
        validate(_venue(10, 7), 3)

    def test_an_empty_venue_takes_its_whole_capacity(self):
        validate(_venue(10, 0), 10)

    def test_one_over_says_how_many_remain(self):
        with pytest.raises(ValidationError, match="Only 3 tickets remaining") as caught:
            validate(_venue(10, 7), 4)
        assert caught.value.code == "venue_capacity"

    def test_one_seat_left_says_only_1(self):
        with pytest.raises(ValidationError, match="Only 1 tickets remaining"):
            validate(_venue(10, 9), 2)

    def test_full_says_sold_out_and_the_capacity(self):
        with pytest.raises(ValidationError, match="sold out") as caught:
            validate(_venue(10, 10), 1)
        assert "10" in caught.value.messages[0]
        assert "Only" not in caught.value.messages[0]

    def test_over_the_cap_says_sold_out(self):
        conference = _venue(10, 10)
        make_order(conference, Order.Status.PAID, tickets=[(make_ticket_type(conference), 3)])
        with pytest.raises(ValidationError, match=r"sold out: all 10 seats"):
            validate(conference, 1)

    def test_a_full_venue_refuses_even_zero_more(self):
        with pytest.raises(ValidationError, match="sold out"):
            validate(_venue(10, 10), 0)

    def test_expired_holds_leave_room(self):
        conference = _venue(10, 8)
        make_order(
            conference,
            Order.Status.PENDING,
            hold_minutes=-1,
            tickets=[(make_ticket_type(conference), 2)],
        )
        validate(conference, 2)

    def test_live_holds_take_room(self):
        conference = _venue(10, 8)
        make_order(conference, Order.Status.PENDING, tickets=[(make_ticket_type(conference), 1)])
        with pytest.raises(ValidationError, match="Only 1 tickets remaining"):
            validate(conference, 2)

    def test_an_unlimited_venue_always_passes(self):
        validate(_venue(0, 5000), 10**9)

    def test_accepts_a_primary_key(self):
        conference = _venue(5, 5)
        with pytest.raises(ValidationError, match="sold out"):
            validate(conference.pk, 1)


@pytest.mark.django_db
class TestStaleConference:
    def test_a_stale_larger_cap_in_memory_cannot_bypass_it(self):
        stale = _venue(100, 8)
        Conference.objects.filter(pk=stale.pk).update(total_capacity=10)
        assert stale.total_capacity == 100
        with pytest.raises(ValidationError, match="Only 2 tickets remaining"):
            validate(stale, 3)

    def test_a_stale_cap_in_memory_cannot_reopen_a_full_venue(self):
        stale = _venue(100, 8)
        Conference.objects.filter(pk=stale.pk).update(total_capacity=8)
        with pytest.raises(ValidationError, match=r"sold out: all 8 seats"):
            validate(stale, 1)

    def test_a_raised_cap_in_the_database_counts_even_if_memory_is_stale(self):
        stale = _venue(10, 10)
        Conference.objects.filter(pk=stale.pk).update(total_capacity=15)
        validate(stale, 5)


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_a_transaction():
    conference = _venue(10, 0)
    with pytest.raises(TransactionManagementError, match="transaction.atomic"):
        validate_global_capacity(conference, 1)
