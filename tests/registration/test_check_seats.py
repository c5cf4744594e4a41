"""``manage.py check_seats`` finds counters that disagree with their lines and repairs them."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from capacity.services import get_global_remaining, get_global_sold_count
from registration.counters import drop_seat_triggers, seat_triggers_installed
from registration.models import Order, SeatCounter
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

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


def test_clean_counters_pass(sold):
    assert "All seat counters match their lines (3 with seats)" in check_seats()


def test_a_corrupted_counter_is_reported_then_repaired(sold):
    conference, ticket, _ = sold
    SeatCounter.objects.filter(conference=conference, target="venue").update(seats=F("seats") + 5)
    assert get_global_sold_count(conference) == 12  # the corruption is visible to buyers

    with pytest.raises(CommandError, match="1 seat counter") as refused:
        check_seats()
    assert refused.value.returncode == 1

    out = check_seats("--fix")
    assert "Repaired conference" in out and "counter says 9, lines say 4 (+5)" in out
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
