"""The seat counters, sold and held, equal the recount of the lines after every way of writing them.

Each test changes orders through a service or straight through the ORM, then
checks three things against the naive aggregate (the counting rule written out
over every line): the stored counters of every bucket, the fast per-item totals,
and the venue count that ``get_global_sold_count`` answers, the last two at
several moments around now.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from capacity.counters import (
    ADDON,
    SOLD,
    TICKET,
    VENUE,
    drop_seat_triggers,
    expiry_minute,
    naive_seat_totals,
    naive_venue_seats_taken,
    recount_seat_counters,
    seat_totals,
    seat_totals_query,
    seat_triggers_installed,
    stored_seat_counters,
    venue_seats_taken,
    venue_seats_taken_query,
)
from capacity.models import SeatCounter
from capacity.services import get_availability, get_global_remaining, get_global_sold_count
from registration import services
from registration.models import Order, OrderLineItem, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


def assert_counts_match_lines(conference):
    now = timezone.now()
    assert stored_seat_counters(conference) == recount_seat_counters(conference)
    assert get_global_sold_count(conference) == naive_venue_seats_taken(conference, now)
    for moment in (now, now + timedelta(minutes=1), now + timedelta(minutes=20), now - MINUTE):
        fast = seat_totals(conference, moment)
        assert {key: value for key, value in fast.items() if value != (0, 0)} == (
            naive_seat_totals(conference, moment)
        )
        assert venue_seats_taken(conference, moment) == naive_venue_seats_taken(conference, moment)


def counter(conference, target, item_id=0, *, minute=SOLD):
    """The stored seats of one target in one bucket: sold by default."""
    row = SeatCounter.objects.filter(
        conference=conference, expires_minute=minute, target=target, item_id=item_id
    ).first()
    return row.seats if row else 0


def held_counter(conference, target, item_id=0):
    """The stored held seats of one target, over every held bucket."""
    rows = SeatCounter.objects.filter(
        conference=conference, expires_minute__gt=0, target=target, item_id=item_id
    )
    return sum(rows.values_list("seats", flat=True))


def bucket(order):
    order.refresh_from_db()
    return expiry_minute(order.hold_expires_at)


@pytest.fixture
def venue():
    conference = make_conference(total_capacity=50)
    return conference, make_ticket_type(conference), make_addon(conference)


def place(conference, ticket, quantity=2, addons=None):
    return services.place_order(
        conference=conference,
        email="ada@example.com",
        name="Ada",
        tickets={ticket: quantity},
        addons=addons,
    )


# --- service paths -------------------------------------------------------------------


def test_a_placed_order_holds_its_seats_in_the_bucket_of_its_expiry_minute(venue):
    conference, ticket, addon = venue
    order = place(conference, ticket, 3, {addon: 1})

    minute = bucket(order)
    assert counter(conference, VENUE) == 0
    assert counter(conference, VENUE, minute=minute) == 3
    assert counter(conference, TICKET, ticket.pk, minute=minute) == 3
    assert counter(conference, ADDON, addon.pk, minute=minute) == 1
    assert get_global_sold_count(conference) == 3
    assert get_availability(conference).held == 3
    assert_counts_match_lines(conference)


def test_a_free_order_is_counted_as_sold_at_once(venue):
    conference, _, _ = venue
    free = make_ticket_type(conference, price=Decimal("0"))
    order = place(conference, free, 4)

    assert order.status == Order.Status.PAID
    assert counter(conference, VENUE) == 4
    assert counter(conference, TICKET, free.pk) == 4
    assert_counts_match_lines(conference)


def test_paying_moves_seats_and_addons_into_the_counters(venue):
    conference, ticket, addon = venue
    order = place(conference, ticket, 2, {addon: 3})
    services.mark_paid(order)

    assert counter(conference, VENUE) == 2
    assert counter(conference, TICKET, ticket.pk) == 2
    assert counter(conference, ADDON, addon.pk) == 3
    assert held_counter(conference, VENUE) == held_counter(conference, ADDON, addon.pk) == 0
    assert get_availability(conference).sold == 2
    assert_counts_match_lines(conference)


def test_late_payment_of_a_lapsed_hold_is_counted(venue):
    conference, ticket, _ = venue
    order = place(conference, ticket, 5)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    assert get_global_sold_count(conference) == 0
    assert counter(conference, VENUE, minute=bucket(order)) == 5  # lapsed, not yet expired

    services.mark_paid(order)

    assert counter(conference, VENUE) == 5
    assert held_counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_late_payment_of_an_expired_order_is_counted(venue):
    conference, ticket, _ = venue
    order = place(conference, ticket, 2)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    assert services.expire_holds() == 1
    assert not SeatCounter.objects.filter(expires_minute__gt=0).exists()

    services.mark_paid(order)

    assert counter(conference, VENUE) == 2
    assert_counts_match_lines(conference)


def test_a_refused_late_payment_leaves_the_counters_alone(venue):
    conference, ticket, _ = venue
    order = place(conference, ticket, 5)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 48)])

    with pytest.raises(ValidationError, match="no longer free"):
        services.mark_paid(order)

    assert counter(conference, VENUE) == 48
    assert held_counter(conference, VENUE) == 5  # the lapsed hold, until it is expired
    assert get_global_sold_count(conference) == 48
    assert_counts_match_lines(conference)


@pytest.mark.parametrize("undo", ["cancel", "refund"])
def test_cancelling_or_refunding_a_paid_order_takes_its_seats_off(venue, undo):
    conference, ticket, addon = venue
    order = services.mark_paid(place(conference, ticket, 3, {addon: 2}))
    if undo == "cancel":
        services.cancel_order(order)
    else:
        services.refund_order(order)

    assert counter(conference, VENUE) == 0
    assert counter(conference, ADDON, addon.pk) == 0
    assert get_global_remaining(conference) == 50
    assert_counts_match_lines(conference)


def test_a_partial_refund_keeps_the_seats(venue):
    conference, ticket, _ = venue
    order = services.mark_paid(place(conference, ticket, 3))
    services.refund_order(order, partial=True)

    assert counter(conference, VENUE) == 3
    services.refund_order(order)
    assert counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_cancelling_a_pending_order_frees_its_hold(venue):
    conference, ticket, _ = venue
    order = place(conference, ticket, 3)
    services.cancel_order(order)

    assert get_global_sold_count(conference) == 0
    assert counter(conference, VENUE) == 0
    assert held_counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_expiring_and_extending_holds_keep_counts_true(venue):
    conference, ticket, _ = venue
    order = place(conference, ticket, 4)
    placed_in = bucket(order)
    services.extend_hold(order, minutes=10)

    assert bucket(order) == placed_in + 10
    assert counter(conference, VENUE, minute=placed_in) == 0
    assert counter(conference, TICKET, ticket.pk, minute=placed_in + 10) == 4
    assert_counts_match_lines(conference)

    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    services.expire_holds()
    assert get_global_sold_count(conference) == 0
    assert held_counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)

    services.extend_hold(order, minutes=10)

    assert get_global_sold_count(conference) == 4
    assert counter(conference, VENUE) == 0
    assert counter(conference, VENUE, minute=bucket(order)) == 4
    assert_counts_match_lines(conference)


def test_expire_holds_deletes_the_empty_held_counters_only(venue):
    conference, ticket, _ = venue
    lapsing = place(conference, ticket, 3)
    services.mark_paid(place(conference, ticket, 2))
    live = services.extend_hold(place(conference, ticket, 1), minutes=30)
    Order.objects.filter(pk=lapsing.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=5)
    )
    assert SeatCounter.objects.filter(expires_minute__gt=0, seats=0).exists()

    assert services.expire_holds() == 1

    held_rows = SeatCounter.objects.filter(conference=conference, expires_minute__gt=0)
    assert set(held_rows.values_list("expires_minute", "target", "seats")) == {
        (bucket(live), VENUE, 1),
        (bucket(live), TICKET, 1),
    }
    assert counter(conference, VENUE) == 2
    assert get_global_sold_count(conference) == 3
    assert_counts_match_lines(conference)


def test_a_comp_order_is_counted(venue):
    conference, ticket, _ = venue
    services.issue_comp_order(
        conference=conference,
        email="speaker@example.com",
        name="Speaker",
        tickets={ticket: 60},
        reason="Keynote speakers",
        user=make_user(is_staff=True, is_superuser=True),
    )

    assert counter(conference, VENUE) == 60
    assert get_global_remaining(conference) == 0
    assert_counts_match_lines(conference)


# --- ORM writes that bypass the services ------------------------------------------------


def test_orders_built_with_the_orm_are_counted(venue):
    conference, ticket, addon = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)], addons=[(addon, 2)])
    make_order(conference, Order.Status.PARTIALLY_REFUNDED, tickets=[(ticket, 4)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 5)])
    make_order(conference, Order.Status.CANCELLED, tickets=[(ticket, 6)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket, 7)])

    assert counter(conference, VENUE) == 7
    assert counter(conference, ADDON, addon.pk) == 2
    assert held_counter(conference, VENUE) == 12  # the lapsed hold stays until it is expired
    assert get_global_sold_count(conference) == 12
    assert_counts_match_lines(conference)


def test_status_changed_with_save_and_with_queryset_update(venue):
    conference, ticket, _ = venue
    first = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])
    second = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 4)])

    first.status = Order.Status.PAID
    first.save()
    assert counter(conference, VENUE) == 3
    assert held_counter(conference, VENUE) == 4
    Order.objects.filter(pk=second.pk).update(status=Order.Status.PAID)
    assert counter(conference, VENUE) == 7
    assert held_counter(conference, VENUE) == 0
    Order.objects.filter(conference=conference).update(status=Order.Status.PARTIALLY_REFUNDED)
    assert counter(conference, VENUE) == 7
    Order.objects.filter(conference=conference).update(status=Order.Status.REFUNDED)
    assert counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_a_stale_order_saved_whole_cannot_undo_the_counters(venue):
    conference, ticket, _ = venue
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])
    stale = Order.objects.get(pk=order.pk)
    services.mark_paid(order)

    stale.name = "Renamed"
    stale.save()  # writes status=pending again, as a stale admin form would

    assert counter(conference, VENUE) == 0
    assert counter(conference, VENUE, minute=bucket(order)) == 3
    assert_counts_match_lines(conference)


def test_hold_expiry_changed_with_queryset_update_moves_the_seats(venue):
    conference, ticket, addon = venue
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)], addons=[(addon, 1)])
    other = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    start = timezone.now().replace(second=0, microsecond=0) + 20 * MINUTE
    minute = expiry_minute(start)

    Order.objects.filter(conference=conference).update(hold_expires_at=start)
    assert counter(conference, VENUE, minute=minute) == 5
    last_moment = start + timedelta(seconds=59, microseconds=999_999)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=last_moment)
    assert counter(conference, VENUE, minute=minute) == 5
    Order.objects.filter(pk=order.pk).update(hold_expires_at=start + MINUTE)
    assert counter(conference, VENUE, minute=minute) == 2
    assert counter(conference, VENUE, minute=minute + 1) == 3
    assert counter(conference, ADDON, addon.pk, minute=minute + 1) == 1
    Order.objects.filter(conference=conference).update(hold_expires_at=start + 2 * MINUTE)
    assert counter(conference, TICKET, ticket.pk, minute=minute + 2) == 5
    assert held_counter(conference, VENUE) == 5
    assert_counts_match_lines(conference)
    Order.objects.filter(pk=other.pk).update(hold_expires_at=timezone.now() - MINUTE)
    assert get_global_sold_count(conference) == 3
    assert_counts_match_lines(conference)


def test_lines_inserted_changed_moved_and_deleted(venue):
    conference, ticket, addon = venue
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    other = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    line = paid.lines.get()

    line.quantity = 5
    line.save()
    assert counter(conference, VENUE) == 6
    OrderLineItem.objects.filter(pk=line.pk).update(quantity=2)
    assert counter(conference, VENUE) == 3
    OrderLineItem.objects.filter(pk=line.pk).update(order=pending)
    assert counter(conference, VENUE) == 1
    assert counter(conference, VENUE, minute=bucket(pending)) == 3
    assert get_global_sold_count(conference) == 4
    pending_line = pending.lines.exclude(pk=line.pk).get()
    pending_line.quantity = 4
    pending_line.save()
    assert counter(conference, TICKET, ticket.pk, minute=bucket(pending)) == 6
    pending_line.delete()
    assert counter(conference, VENUE, minute=bucket(pending)) == 2
    OrderLineItem.objects.filter(pk=line.pk).update(order=other)
    assert counter(conference, VENUE) == 3
    OrderLineItem.objects.filter(pk=line.pk).update(ticket_type=None, addon=addon, kind="addon")
    assert counter(conference, VENUE) == 1
    assert counter(conference, ADDON, addon.pk) == 2
    OrderLineItem.objects.bulk_create(
        [OrderLineItem(order=other, kind="ticket", ticket_type=ticket, quantity=4)]
    )
    assert counter(conference, VENUE) == 5
    other.lines.all().delete()
    assert counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_deleting_orders_takes_their_seats_off(venue):
    conference, ticket, _ = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 4)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-3, tickets=[(ticket, 5)])
    kept = make_order(conference, Order.Status.PAID, tickets=[(ticket, 2)])
    held = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    Order.objects.exclude(pk__in=[kept.pk, held.pk]).filter(conference=conference).delete()

    assert counter(conference, VENUE) == 2
    assert held_counter(conference, VENUE) == 1
    kept.delete()
    held.delete()
    assert counter(conference, VENUE) == 0
    assert held_counter(conference, VENUE) == 0
    assert_counts_match_lines(conference)


def test_moving_an_order_to_another_conference_moves_its_seats(venue):
    conference, ticket, _ = venue
    elsewhere = make_conference()
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    Order.objects.filter(pk__in=[order.pk, pending.pk]).update(conference=elsewhere)

    assert counter(conference, VENUE) == 0
    assert counter(elsewhere, VENUE) == 3
    assert held_counter(conference, VENUE) == 0
    assert counter(elsewhere, VENUE, minute=bucket(pending)) == 2
    assert_counts_match_lines(conference)
    assert_counts_match_lines(elsewhere)


def test_deleting_a_ticket_type_keeps_its_seats_taken(venue):
    conference, ticket, addon = venue
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)], addons=[(addon, 1)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    TicketType.objects.filter(pk=ticket.pk).delete()

    assert OrderLineItem.objects.filter(ticket_type=None, kind="ticket").count() == 2
    assert counter(conference, VENUE) == 3
    assert counter(conference, TICKET, ticket.pk) == 0
    assert held_counter(conference, VENUE) == 2
    assert held_counter(conference, TICKET, ticket.pk) == 0
    assert get_global_sold_count(conference) == 5
    assert get_global_remaining(conference) == 45
    addon.delete()
    assert counter(conference, ADDON, addon.pk) == 0
    assert_counts_match_lines(conference)


# --- all or nothing ---------------------------------------------------------------------


@pytest.fixture
def free_venue(transactional_db):
    conference = make_conference(total_capacity=10)
    free = make_ticket_type(conference, price=Decimal("0"))
    make_order(conference, Order.Status.PAID, tickets=[(free, 2)])
    return conference, free


def fail_after_writing_lines(monkeypatch, failure):
    """Make place_order's line insert succeed, then fail before the transaction commits."""
    real_write = services._write_order

    def write_then_fail(order, lines, **kwargs):
        real_write(order, lines, **kwargs)
        assert order.pk and OrderLineItem.objects.filter(order=order).count() == len(lines)
        failure()

    monkeypatch.setattr(services, "_write_order", write_then_fail)


