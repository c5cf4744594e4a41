"""The poll interval: fast while seats are moving, the quiet interval after a quiet spell."""

from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.api import public_conference
from capacity.models import BlockedSeats
from capacity.polling import next_poll_seconds, public_poll_seconds
from conference.models import Conference
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_entry, make_order, make_ticket_type

NOW = timezone.now()


@pytest.fixture(autouse=True)
def intervals(settings):
    settings.SEATKEEPER_QUIET_AFTER_SECONDS = 60
    settings.SEATKEEPER_QUIET_POLL_SECONDS = 30
    return settings


@pytest.mark.parametrize(
    ("seconds_ago", "expected"),
    [(0, 2), (1, 2), (59, 2), (59.9, 2), (60, 30), (61, 30), (3600, 30)],
)
def test_fast_within_the_quiet_period_then_quiet(seconds_ago, expected):
    last = NOW - timedelta(seconds=seconds_ago)
    assert next_poll_seconds(last, fast=2, now=NOW) == expected


def test_nothing_ever_changed_is_quiet():
    assert next_poll_seconds(None, fast=5, now=NOW) == 30


def test_the_quiet_interval_is_never_faster_than_the_fast_one(settings):
    settings.SEATKEEPER_QUIET_POLL_SECONDS = 3
    assert next_poll_seconds(NOW - timedelta(hours=1), fast=5, now=NOW) == 5


def test_the_settings_set_the_pace(settings):
    settings.SEATKEEPER_QUIET_AFTER_SECONDS = 5
    settings.SEATKEEPER_QUIET_POLL_SECONDS = 12
    assert next_poll_seconds(NOW - timedelta(seconds=4), fast=1, now=NOW) == 1
    assert next_poll_seconds(NOW - timedelta(seconds=6), fast=1, now=NOW) == 12


def _last_change(conference):
    return public_conference(conference.slug, with_changes=True).last_change


@pytest.mark.django_db
def test_last_change_is_the_latest_order_change(django_assert_num_queries):
    conference = make_conference()
    regular = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    later = NOW + timedelta(minutes=5)
    Order.objects.filter(pk=order.pk).update(updated_at=later)
    with django_assert_num_queries(1):
        assert _last_change(conference) == later


@pytest.mark.django_db
@pytest.mark.parametrize("what", ["conference", "blocked seats", "waiting-list entry"])
def test_last_change_follows_the_conference_blocks_and_the_waiting_list(what):
    conference = make_conference()
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    later = NOW + timedelta(minutes=5)
    if what == "conference":
        Conference.objects.filter(pk=conference.pk).update(updated_at=later)
    elif what == "blocked seats":
        block = BlockedSeats.objects.create(conference=conference, label="crew", quantity=2)
        BlockedSeats.objects.filter(pk=block.pk).update(updated_at=later)
    else:
        entry = make_entry(conference, regular)
        WaitingListEntry.objects.filter(pk=entry.pk).update(updated_at=later)
    assert _last_change(conference) == later


@pytest.mark.django_db
def test_last_change_is_read_only_when_asked_and_leaves_the_version_alone():
    conference = make_conference()
    make_order(conference, Order.Status.PAID, tickets=[(make_ticket_type(conference), 1)])
    plain = public_conference(conference.slug)
    with_changes = public_conference(conference.slug, with_changes=True)
    assert plain.last_change is None
    assert with_changes.last_change is not None
    assert plain.version == with_changes.version


@pytest.mark.django_db
def test_attendees_slow_down_once_the_conference_is_quiet(settings):
    settings.SEATKEEPER_PUBLIC_POLL_SECONDS = 5
    conference = make_conference()
    regular = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    changed = _last_change(conference)
    assert public_poll_seconds(changed, now=changed + timedelta(seconds=10)) == 5
    assert public_poll_seconds(changed, now=changed + timedelta(seconds=61)) == 30
