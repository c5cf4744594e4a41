"""A pending order's hold: lengthened, or turned into a wait for a bank transfer.

Both take the conference lock, re-read the order, accept only a PENDING or
EXPIRED one, and re-check a hold that lapsed like a new hold: its seats must
still be free, and its buyer within the limit on held seats
(``_unpaid_under_lock``). A moved deadline earns a new transfer reminder.
"""

from contextlib import contextmanager
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity.availability import get_availability
from capacity.locking import locked_conference

from .models import Order
from .rules import check_buyer_limit, lines_of, retake_seats

# Longest extension of a hold, in minutes.
MAX_EXTENSION = 60 * 24 * 30


@contextmanager
def _unpaid_under_lock(order, refusal):
    """Under the conference lock, ``order`` re-read and still unpaid: yields
    (locked conference, now, whether its hold is live).

    Refuses with ValidationError anything but a PENDING or EXPIRED order
    (``refusal``, translated, formatted with the order's ``reference`` and ``status``), a
    lapsed hold whose seats are no longer free, and one that would give its buyer
    more held seats than ``max_held_seats_per_buyer``.
    """
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                refusal
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        now = timezone.now()
        live = order.hold_is_live(now)
        if not live:
            availability, lines = get_availability(conference, now=now), lines_of(order)
            retake_seats(conference, order, now, availability=availability, lines=lines)
            check_buyer_limit(conference, availability, order.email, lines)
        yield conference, now, live


def _save_deadline(order, *fields):
    """Save a pending order's new deadline (and ``fields``); a bank transfer's
    reminder is due again before it."""
    order.status = Order.Status.PENDING
    order.transfer_reminder_sent_at = None
    order.save(
        update_fields=[
            "status",
            "hold_expires_at",
            "transfer_reminder_sent_at",
            *fields,
            "updated_at",
        ]
    )


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
        _save_deadline(order)
        return order


def choose_bank_transfer(order) -> Order:
    """Record that the buyer pays ``order`` by bank transfer and hold its seats for
    ``Conference.bank_transfer_days`` days from now.

    Under the conference lock. A hold already longer is kept, and so is the
    deadline of a live hold that chose bank transfer before: choosing again
    cannot hold seats for longer. A lapsed hold is re-checked like a new one and
    refused with ValidationError when its seats are gone or its buyer holds too
    many. Only pending (or expired) orders can choose.
    """
    refusal = _("Order %(reference)s is %(status)s; there is nothing to transfer.")
    with _unpaid_under_lock(order, refusal) as (conference, now, live):
        if live and order.payment_provider == "manual":
            return order
        deadline = now + timedelta(days=conference.bank_transfer_days)
        if live and order.hold_expires_at > deadline:
            deadline = order.hold_expires_at
        order.hold_expires_at = deadline
        order.payment_provider = "manual"
        _save_deadline(order, "payment_provider")
        return order
