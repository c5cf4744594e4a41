"""Placing, paying, cancelling, refunding and expiring orders; comp orders.

Every function that can make seats scarcer runs its checks and its writes
under ``capacity.locking.locked_conference``, taken before anything is read.
Errors are ``ValidationError`` with a message meant for the person ordering;
when one is raised nothing has been written. The rules an order is checked
against are in ``registration.rules``. Extending a hold and choosing bank
transfer (``registration.holds``), joining and leaving the waiting list
(``registration.waiting``) are importable from here with the rest.
"""

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from capacity.availability import get_availability
from capacity.locking import locked_conference
from capacity.models import CapacityChange, SeatCounter
from capacity.overrides import clean_reason, record_capacity_change
from capacity.waiting import offer_freed_seats, offer_lapsed_seats
from conference.models import Conference

from .emails import confirm_payment_on_commit
from .holds import choose_bank_transfer, extend_hold
from .models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry
from .orders import clean_buyer
from .rules import check_buyer_limit, check_lines, resolve_lines, retake_seats
from .waiting import join_waiting_list, leave_waiting_list

# The services of ``registration.holds`` and ``registration.waiting`` are
# importable from here with the rest: callers know one module for all of them.
__all__ = [
    "cancel_order",
    "choose_bank_transfer",
    "expire_holds",
    "extend_hold",
    "issue_comp_order",
    "join_waiting_list",
    "leave_waiting_list",
    "mark_paid",
    "offer_freed_seats",
    "offer_lapsed_seats",
    "place_order",
    "refund_order",
    "release_order",
]


class OrderRefused(ValidationError):
    """``place_order`` said no. ``availability`` is the snapshot the refusal was
    decided on, taken under the lock, so the page explaining it need not count again."""

    def __init__(self, message, *, availability=None):
        super().__init__(message)
        self.availability = availability


def _write_order(order, lines, *, free=False):
    """Insert a new order and its RequestedLines (at list price or, comp tickets, free)."""
    order.save()
    OrderLineItem.objects.bulk_create(
        [
            OrderLineItem(
                order=order,
                kind=line.kind,
                ticket_type=line.item if line.kind == OrderLineItem.Kind.TICKET else None,
                addon=line.item if line.kind == OrderLineItem.Kind.ADDON else None,
                description=line.item.name,
                quantity=line.quantity,
                unit_price=Decimal("0") if free else line.item.price,
                line_total=Decimal("0") if free else line.item.price * line.quantity,
            )
            for line in lines
        ]
    )


def place_order(*, conference, email, name, tickets, addons=None) -> Order:
    """Hold seats for a new order, or refuse without writing anything.

    ``tickets`` and ``addons`` map a TicketType/AddOn (or its pk) to a quantity.
    The conference lock is taken before any check. The order is PENDING with a
    hold of ``conference.hold_minutes``; an order with a zero total is PAID at once.
    Raises ValidationError naming what is wrong: for the order's contents an
    ``OrderRefused`` carrying the snapshot the checks ran against.
    """
    email, name = clean_buyer(email, name)
    # A new hold may commit without waiting for the disk (``holds_only``); what a
    # crash can cost is written in docs/deploy.md.
    # The buyer's held seats are counted in the snapshot's statement unless the
    # conference as the caller read it has no limit (checked again under the lock).
    no_limit = isinstance(conference, Conference) and not conference.max_held_seats_per_buyer
    with locked_conference(
        conference,
        with_availability=True,
        buyer=None if no_limit else email,
        holds_only=True,
    ) as locked:
        conference, availability = locked.conference, locked.availability
        # One snapshot under the lock serves every check: the ticket types and
        # add-ons in it are the rows the order is resolved against.
        now = availability.computed_at
        try:
            lines = resolve_lines(
                TicketType, conference, tickets, _("ticket type"), availability.ticket_types
            ) + resolve_lines(AddOn, conference, addons, _("add-on"), availability.addons)
            check_lines(conference, lines, now, availability=availability)
            total = sum((line.item.price * line.quantity for line in lines), Decimal("0"))
            if total:
                check_buyer_limit(conference, availability, email, lines)
        except ValidationError as error:
            raise OrderRefused(error.error_list, availability=availability) from None

        order = Order(conference=conference, email=email, name=name, total=total)
        if total == 0:
            order.status = Order.Status.PAID
            order.paid_at = now
            order.payment_provider = "free"
            locked.commit_durably()  # a sale, not a hold
        else:
            order.status = Order.Status.PENDING
            order.hold_expires_at = now + timedelta(minutes=conference.hold_minutes)
        _write_order(order, lines)
        if order.status == Order.Status.PAID:
            confirm_payment_on_commit(order)
        return order


def mark_paid(order, *, provider="") -> Order:
    """Record payment of an order and return it.

    A live hold becomes a sale. A hold that has lapsed (PENDING past its hold, or
    EXPIRED) is re-checked under the lock against every rule and paid only if
    its seats are still free; otherwise ValidationError. Paying a paid order is a
    no-op; cancelled or refunded orders cannot be paid.
    """
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status in Order.COMMITTED_STATUSES:
            return order
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                _("Order %(reference)s is %(status)s and cannot be paid.")
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        now = timezone.now()
        if not order.hold_is_live(now):
            retake_seats(conference, order, now)
        order.status = Order.Status.PAID
        order.paid_at = now
        if provider:
            order.payment_provider = provider
        order.save(update_fields=["status", "paid_at", "payment_provider", "updated_at"])
        WaitingListEntry.objects.filter(
            order=order,
            status__in=(WaitingListEntry.Status.OFFERED, WaitingListEntry.Status.EXPIRED),
        ).update(status=WaitingListEntry.Status.ACCEPTED, updated_at=now)
        confirm_payment_on_commit(order)
        return order


