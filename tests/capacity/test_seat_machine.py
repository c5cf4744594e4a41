"""A stateful property test: random histories of orders, and the fast counts never lie.

Hypothesis plays random sequences of placing, paying, cancelling, refunding,
expiring, extending, letting holds lapse (time travel by moving
``hold_expires_at``), overriding capacities, blocking and releasing seats, and
writing orders straight through the ORM. After every step the fast counts
(counters plus live holds) must equal the truth recomputed by the naive
aggregate over every line, and the availability snapshot must agree with it.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from capacity.models import BlockedSeats
from capacity.services import get_availability, get_global_remaining, get_global_sold_count
from conference.models import Conference
from registration import services
from registration.counters import (
    VENUE,
    naive_seat_totals,
    naive_venue_seats_taken,
    recount_committed_seats,
    seat_totals,
    stored_committed_seats,
)
from registration.models import Order, TicketType
from tests.factories import make_addon, make_conference, make_ticket_type

STATUSES = [choice for choice, _ in Order.Status.choices]


class SeatMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    blocks = Bundle("blocks")

    def __init__(self):
        super().__init__()
        self.conference = make_conference(total_capacity=14)
        self.tickets = [
            make_ticket_type(self.conference, total_quantity=8),
            make_ticket_type(self.conference, total_quantity=0),
            make_ticket_type(self.conference, total_quantity=5, price=Decimal("0")),
        ]
        self.addon = make_addon(self.conference, total_quantity=4)

    def _live(self, order):
        return Order.objects.filter(pk=order.pk).exists()

    def _ticket(self, index):
        ticket = self.tickets[index]
        return ticket if TicketType.objects.filter(pk=ticket.pk).exists() else None

    # --- through the services ---------------------------------------------------------

    @rule(
        target=orders,
        index=st.integers(0, 2),
        quantity=st.integers(1, 5),
        addons=st.integers(0, 2),
    )
    def place(self, index, quantity, addons):
        ticket = self._ticket(index)
        if ticket is None:
            return multiple()
        try:
            return services.place_order(
                conference=self.conference,
                email="fuzz@example.com",
                name="Fuzz",
                tickets={ticket: quantity},
                addons={self.addon: addons} if addons else None,
            )
        except ValidationError:
            return multiple()

    @rule(order=orders)
    def pay(self, order):
        if self._live(order):
            try:
                services.mark_paid(order)
            except ValidationError:
                pass

    @rule(order=orders)
    def cancel(self, order):
        if self._live(order):
            try:
                services.cancel_order(order)
            except ValidationError:
                pass

    @rule(order=orders, partial=st.booleans())
    def refund(self, order, partial):
        if self._live(order):
            try:
                services.refund_order(order, partial=partial)
            except ValidationError:
                pass

    @rule(order=orders, minutes=st.integers(1, 30))
    def extend(self, order, minutes):
        if self._live(order):
            try:
                services.extend_hold(order, minutes=minutes)
            except ValidationError:
                pass

    @rule()
    def expire(self):
        services.expire_holds()

    # --- time travel, overrides and blocks, straight in the database ---------------------------

    @rule(order=orders, minutes=st.integers(-30, 30).filter(bool))
    def move_hold(self, order, minutes):
        Order.objects.filter(pk=order.pk).exclude(hold_expires_at=None).update(
            hold_expires_at=timezone.now() + timedelta(minutes=minutes)
        )

    @rule(capacity=st.integers(0, 20))
    def override_venue(self, capacity):
        Conference.objects.filter(pk=self.conference.pk).update(total_capacity=capacity)
        self.conference.refresh_from_db()

    @rule(index=st.integers(0, 2), quantity=st.integers(0, 10))
    def override_ticket_type(self, index, quantity):
        TicketType.objects.filter(pk=self.tickets[index].pk).update(total_quantity=quantity)

    @rule(target=blocks, for_ticket=st.booleans(), quantity=st.integers(1, 4))
    def block(self, for_ticket, quantity):
        return BlockedSeats.objects.create(
            conference=self.conference,
            ticket_type=self.tickets[0] if for_ticket else None,
            label="speakers",
            quantity=quantity,
        )

    @rule(block=consumes(blocks))
    def release(self, block):
        BlockedSeats.objects.filter(pk=block.pk).update(quantity=0)

    # --- the ORM, bypassing the services ----------------------------------------------------

    @rule(order=orders, status=st.sampled_from(STATUSES))
    def set_status_with_update(self, order, status):
        hold = timezone.now() + timedelta(minutes=5)
        Order.objects.filter(pk=order.pk).exclude(hold_expires_at=None).update(status=status)
        Order.objects.filter(pk=order.pk, hold_expires_at=None).update(
            status=status, hold_expires_at=hold
        )

    @rule(order=orders, quantity=st.integers(1, 6))
    def change_quantity(self, order, quantity):
        line = order.lines.first() if self._live(order) else None
        if line is not None:
            line.quantity = quantity
            line.save()

    @rule(order=consumes(orders))
    def delete_order(self, order):
        Order.objects.filter(pk=order.pk).delete()

    @rule()
    def delete_unlimited_ticket_type(self):
        TicketType.objects.filter(pk=self.tickets[1].pk).delete()

    # --- after every step -----------------------------------------------------------------------

    @invariant()
    def fast_counts_equal_the_recomputed_truth(self):
        now = timezone.now()
        assert stored_committed_seats(self.conference) == recount_committed_seats(self.conference)
        truth = naive_seat_totals(self.conference, now)
        fast = {
            key: value for key, value in seat_totals(self.conference, now).items() if any(value)
        }
        assert fast == truth
        venue_taken = naive_venue_seats_taken(self.conference, now)
        assert get_global_sold_count(self.conference) == venue_taken

        self.conference.refresh_from_db()
        availability = get_availability(self.conference, now=now)
        assert (availability.sold, availability.held) == truth.get((VENUE, 0), (0, 0))
        for item in availability.ticket_types:
            assert (item.sold, item.held) == truth.get(("ticket", item.pk), (0, 0))
        for item in availability.addons:
            assert (item.sold, item.held) == truth.get(("addon", item.pk), (0, 0))
        blocked = sum(
            BlockedSeats.objects.filter(conference=self.conference).values_list(
                "quantity", flat=True
            )
        )
        capacity = self.conference.total_capacity
        expected_remaining = max(0, capacity - venue_taken - blocked) if capacity else None
        assert get_global_remaining(self.conference) == expected_remaining


@pytest.mark.django_db
def test_fast_counts_always_equal_the_recomputed_truth():
    run_state_machine_as_test(
        SeatMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=30,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