def test_an_error_after_the_counter_moved_rolls_everything_back(free_venue, monkeypatch):
    conference, free = free_venue
    seen = {}

    def boom():
        seen["counter inside the transaction"] = counter(conference, VENUE)
        raise RuntimeError("payment provider exploded")

    fail_after_writing_lines(monkeypatch, boom)
    with pytest.raises(RuntimeError, match="exploded"):
        place(conference, free, 3)

    assert seen["counter inside the transaction"] == 5
    assert Order.objects.count() == 1
    assert counter(conference, VENUE) == 2
    assert_counts_match_lines(conference)


def test_a_connection_killed_mid_order_leaves_nothing_behind(free_venue, monkeypatch):
    conference, free = free_venue

    def kill_connection():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        else:
            connection.connection.close()

    fail_after_writing_lines(monkeypatch, kill_connection)
    with pytest.raises(DatabaseError):
        place(conference, free, 3)
    connection.close()

    assert Order.objects.count() == 1
    assert counter(conference, VENUE) == 2
    assert_counts_match_lines(conference)


# --- the query plan ----------------------------------------------------------------------


def plan(sql, params):
    explain = "EXPLAIN" if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN"
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute(f"{explain} {sql}", params)
        return "\n".join(" ".join(str(part) for part in row) for row in cursor.fetchall())


