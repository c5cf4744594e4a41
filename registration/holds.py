"""A pending order's hold: lengthened, or turned into a wait for a bank transfer.

Both take the conference lock, re-read the order, accept only a PENDING or
EXPIRED one, and re-check a hold that lapsed like a late payment: its seats
must still be free (``_unpaid_under_lock``).
"""

from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity.locking import locked_conference

from .models import Order
from .rules import retake_seats

# Longest extension of a hold, in minutes.
MAX_EXTENSION = 60 * 24 * 30


@contextmanager
def _unpaid_under_lock(order, refusal):
    """Under the conference lock, ``order`` re-read and still unpaid: yields
    (locked conference, now, whether its hold is live).

    Refuses with ValidationError anything but a PENDING or EXPIRED order
    (``refusal``, translated, formatted with the order's ``reference`` and ``status``), and
    a lapsed hold whose seats are no longer free.
    """
    with locked_conference(order.conference_id) as locked:
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                refusal
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        now = timezone.now()
        live = order.hold_is_live(now)
        if not live:
            retake_seats(locked.conference, order, now)
        yield locked.conference, now, live


def _check_extension(minutes):
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        minutes = None
    if minutes is None or not 1 <= minutes <= MAX_EXTENSION:
        raise ValidationError(_("Extend a hold by 1 minute to 30 days."))


def extend_hold(order, *, minutes=None) -> Order:
    """Give a pending (or expired) order ``minutes`` more to pay (default: the
    conference's ``hold_minutes``).

    A live hold is lengthened; a lapsed one is re-checked like a late payment
    and refused with ValidationError when its seats are gone.
    """
    if minutes is not None:
        _check_extension(minutes)
    refusal = _("Only pending orders have a hold; %(reference)s is %(status)s.")
    with _unpaid_under_lock(order, refusal) as (conference, now, live):
        if minutes is None:
            minutes = conference.hold_minutes
            _check_extension(minutes)
        if live:
            order.hold_expires_at += timedelta(minutes=minutes)
        else:
            order.hold_expires_at = now + timedelta(minutes=minutes)
        order.status = Order.Status.PENDING
        order.save(update_fields=["status", "hold_expires_at", "updated_at"])
        return order


def choose_bank_transfer(order) -> Order:
    """Record that the buyer pays ``order`` by bank transfer and hold its seats for
    ``Conference.bank_transfer_days`` days from now.

    Under the conference lock. A hold already longer is kept; a lapsed one is
    re-checked like a late payment and refused with ValidationError when its
    seats are gone. Only pending (or expired) orders can choose.
    """
    refusal = _("Order %(reference)s is %(status)s; there is nothing to transfer.")
    with _unpaid_under_lock(order, refusal) as (conference, now, live):
        deadline = now + timedelta(days=conference.bank_transfer_days)
        if live and order.hold_expires_at > deadline:
            deadline = order.hold_expires_at
        order.status = Order.Status.PENDING
        order.hold_expires_at = deadline
        order.payment_provider = "manual"
        order.save(update_fields=["status", "hold_expires_at", "payment_provider", "updated_at"])
        return order
