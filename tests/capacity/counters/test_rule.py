"""The counting rule says the same everywhere: in Python, as an ORM filter, as the
triggers' SQL bucket, in the fast reads, and in ``Order.takes_seats``.

Every status against every kind of hold: lapsed an hour ago, lapsed earlier in
the current minute, lapsing later in it, an hour ahead, and none.
"""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from capacity.counters import (
    TICKET,
    bucket_of,
    bucket_sql,
    seat_totals,
    takes_seats,
    taking_seats,
    venue_seats_taken,
)
from capacity.counters.rule import bucket_counts
from registration.models import Order, OrderLineItem
from tests.factories import make_conference, make_ticket_type

NOW = datetime(2027, 3, 1, 10, 0, 30, 250_000, tzinfo=UTC)
HOLDS = {
    "lapsed an hour ago": NOW - timedelta(hours=1),
    "lapsed this minute": NOW - timedelta(seconds=20),
    "lapsing this minute": NOW + timedelta(seconds=20),
    "an hour ahead": NOW + timedelta(hours=1),
    "none": None,
}
STATUSES = [status for status, _ in Order.Status.choices]
CASES = [(status, hold) for status in STATUSES for hold in HOLDS]
# The database refuses a pending order without a hold.
STORABLE = [(status, hold) for status, hold in CASES if (status, hold) != ("pending", "none")]


def expected(status, hold):
    """The rule as the spec words it."""
    if status in ("paid", "partially_refunded"):
        return True
    return status == "pending" and hold in ("lapsing this minute", "an hour ahead")


@pytest.mark.parametrize(("status", "hold"), CASES)
def test_the_python_rule_is_the_spec(status, hold):
    assert takes_seats(status, HOLDS[hold], NOW) is expected(status, hold)


@pytest.mark.parametrize(("status", "hold"), CASES)
def test_the_buckets_count_as_the_rule_says(status, hold):
    bucket = bucket_of(status, HOLDS[hold])
    assert bucket_counts(bucket, HOLDS[hold], NOW) is takes_seats(status, HOLDS[hold], NOW)


@pytest.mark.parametrize(("status", "hold"), CASES)
def test_order_takes_seats_agrees_with_the_rule(status, hold):
    order = Order(status=status, hold_expires_at=HOLDS[hold])
    assert order.takes_seats(NOW) is takes_seats(status, HOLDS[hold], NOW)


@pytest.mark.django_db
def test_the_sql_bucket_is_the_python_bucket():
    """The triggers' bucket expression, evaluated by the database for every case."""
    hold_type = "timestamp with time zone" if connection.vendor == "postgresql" else "text"
    adapt = connection.ops.adapt_datetimefield_value
    # With parameters, a literal % (SQLite's strftime('%s', …)) is written %%.
    bucket = bucket_sql(connection.vendor, "o").replace("%", "%%")
    for status, hold in CASES:
        moment = HOLDS[hold]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {bucket} FROM"
                f" (SELECT %s AS status, CAST(%s AS {hold_type}) AS hold_expires_at) o",
                [status, adapt(moment) if moment else None],
            )
            (in_sql,) = cursor.fetchone()
        assert in_sql == bucket_of(status, moment), (status, hold)


@pytest.mark.django_db
def test_stored_orders_are_counted_as_the_rule_says():
    """One order of one ticket per case, each of its own ticket type: the ORM filter,
    the counters the triggers keep and the fast reads take the same ones."""
    conference = make_conference()
    ticket_types = {}
    for number, (status, hold) in enumerate(STORABLE):
        ticket_type = make_ticket_type(conference, slug=f"case-{number}")
        ticket_types[ticket_type.pk] = (status, hold)
        order = Order.objects.create(
            conference=conference,
            status=status,
            email="rule@example.com",
            name="Rule",
            reference=f"RULE-{number:012d}",
            hold_expires_at=HOLDS[hold],
        )
        OrderLineItem.objects.create(
            order=order, ticket_type=ticket_type, quantity=1, description=ticket_type.name
        )
    taking = {pk for pk, case in ticket_types.items() if takes_seats(case[0], HOLDS[case[1]], NOW)}
    assert taking == {pk for pk, case in ticket_types.items() if expected(*case)}

    filtered = OrderLineItem.objects.filter(order__conference=conference).filter(taking_seats(NOW))
    assert set(filtered.values_list("ticket_type_id", flat=True)) == taking
    orders = Order.objects.filter(conference=conference).filter(taking_seats(NOW, prefix=""))
    assert set(orders.values_list("lines__ticket_type_id", flat=True)) == taking

    totals = seat_totals(conference, NOW)
    counted = {item for (target, item), seats in totals.items() if target == TICKET and any(seats)}
    assert counted == taking
    assert venue_seats_taken(conference, NOW) == len(taking)