def test_the_seat_check_reads_live_holds_through_the_partial_index(venue):
    conference, ticket, _ = venue
    now = timezone.now()
    orders = Order.objects.bulk_create(
        [
            Order(
                conference=conference,
                reference=f"PLAN-{n:08d}",
                email="x@example.com",
                name="X",
                status=Order.Status.PAID if n % 50 else Order.Status.PENDING,
                hold_expires_at=now + timedelta(minutes=n % 3 - 1),
            )
            for n in range(3000)
        ]
    )
    OrderLineItem.objects.bulk_create(
        [
            OrderLineItem(order=order, kind="ticket", ticket_type=ticket, quantity=1)
            for order in orders
        ]
    )

    assert "order_live_hold_idx" in plan(*seat_totals_query(conference, now))
    assert "order_live_hold_idx" in plan(*venue_seats_taken_query(conference, now))
    assert counter(conference, VENUE) == 2940
    assert_counts_match_lines(conference)


# --- the migration --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_counts_sold_and_held_seats_of_an_existing_database():
    conference = make_conference()
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    # What `migrate` does first (pre_migrate): SQLite cannot rebuild a table
    # while a trigger on another one reads it.
    drop_seat_triggers(connection)
    target = [("registration", "0003_order_conf_updated_idx")]
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    # The models as they were then: today's have columns that table lacks.
    old = executor.loader.project_state(target).apps
    try:
        # Written with no trigger counting them: the migration must recount.
        for status, quantity in ((Order.Status.PAID, 4), (Order.Status.PENDING, 5)):
            order = old.get_model("registration", "Order").objects.create(
                conference_id=conference.pk,
                status=status,
                email="old@example.com",
                name="Old",
                reference=f"OLD-{status}",
                hold_expires_at=timezone.now() + timedelta(minutes=15),
            )
            old.get_model("registration", "OrderLineItem").objects.create(
                order_id=order.pk,
                kind=OrderLineItem.Kind.TICKET,
                ticket_type_id=ticket.pk,
                quantity=quantity,
                description=ticket.name,
            )
    finally:
        call_command("migrate", verbosity=0)

    assert seat_triggers_installed()
    assert counter(conference, VENUE) == 7
    assert held_counter(conference, VENUE) == 7
    assert_counts_match_lines(conference)


def test_a_hold_dated_before_1970_lands_in_the_same_minute_in_sql_and_python(venue):
    """SQLite's integer division truncates towards zero; the triggers must floor."""
    conference, ticket_type, _ = venue
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket_type, 2)])
    before_1970 = datetime(1969, 12, 31, 23, 59, 30, tzinfo=UTC)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=before_1970)
    assert bucket(order) == -1
    assert counter(conference, VENUE, minute=-1) == 2
    assert counter(conference, VENUE) == 0  # nothing sold
    assert_counts_match_lines(conference)
