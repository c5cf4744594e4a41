"""A stateful property test: random histories of orders, and the fast counts never lie.

Hypothesis plays random sequences of placing, paying, cancelling, refunding,
expiring, extending, letting holds lapse (time travel by moving
``hold_expires_at``, and a clock that moves forward across minute boundaries),
overriding capacities, blocking and releasing seats, writing orders
straight through the ORM, and the waiting list: joining it (through the service
and straight in the database, as a lapsed hold leaves it), offering freed
seats, lapsing offers, leaving and paying an offer. After every step the stored
counters, sold and held, must equal their recount from the lines, the fast
counts must equal the truth recomputed by the naive aggregate over every line
(now, and at moments around now), and the availability snapshot must agree with it, seats waited for
included. A newcomer's order never takes seats WAITING entries wait for, and
after every service that frees seats no WAITING entry fits what is free.
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

from capacity.counters import (
    VENUE,
    naive_seat_totals,
    naive_venue_seats_taken,
    recount_seat_counters,
    seat_totals,
    stored_seat_counters,
    venue_seats_taken,
)
from capacity.models import BlockedSeats
from capacity.services import get_availability, get_global_remaining, get_global_sold_count
from capacity.waiting import plan_offers
from conference.models import Conference
from registration import services
from registration.models import Order, TicketType, WaitingListEntry
from tests.factories import make_addon, make_conference, make_entry, make_ticket_type

STATUSES = [choice for choice, _ in Order.Status.choices]
# A few seconds before a minute boundary, so that the first steps cross it.
# The conference's hold: reading at now + HOLD lands among the expiries of the holds just placed.
HOLD = timedelta(minutes=15)
CLOCK_START = datetime(2027, 3, 1, 9, 59, 55, 500_000, tzinfo=UTC)


class SeatMachine(RuleBasedStateMachine):
    orders = Bundle("orders")
    blocks = Bundle("blocks")
    entries = Bundle("entries")

    def __init__(self):
        super().__init__()
        # Every service, the ORM's auto_now and the checks below read this clock.
        self.clock = CLOCK_START
        # Entries joined through the service, so each gets an email of its own.
        self.joined = []
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

    def _waiting(self):
        return list(
            WaitingListEntry.objects.filter(
                conference=self.conference, status=WaitingListEntry.Status.WAITING
            ).order_by("created_at", "id")
        )

    def _assert_line_served(self):
        """Right after a service that offers freed seats: no WAITING entry fits."""
        self.conference.refresh_from_db()
        assert plan_offers(get_availability(self.conference), self._waiting()) == []

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
            order = services.place_order(
                conference=self.conference,
                email="fuzz@example.com",
                name="Fuzz",
                tickets={ticket: quantity},
                addons={self.addon: addons} if addons else None,
            )
        except ValidationError:
            return multiple()
        # The newcomer took no seat the line waits for: what is still free
        # covers every seat waited for, at the venue and of the type bought.
        self.conference.refresh_from_db()
        after = get_availability(self.conference)
        assert after.free is None or after.free >= after.waiting
        item = after.ticket_type(ticket.pk)
        assert item.own_remaining is None or item.own_remaining >= item.waiting
        return order

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
                return
            self._assert_line_served()

    @rule(order=orders, partial=st.booleans())
    def refund(self, order, partial):
        if self._live(order):
            try:
                services.refund_order(order, partial=partial)
            except ValidationError:
                return
            if not partial:
                self._assert_line_served()

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

    # --- the waiting list -----------------------------------------------------------------

    @rule(target=entries, index=st.sampled_from([0, 1, 2, None]), quantity=st.integers(1, 4))
    def join(self, index, quantity):
        ticket = None if index is None else self._ticket(index)
        if index is not None and ticket is None:
            return multiple()
        try:
            entry = services.join_waiting_list(
                conference=self.conference,
                email=f"joiner{len(self.joined)}@example.com",
                name="Waiter",
                quantity=quantity,
                ticket_type=ticket,
            )
        except ValidationError:
            return multiple()
        self.joined.append(entry)
        self._assert_line_served()
        return entry

    @rule(target=entries, index=st.sampled_from([0, 1, 2, None]), quantity=st.integers(1, 4))
    def wait_without_offer(self, index, quantity):
        """An entry waiting while seats are free, as a hold lapsing with no worker leaves it."""
        ticket = None if index is None else self._ticket(index)
        if index is not None and ticket is None:
            return multiple()
        return make_entry(self.conference, ticket, quantity)

    @rule(target=entries, index=st.sampled_from([0, 1, 2, None]))
    def wait_for_every_free_seat(self, index):
        """An entry waiting for all the seats free now (of a type, or of any), which
        leaves newcomers nothing."""
        ticket = None if index is None else self._ticket(index)
        if index is not None and ticket is None:
            return multiple()
        self.conference.refresh_from_db()
        availability = get_availability(self.conference)
        free = availability.free if ticket is None else availability.ticket_type(ticket.pk).free
        if not free:  # None (unlimited) or 0
            return multiple()
        return make_entry(self.conference, ticket, min(free, 10))

    @rule(target=orders)
    def offer(self):
        offers = services.offer_freed_seats(self.conference)
        self._assert_line_served()
        for offer in offers:
            entry = offer.waiting_list_entries.get()
            assert entry.status == WaitingListEntry.Status.OFFERED
            assert offer.lines.get().quantity == entry.quantity
            assert offer.hold_expires_at == timezone.now() + timedelta(
                minutes=self.conference.waiting_list_offer_minutes
            )
        return multiple(*offers)

    @rule(target=orders)
    def lapse_offers(self):
        # It serves every conference: earlier examples' lines too.
        offers = services.offer_lapsed_seats()
        self._assert_line_served()
        return multiple(*(offer for offer in offers if offer.conference_id == self.conference.pk))

    @rule(entry=entries)
    def leave(self, entry):
        if not WaitingListEntry.objects.filter(pk=entry.pk).exists():
            return  # its ticket type was deleted
        try:
            services.leave_waiting_list(entry)
        except ValidationError:
            return
        entry.refresh_from_db()
        assert entry.status == WaitingListEntry.Status.LEFT
        self._assert_line_served()

    @rule(entry=entries)
    def pay_offer(self, entry):
        entry = WaitingListEntry.objects.filter(pk=entry.pk).first()
        if entry is None or entry.status != WaitingListEntry.Status.OFFERED:
            return
        unpaid = entry.order.status in (Order.Status.PENDING, Order.Status.EXPIRED)
        try:
            services.mark_paid(entry.order)
        except ValidationError:
            return
        entry.refresh_from_db()
        if unpaid:
            assert entry.status == WaitingListEntry.Status.ACCEPTED

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
        # An offer cannot be deleted while its waiting-list entry refers to it.
        Order.objects.filter(pk=order.pk, waiting_list_entries__isnull=True).delete()

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

        # Seats waited for: the snapshot's equal a recount of the WAITING entries,
        # and newcomers are left only what is free beyond them.
        waiting = self._waiting()
        assert not any(entry.order_id for entry in waiting)
        any_type = sum(entry.quantity for entry in waiting if entry.ticket_type_id is None)
        assert availability.waiting == sum(entry.quantity for entry in waiting)
        free = expected_remaining
        assert availability.free == free
        assert availability.remaining == (
            None if free is None else max(0, free - availability.waiting)
        )
        for item in availability.ticket_types:
            own = sum(entry.quantity for entry in waiting if entry.ticket_type_id == item.pk)
            assert item.waiting == own + any_type
        offered = WaitingListEntry.objects.filter(
            conference=self.conference, status=WaitingListEntry.Status.OFFERED
        )
        assert not offered.filter(order=None).exists()


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
