"""A stateful property test: random histories of orders, and the fast counts never lie.

Hypothesis plays random sequences of placing, paying, cancelling, refunding,
expiring, extending, letting holds lapse (time travel by moving
``hold_expires_at``, and a clock that moves forward across minute boundaries),
overriding capacities, blocking and releasing seats, and writing orders
straight through the ORM. After every step the stored counters, sold and held,
must equal their recount from the lines, the fast counts must equal the truth
recomputed by the naive aggregate over every line (now, and at moments around
now), and the availability snapshot must agree with it.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

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
    recount_seat_counters,
    seat_totals,
    stored_seat_counters,
    venue_seats_taken,
)
from registration.models import Order, TicketType
from tests.factories import make_addon, make_conference, make_ticket_type

STATUSES = [choice for choice, _ in Order.Status.choices]
# A few seconds before a minute boundary, so that the first steps cross it.
# The conference's hold: reading at now + HOLD lands among the expiries of the holds just placed.
HOLD = timedelta(minutes=15)
CLOCK_START = datetime(2027, 3, 1, 9, 59, 55, 500_000, tzinfo=UTC)


class SeatMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    blocks = Bundle("blocks")

    def __init__(self):
        super().__init__()
        # Every service, the ORM's auto_now and the checks below read this clock.
        self.clock = CLOCK_START
        self._clock_patch = mock.patch("django.utils.timezone.now", lambda: self.clock)
        self._clock_patch.start()
        try:
            self.conference = make_conference(total_capacity=14)
            self.tickets = [
                make_ticket_type(self.conference, total_quantity=8),
                make_ticket_type(self.conference, total_quantity=0),
                make_ticket_type(self.conference, total_quantity=5, price=Decimal("0")),
            ]
            self.addon = make_addon(self.conference, total_quantity=4)
        except BaseException:
            # teardown() only runs for a machine that was built: never leak the clock.
            self._clock_patch.stop()
            raise

    def teardown(self):
        self._clock_patch.stop()

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

    @rule(order=orders, offset=st.timedeltas(timedelta(minutes=-30), timedelta(minutes=30)))
    def move_hold(self, order, offset):
        Order.objects.filter(pk=order.pk).exclude(hold_expires_at=None).update(
            hold_expires_at=timezone.now() + offset
        )

    @rule(step=st.timedeltas(timedelta(microseconds=1), timedelta(minutes=20)))
    def wait(self, step):
        self.clock += step

    @rule(order=orders, nudge=st.sampled_from([-1, 0, 1]))
    def wait_until_hold_expires(self, order, nudge):
        """Move the clock to a microsecond before, at, or after a hold's expiry."""
        hold = Order.objects.filter(pk=order.pk).values_list("hold_expires_at", flat=True).first()
        moment = hold + timedelta(microseconds=nudge) if hold else None
        if moment is not None and moment > self.clock:
            self.clock = moment

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
        assert stored_seat_counters(self.conference) == recount_seat_counters(self.conference)
        for moment in (now - timedelta(minutes=1), now + timedelta(seconds=30), now + HOLD):
            fast = seat_totals(self.conference, moment)
            assert {key: value for key, value in fast.items() if any(value)} == (
                naive_seat_totals(self.conference, moment)
            )
            assert venue_seats_taken(self.conference, moment) == (
                naive_venue_seats_taken(self.conference, moment)
            )
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
