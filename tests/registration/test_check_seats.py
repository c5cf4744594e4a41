"""``manage.py check_seats`` finds counters that disagree with their lines and repairs them."""

from datetime import UTC, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from capacity.counters import drop_seat_triggers, expiry_minute, seat_triggers_installed
from capacity.models import SeatCounter
from capacity.services import get_availability, get_global_remaining, get_global_sold_count
from capacity.waiting import lapse_offers, offer_freed_seats
from registration.models import Order, WaitingListEntry
from registration.services import leave_waiting_list, mark_paid
from tests.factories import make_addon, make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def check_seats(*args):
    out = StringIO()
    call_command("check_seats", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def sold():
    conference = make_conference(slug="pycon", total_capacity=20)
    ticket = make_ticket_type(conference)
    addon = make_addon(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)], addons=[(addon, 2)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])
    return conference, ticket, addon


def hold_expiry(conference):
    return Order.objects.get(conference=conference, status="pending").hold_expires_at


def held_minute(conference):
    return expiry_minute(hold_expiry(conference))


def test_clean_counters_pass(sold):
    # Sold: venue, ticket type, add-on; held: venue and ticket type.
    assert "All seat counters match their lines (5 with seats)" in check_seats()


def test_a_corrupted_counter_is_reported_then_repaired(sold):
    conference, ticket, _ = sold
    SeatCounter.objects.filter(conference=conference, expires_minute=0, target="venue").update(
        seats=F("seats") + 5
    )
    assert get_global_sold_count(conference) == 12  # the corruption is visible to buyers

    with pytest.raises(CommandError, match="1 seat counter") as refused:
        check_seats()
    assert refused.value.returncode == 1

    out = check_seats("--fix")
    assert "Repaired conference" in out and "venue (sold): counter says 9, lines say 4 (+5)" in out
    assert get_global_sold_count(conference) == 7
    assert get_global_remaining(conference) == 13
    assert "All seat counters match" in check_seats()


def test_missing_and_stray_counters_are_repaired(sold):
    conference, ticket, addon = sold
    SeatCounter.objects.filter(conference=conference, target="addon").delete()
    SeatCounter.objects.create(conference=conference, target="ticket", item_id=999_999, seats=3)

    with pytest.raises(CommandError, match="2 seat counter"):
        check_seats("--conference", "pycon")
    check_seats("--fix", "--conference", "pycon")

    assert SeatCounter.objects.get(conference=conference, target="addon").seats == 2
    assert SeatCounter.objects.get(conference=conference, item_id=999_999).seats == 0
    assert "All seat counters match" in check_seats()


def test_a_corrupted_held_counter_is_reported_then_repaired(sold):
    conference, ticket, _ = sold
    minute = held_minute(conference)
    held = SeatCounter.objects.filter(conference=conference, expires_minute=minute)
    held.filter(target="ticket").update(seats=F("seats") - 2)
    held.filter(target="venue").update(seats=F("seats") + 4)
    assert get_global_sold_count(conference) == 11  # the corruption is visible to buyers

    with pytest.raises(CommandError, match="2 seat counter"):
        check_seats()
    out = check_seats("--fix")

    expiring = hold_expiry(conference).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    assert f"ticket {ticket.pk} (held, expiring in minute {expiring} UTC)" in out
    assert "counter says 1, lines say 3 (-2)" in out
    assert "venue (held, expiring in minute" in out and "counter says 7, lines say 3 (+4)" in out
    assert get_global_sold_count(conference) == 7
    assert held.get(target="ticket").seats == 3
    assert "All seat counters match" in check_seats()


def test_a_stray_counter_of_a_lapsed_minute_is_found_and_emptied(sold):
    conference, _, _ = sold
    lapsed = held_minute(conference) - 60
    SeatCounter.objects.create(
        conference=conference, expires_minute=lapsed, target="venue", item_id=0, seats=6
    )
    assert get_global_sold_count(conference) == 7  # a lapsed minute never counts

    with pytest.raises(CommandError, match="1 seat counter"):
        check_seats("--conference", "pycon")
    assert "counter says 6, lines say 0 (+6)" in check_seats("--fix")

    assert SeatCounter.objects.get(conference=conference, expires_minute=lapsed).seats == 0
    assert "All seat counters match" in check_seats()


def test_missing_triggers_are_reported_and_installed(sold):
    drop_seat_triggers()
    assert not seat_triggers_installed()

    with pytest.raises(CommandError, match="triggers are missing"):
        check_seats()
    assert "Installed the missing seat counter triggers" in check_seats("--fix")
    assert seat_triggers_installed()


def test_an_unknown_conference_is_a_clear_error(sold):
    with pytest.raises(CommandError, match="No conference with the slug 'nope'"):
        check_seats("--conference", "nope")


@pytest.fixture
def with_a_line(sold):
    """``sold`` (20 seats, 7 taken) with a waiting list in every state: one offer
    open, one paid, one lapsed, one entry left and one still waiting (too big)."""
    conference, ticket, _ = sold
    entries = [make_entry(conference, ticket, n) for n in (2, 3, 1, 30)]
    left = make_entry(conference, ticket, 4)
    offer_freed_seats(conference)
    open_offer, paid_offer, lapsing_offer, _ = entries
    for entry in entries:
        entry.refresh_from_db()
    mark_paid(paid_offer.order)
    Order.objects.filter(pk=lapsing_offer.order_id).update(
        hold_expires_at=timezone.now() - timedelta(seconds=1)
    )
    lapse_offers(conference)
    leave_waiting_list(left)
    statuses = set(WaitingListEntry.objects.values_list("status", flat=True))
    assert statuses == {"offered", "accepted", "expired", "left", "waiting"}
    return conference, ticket, open_offer


def test_offers_of_the_waiting_list_are_counted_like_any_order(with_a_line):
    conference, _, open_offer = with_a_line

    assert "All seat counters match their lines" in check_seats()
    # 7 as before, 3 paid from the line, 2 held for the open offer.
    assert get_global_sold_count(conference) == 12
    # 30 waited for, more than is free: newcomers get nothing.
    assert get_global_remaining(conference) == 8
    assert get_availability(conference).remaining == 0


def test_a_corrupted_counter_of_an_offer_is_reported_then_repaired(with_a_line):
    conference, ticket, open_offer = with_a_line
    offer = Order.objects.get(pk=open_offer.order_id)
    minute = expiry_minute(offer.hold_expires_at)
    SeatCounter.objects.filter(
        conference=conference, expires_minute=minute, target="ticket"
    ).update(seats=F("seats") + 5)

    with pytest.raises(CommandError, match="1 seat counter"):
        check_seats()
    assert "counter says 7, lines say 2 (+5)" in check_seats("--fix")

    assert "All seat counters match" in check_seats()
    assert get_availability(conference).ticket_type(ticket.pk).held == 3 + 2
