"""The seat counts read under the lock: one buyer's held seats."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from capacity.seat_counts import _buyer_held_params, _buyer_held_sql, count_buyer_held
from registration.models import Order, OrderLineItem
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def hold(conference, email, tickets=(), addons=(), *, minutes=15, status=Order.Status.PENDING):
    order = make_order(conference, status, hold_minutes=minutes, tickets=tickets, addons=addons)
    Order.objects.filter(pk=order.pk).update(email=email)
    return order


def test_a_buyers_held_seats_are_the_tickets_of_their_live_holds_in_any_case_of_the_email():
    conference = make_conference()
    ticket = make_ticket_type(conference)
    dinner = make_addon(conference)
    hold(conference, "Ada@Example.com", [(ticket, 2)], [(dinner, 5)])
    hold(conference, "ada@example.com", [(ticket, 3)])
    hold(conference, "ada@example.com", [(ticket, 4)], minutes=-1)  # lapsed
    hold(conference, "ada@example.com", [(ticket, 6)], status=Order.Status.PAID)
    hold(conference, "grace@example.com", [(ticket, 7)])
    other = make_conference()
    hold(other, "ada@example.com", [(make_ticket_type(other), 8)])

    assert count_buyer_held(conference, "ADA@example.com", timezone.now()) == 5
    assert count_buyer_held(conference, "nobody@example.com", timezone.now()) == 0


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the planner's choice of index, on PostgreSQL"
)
def test_a_buyers_held_seats_are_found_by_their_email_whatever_the_holds_of_a_rush():
    # Statistics taken before a rush (many buyers, no live hold), then thousands
    # of live holds: the index of live holds then looks the more selective, and
    # reading the buyer's seats through it would pass over every live hold on
    # every order.
    conference = make_conference()
    ticket = make_ticket_type(conference)
    now = timezone.now()

    def orders(prefix, count, **fields):
        placed = Order.objects.bulk_create(
            Order(
                conference=conference,
                reference=f"{prefix}-{n:08d}",
                email=f"{prefix}{n}@example.com".lower(),
                name="Buyer",
                **fields,
            )
            for n in range(count)
        )
        OrderLineItem.objects.bulk_create(
            OrderLineItem(order=order, kind="ticket", ticket_type=ticket, quantity=1)
            for order in placed
        )

    orders("EARLY", 1000, status=Order.Status.EXPIRED, hold_expires_at=now - timedelta(hours=1))
    hold(conference, "ada@example.com", [(ticket, 1)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    orders("RUSH", 3000, hold_expires_at=now + timedelta(minutes=15))

    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN {_buyer_held_sql()}", _buyer_held_params(conference, "ada@example.com", now)
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "order_email_idx" in plan
    assert count_buyer_held(conference, "ada@example.com", now) == 1
