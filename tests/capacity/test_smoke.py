from capacity.services import get_global_remaining, get_global_sold_count
from registration.models import Order
from tests.factories import make_order, make_ticket_type


def test_paid_and_live_pending_take_seats_expired_does_not(conference):
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket, 5)])
    assert get_global_sold_count(conference) == 5
    assert get_global_remaining(conference) == 95