def release_order(order) -> Order:
    """The buyer gives back the seats of a pending order: it is cancelled, its seats
    free at once. Anything but a pending (or expired) order is refused."""
    with locked_conference(order.conference_id):
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                _("Order %(reference)s is %(status)s; only an unpaid order can be released.")
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        return cancel_order(order)


def cancel_order(order) -> Order:
    """Cancel an order; its seats are free at once and offered to the waiting list.

    Refunded or cancelled orders are refused. Cancelling an offer from the
    waiting list ends its entry's place (LEFT).
    """
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status in (Order.Status.CANCELLED, Order.Status.REFUNDED):
            raise ValidationError(
                _("Order %(reference)s is already %(status)s.")
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        order.status = Order.Status.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        WaitingListEntry.objects.filter(order=order, status=WaitingListEntry.Status.OFFERED).update(
            status=WaitingListEntry.Status.LEFT, updated_at=timezone.now()
        )
        offer_freed_seats(conference)
        return order


def refund_order(order, *, partial=False) -> Order:
    """Refund a paid order. A full refund frees its seats, offered to the waiting list
    at once; a partial one keeps them."""
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status not in Order.COMMITTED_STATUSES:
            raise ValidationError(
                _("Only paid orders can be refunded; %(reference)s is %(status)s.")
                % {"reference": order.reference, "status": order.get_status_display().lower()}
            )
        order.status = Order.Status.PARTIALLY_REFUNDED if partial else Order.Status.REFUNDED
        order.save(update_fields=["status", "updated_at"])
        if not partial:
            offer_freed_seats(conference)
        return order


def expire_holds(now=None) -> int:
    """Mark PENDING orders whose hold has passed as EXPIRED; return how many.

    Housekeeping only: a lapsed hold already stops counting the instant it lapses.
    Also deletes the empty held-seat counters this and earlier payments,
    cancellations and expiries leave behind, so the counter table stays small.
    """
    now = now or timezone.now()
    expired = Order.objects.filter(status=Order.Status.PENDING, hold_expires_at__lte=now).update(
        status=Order.Status.EXPIRED, updated_at=now
    )
    SeatCounter.objects.filter(expires_minute__gt=0, seats=0).delete()
    return expired


# Most comp tickets (or add-ons) of one kind in a single comp order.
COMP_MAX_PER_LINE = 100


def _overflow(availability) -> int:
    """Seats (and add-on units) taken beyond their caps, summed over the venue and items."""
    items = [*availability.ticket_types, *availability.addons]
    return availability.over_capacity + sum(
        max(0, item.taken - item.capacity) for item in items if item.capacity
    )


def issue_comp_order(*, conference, email, name, tickets, reason, user, addons=None) -> Order:
    """Issue a free comp order, PAID at once, that may exceed any cap on purpose.

    ``tickets`` / ``addons`` map a TicketType/AddOn (or its pk) to a quantity from 1
    to COMP_MAX_PER_LINE; they must belong to ``conference`` (sale windows and
    caps do not apply). Runs under the conference lock and records a
    CapacityChange (``comp``) with ``reason``, ``forced`` when the order took seats
    beyond a cap. Raises ValidationError, writing nothing, on bad input.
    """
    email, name = clean_buyer(email, name)
    reason = clean_reason(reason)
    with locked_conference(conference) as locked:
        conference = locked.conference
        lines = resolve_lines(TicketType, conference, tickets, _("ticket type")) + resolve_lines(
            AddOn, conference, addons, _("add-on")
        )
        if not any(line.kind == OrderLineItem.Kind.TICKET for line in lines):
            raise ValidationError(_("A comp order needs at least one ticket."))
        problems = [
            _("Choose 1 to %(most)s of %(item)s.")
            % {"most": COMP_MAX_PER_LINE, "item": line.item.name}
            for line in lines
            if not 1 <= line.quantity <= COMP_MAX_PER_LINE
        ]
        if problems:
            raise ValidationError(problems)
        now = timezone.now()
        before = get_availability(conference, now=now)
        order = Order(
            conference=conference,
            email=email,
            name=name,
            status=Order.Status.PAID,
            paid_at=now,
            total=Decimal("0"),
            payment_provider="comp",
            is_comp=True,
        )
        _write_order(order, lines, free=True)
        after = get_availability(conference)
        contents = ", ".join(f"{line.quantity} × {line.item.name}" for line in lines)
        record_capacity_change(
            conference=conference,
            target_kind=CapacityChange.Target.COMP,
            target_id=order.pk,
            target_name=f"{order.reference} for {name} ({contents})",
            field="seats_taken",
            old=before.taken,
            new=after.taken,
            reason=reason,
            user=user,
            forced=_overflow(after) > _overflow(before),
        )
        return order
