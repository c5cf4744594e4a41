"""``locked_conference``: the lock, the snapshot under it, and what it does for every change."""

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from capacity.locking import locked_conference, pausing_before_first_write
from capacity.models import BlockedSeats
from capacity.services import get_availability
from conference.models import Conference
from registration.models import Order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def field_values(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_the_locked_conference_is_read_from_the_database_not_from_a_stale_copy():
    conference = make_conference(total_capacity=40)
    Conference.objects.filter(pk=conference.pk).update(total_capacity=12)
    with locked_conference(conference) as locked:
        assert locked.conference.total_capacity == 12
        assert locked.availability is None
    with locked_conference(conference.pk) as locked:
        assert field_values(locked.conference) == field_values(
            Conference.objects.get(pk=conference.pk)
        )


def test_locking_an_unknown_conference_raises_does_not_exist():
    with pytest.raises(Conference.DoesNotExist), locked_conference(987654):
        pass


def test_the_lock_with_its_snapshot_equals_the_lock_then_the_snapshot():
    conference = make_conference(total_capacity=40)
    ticket_type = make_ticket_type(conference, slug="a", total_quantity=10)
    make_addon(conference, slug="dinner", total_quantity=5)
    make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket_type, 2)])  # a live hold
    with locked_conference(conference.pk, with_availability=True) as locked:
        availability = locked.availability
        expected = get_availability(locked.conference, now=availability.computed_at)
    assert field_values(locked.conference) == field_values(Conference.objects.get(pk=conference.pk))
    assert availability == expected
    assert (availability.sold, availability.held, availability.remaining) == (3, 2, 35)


def test_under_the_lock_seats_are_counted_as_of_before_the_wait_and_the_rest_after(
    monkeypatch,
):
    """Holds lapsing while an order waits for the lock still count (never fewer
    seats taken than there are); the sale window is judged when the lock is granted."""
    conference = make_conference(total_capacity=40)
    before_wait = timezone.now()
    granted = before_wait + timedelta(seconds=30)
    ticket_type = make_ticket_type(
        conference, slug="a", available_until=before_wait + timedelta(seconds=10)
    )
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket_type, 2)])
    Order.objects.filter(pk=order.pk).update(hold_expires_at=before_wait + timedelta(seconds=20))
    moments = iter([before_wait, granted])

    class Clock:
        @staticmethod
        def now():
            return next(moments)

    monkeypatch.setattr("capacity.locking.timezone", Clock)
    with locked_conference(conference, with_availability=True) as locked:
        availability = locked.availability
    assert availability.held == 2  # the hold lapsing during the wait
    assert availability.computed_at == granted
    assert availability.ticket_type(ticket_type.pk).sale_state == "ended"


def test_a_raw_write_under_the_lock_is_seen_by_the_next_public_answer(settings):
    """No step for the caller: the triggers move the version the cache is keyed by."""
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 60
    conference = make_conference(total_capacity=10)
    url = f"/api/conferences/{conference.slug}/availability"
    client = Client()
    assert client.get(url).json()["remaining"] == 10
    with locked_conference(conference) as locked:
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {BlockedSeats._meta.db_table}"
                " (conference_id, ticket_type_id, label, quantity, created_at, updated_at)"
                " VALUES (%s, NULL, %s, %s, %s, %s)",
                [locked.conference.pk, "speakers", 4, timezone.now(), timezone.now()],
            )
    assert client.get(url).json()["remaining"] == 6


def test_the_first_write_waits_for_the_test_pause_and_reads_do_not(settings):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.2
    conference = make_conference()
    with locked_conference(conference, with_availability=True) as locked:
        started = time.monotonic()
        get_availability(locked.conference)
        read = time.monotonic() - started
        Conference.objects.filter(pk=locked.conference.pk).update(name="A")
        first_write = time.monotonic() - started - read
        started = time.monotonic()
        Conference.objects.filter(pk=locked.conference.pk).update(name="B")
        second_write = time.monotonic() - started
    assert read < 0.2 <= first_write
    assert second_write < 0.2


def test_the_pause_needs_no_lock_either(settings):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.2
    conference = make_conference()
    with pausing_before_first_write() as watcher:
        assert watcher.wrote is False
        started = time.monotonic()
        Conference.objects.filter(pk=conference.pk).update(name="A")
        assert time.monotonic() - started >= 0.2
    assert watcher.wrote is True


@pytest.mark.django_db(transaction=True)
def test_a_hold_commits_without_waiting_for_the_disk_until_the_change_says_it_is_a_sale(
    settings,
):
    settings.SEATKEEPER_ASYNC_HOLD_COMMIT = True
    conference = make_conference()
    on_postgresql = connection.vendor == "postgresql"

    def synchronous_commit():
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    with locked_conference(conference, holds_only=True) as locked:
        assert locked.asynchronous_commit is on_postgresql
        if on_postgresql:
            assert synchronous_commit() == "off"
        locked.commit_durably()
        assert locked.asynchronous_commit is False
        if on_postgresql:
            assert synchronous_commit() == "on"
    with locked_conference(conference) as locked:
        assert locked.asynchronous_commit is False
    with transaction.atomic(), locked_conference(conference, holds_only=True) as locked:
        assert locked.asynchronous_commit is False  # a caller's transaction encloses it
