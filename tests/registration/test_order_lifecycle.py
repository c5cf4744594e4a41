"""Paying, late payment, extending, cancelling, refunding and expiring orders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from capacity.services import get_availability
from registration.models import Order
from registration.services import (
    cancel_order,
    expire_holds,
    extend_hold,
    mark_paid,
    place_order,
    refund_order,
)
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def conference():
    return make_conference(total_capacity=10, hold_minutes=15)


@pytest.fixture
def ticket(conference):
    return make_ticket_type(conference, price=Decimal("50.00"))


def seats(conference):
    availability = get_availability(conference)
    return availability.sold, availability.held, availability.remaining


def lapsed(conference, status, tickets, addons=()):
    """An order whose hold has passed: PENDING past its hold, or already EXPIRED."""
    return make_order(conference, status, hold_minutes=-5, tickets=tickets, addons=addons)


LAPSED_STATUSES = [Order.Status.PENDING, Order.Status.EXPIRED]


class TestMarkPaid:
    def test_a_live_hold_becomes_a_sale(self, conference, ticket):
        order = place_order(
            conference=conference, email="a@example.com", name="A", tickets={ticket: 3}
        )
        assert seats(conference) == (0, 3, 7)

        paid = mark_paid(order, provider="card")

        paid.refresh_from_db()
        assert paid.status == Order.Status.PAID
        assert paid.paid_at is not None
        assert paid.payment_provider == "card"
        assert seats(conference) == (3, 0, 7)

    def test_a_live_hold_is_paid_even_when_the_venue_is_full(self, conference, ticket):
        order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 4)])
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 6)])
        mark_paid(order)
        assert order.status == Order.Status.PAID
        assert seats(conference) == (10, 0, 0)

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_paid_when_seats_remain(self, conference, ticket, status):
        order = lapsed(conference, status, [(ticket, 2)])
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 8)])
        assert seats(conference) == (8, 0, 2)

        mark_paid(order)

        order.refresh_from_db()
        assert order.status == Order.Status.PAID
        assert seats(conference) == (10, 0, 0)

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_refused_when_the_venue_is_gone(self, conference, ticket, status):
        order = lapsed(conference, status, [(ticket, 2)])
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 9)])

        with pytest.raises(ValidationError, match="no longer free") as caught:
            mark_paid(order)

        assert "Only 1 tickets remaining" in " ".join(caught.value.messages)
        assert f"hold on order {order.reference} expired" in caught.value.messages[0]
        order.refresh_from_db()
        assert order.status == status
        assert order.paid_at is None
        assert seats(conference) == (9, 0, 1)

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_refused_when_sold_out(self, conference, ticket, status):
        order = lapsed(conference, status, [(ticket, 1)])
        make_order(conference, Order.Status.PENDING, tickets=[(ticket, 10)])
        with pytest.raises(ValidationError, match="sold out"):
            mark_paid(order)
        order.refresh_from_db()
        assert order.status == status

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_refused_when_its_ticket_type_is_gone(self, conference, status):
        patron = make_ticket_type(conference, name="Patron", total_quantity=3)
        order = lapsed(conference, status, [(patron, 2)])
        make_order(conference, Order.Status.PAID, tickets=[(patron, 2)])
        with pytest.raises(ValidationError, match="Only 1 tickets remaining for Patron"):
            mark_paid(order)
        assert Order.objects.get(pk=order.pk).status == status

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_refused_when_its_addon_is_gone(self, conference, ticket, status):
        dinner = make_addon(conference, name="Dinner", total_quantity=2)
        order = lapsed(conference, status, [(ticket, 1)], [(dinner, 1)])
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)], addons=[(dinner, 2)])
        with pytest.raises(ValidationError, match="Dinner is sold out"):
            mark_paid(order)
        assert Order.objects.get(pk=order.pk).status == status

    def test_a_lapsed_hold_of_a_type_whose_sales_ended_is_still_paid(self, conference):
        ended = make_ticket_type(conference, available_until=timezone.now() - timedelta(minutes=1))
        order = lapsed(conference, Order.Status.EXPIRED, [(ended, 1)])
        assert mark_paid(order).status == Order.Status.PAID

    def test_a_lapsed_hold_of_a_type_withdrawn_from_sale_is_refused(self, conference):
        withdrawn = make_ticket_type(conference, name="Patron")
        order = lapsed(conference, Order.Status.EXPIRED, [(withdrawn, 1)])
        withdrawn.is_active = False
        withdrawn.save()
        with pytest.raises(ValidationError, match="Patron is not available"):
            mark_paid(order)
        assert Order.objects.get(pk=order.pk).status == Order.Status.EXPIRED

    def test_paying_a_paid_order_changes_nothing(self, conference, ticket):
        order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
        paid_at = order.paid_at
        assert mark_paid(order).status == Order.Status.PAID
        assert Order.objects.get(pk=order.pk).paid_at == paid_at

    @pytest.mark.parametrize("status", [Order.Status.CANCELLED, Order.Status.REFUNDED])
    def test_cancelled_or_refunded_orders_cannot_be_paid(self, conference, ticket, status):
        order = make_order(conference, status, tickets=[(ticket, 1)])
        with pytest.raises(ValidationError, match="cannot be paid"):
            mark_paid(order)
        assert Order.objects.get(pk=order.pk).status == status

    def test_a_stale_order_object_is_reread(self, conference, ticket):
        order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
        Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
        with pytest.raises(ValidationError, match="cancelled"):
            mark_paid(order)


class TestExtendHold:
    def test_a_live_hold_is_lengthened(self, conference, ticket):
        order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
        ends = order.hold_expires_at
        extend_hold(order, minutes=10)
        order.refresh_from_db()
        assert order.hold_expires_at == ends + timedelta(minutes=10)

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_taken_again_when_seats_remain(self, conference, ticket, status):
        order = lapsed(conference, status, [(ticket, 3)])
        extend_hold(order)
        order.refresh_from_db()
        assert order.status == Order.Status.PENDING
        assert order.hold_expires_at > timezone.now() + timedelta(minutes=14)
        assert seats(conference) == (0, 3, 7)

    @pytest.mark.parametrize("status", LAPSED_STATUSES)
    def test_a_lapsed_hold_is_refused_when_seats_are_gone(self, conference, ticket, status):
        order = lapsed(conference, status, [(ticket, 3)])
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 8)])
        with pytest.raises(ValidationError, match="no longer free"):
            extend_hold(order)
        order.refresh_from_db()
        assert order.status == status
        assert order.hold_expires_at < timezone.now()

    @pytest.mark.parametrize("minutes", [0, -5, 60 * 24 * 31, "10", 1.5])
    def test_bad_lengths_are_refused(self, conference, ticket, minutes):
        order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
        ends = order.hold_expires_at
        with pytest.raises(ValidationError, match="1 minute to 30 days"):
            extend_hold(order, minutes=minutes)
        assert Order.objects.get(pk=order.pk).hold_expires_at == ends

    def test_a_paid_order_has_no_hold_to_extend(self, conference, ticket):
        order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
        with pytest.raises(ValidationError, match="Only pending orders have a hold"):
            extend_hold(order)


class TestCancel:
    @pytest.mark.parametrize(
        "status", [Order.Status.PENDING, Order.Status.PAID, Order.Status.EXPIRED]
    )
    def test_cancelling_frees_the_seats(self, conference, ticket, status):
        order = make_order(conference, status, tickets=[(ticket, 4)])
        cancel_order(order)
        assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
        assert seats(conference) == (0, 0, 10)

    @pytest.mark.parametrize("status", [Order.Status.CANCELLED, Order.Status.REFUNDED])
    def test_cancelled_or_refunded_orders_cannot_be_cancelled(self, conference, ticket, status):
        order = make_order(conference, status, tickets=[(ticket, 1)])
        with pytest.raises(ValidationError, match="already"):
            cancel_order(order)
        assert Order.objects.get(pk=order.pk).status == status


class TestRefund:
    def test_a_full_refund_frees_the_seats(self, conference, ticket):
        order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
        refund_order(order)
        assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
        assert seats(conference) == (0, 0, 10)

    def test_a_partial_refund_keeps_the_seats(self, conference, ticket):
        order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
        refund_order(order, partial=True)
        assert Order.objects.get(pk=order.pk).status == Order.Status.PARTIALLY_REFUNDED
        assert seats(conference) == (4, 0, 6)

    def test_a_partially_refunded_order_can_be_refunded_in_full(self, conference, ticket):
        order = make_order(conference, Order.Status.PARTIALLY_REFUNDED, tickets=[(ticket, 4)])
        refund_order(order)
        assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
        assert seats(conference) == (0, 0, 10)

    @pytest.mark.parametrize(
        "status",
        [Order.Status.PENDING, Order.Status.EXPIRED, Order.Status.CANCELLED, Order.Status.REFUNDED],
    )
    def test_only_paid_orders_are_refunded(self, conference, ticket, status):
        order = make_order(conference, status, tickets=[(ticket, 1)])
        with pytest.raises(ValidationError, match="Only paid orders can be refunded"):
            refund_order(order)
        assert Order.objects.get(pk=order.pk).status == status


class TestExpireHolds:
    def test_marks_lapsed_holds_expired_and_returns_how_many(self, conference, ticket):
        live = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
        first = lapsed(conference, Order.Status.PENDING, [(ticket, 2)])
        second = lapsed(conference, Order.Status.PENDING, [(ticket, 3)])
        paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
        counted_before = seats(conference)

        assert expire_holds() == 2

        statuses = dict(Order.objects.values_list("pk", "status"))
        assert statuses[first.pk] == statuses[second.pk] == Order.Status.EXPIRED
        assert statuses[live.pk] == Order.Status.PENDING
        assert statuses[paid.pk] == Order.Status.PAID
        assert seats(conference) == counted_before == (4, 1, 5)
        assert expire_holds() == 0

    def test_now_can_be_given(self, conference, ticket):
        live = make_order(conference, Order.Status.PENDING, hold_minutes=10, tickets=[(ticket, 1)])
        assert expire_holds(now=timezone.now() + timedelta(minutes=5)) == 0
        assert expire_holds(now=timezone.now() + timedelta(minutes=11)) == 1
        assert Order.objects.get(pk=live.pk).status == Order.Status.EXPIRED

    def test_other_conferences_are_expired_too(self, ticket):
        elsewhere = make_conference()
        lapsed(elsewhere, Order.Status.PENDING, [(make_ticket_type(elsewhere), 1)])
        assert expire_holds() == 1
