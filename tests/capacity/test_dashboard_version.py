"""The dashboard's widget versions: cheap (index probes, no pass over the orders), complete."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from capacity.widgets import widget_versions
from registration import services
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db

MINUTE = datetime(2027, 3, 1, 10, 0, 5, tzinfo=UTC)


def dashboard_version(conference, *, now):
    """Every widget's version at ``now``, as the ETag carries them."""
    return widget_versions(conference, now=now).versions


def test_a_placed_order_and_its_payment_each_change_the_version():
    conference = make_conference()
    ticket = make_ticket_type(conference)
    now = timezone.now()
    versions = [dashboard_version(conference, now=now)]
    order = services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={ticket: 1}
    )
    versions.append(dashboard_version(conference, now=now))
    services.mark_paid(order)
    versions.append(dashboard_version(conference, now=now))
    assert len({tuple(sorted(version.items())) for version in versions}) == 3


def test_the_version_is_the_same_for_the_same_data_and_minute():
    conference = make_conference()
    make_order(conference, Order.Status.PAID, tickets=[(make_ticket_type(conference), 1)])
    assert dashboard_version(conference, now=MINUTE) == dashboard_version(
        conference, now=MINUTE + timedelta(seconds=30)
    )


def version_plan(conference):
    """The database's plan for the widget versions' statement, as one string."""
    with CaptureQueriesContext(connection) as captured:
        widget_versions(conference)
    (query,) = captured.captured_queries
    prefix = "EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + query["sql"])
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_the_version_reads_the_orders_through_indexes_not_a_scan():
    conference = make_conference()
    other = make_conference()
    now = timezone.now()
    Order.objects.bulk_create(
        Order(
            conference=conference if n % 4 else other,
            reference=f"BULK-{n:012d}",
            email=f"buyer{n}@example.com",
            name=f"Buyer {n}",
            status=Order.Status.PAID if n % 10 else Order.Status.PENDING,
            hold_expires_at=now + timedelta(minutes=n % 30 - 15),
        )
        for n in range(4000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    plan = version_plan(conference)
    assert "order_conf_updated_idx" in plan, plan
    assert "order_live_hold_idx" in plan, plan
    if connection.vendor == "postgresql":
        assert "Seq Scan on registration_order" not in plan, plan
    else:
        assert "SCAN registration_order" not in plan, plan
