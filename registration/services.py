"""Placing, paying, cancelling, refunding and expiring orders.

Every function that can make seats scarcer runs its checks and its writes
under ``capacity.locking.locked_conference``, taken before anything is read.
Errors are ``ValidationError`` with a message meant for the person ordering;
when one is raised nothing has been written.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from capacity.availability import count_buyer_held, get_availability
from capacity.locking import locked_conference
from capacity.models import CapacityChange, SeatCounter
from capacity.overrides import clean_reason, record_capacity_change
from capacity.rows import insert_with_children
from capacity.waiting import offer_freed_seats, offer_lapsed_seats
from conference.models import Conference

from .emails import confirm_payment_on_commit
from .models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry
from .orders import clean_buyer, whole_quantity
from .waiting import join_waiting_list, leave_waiting_list

# The waiting list's services, importable from here with the rest (SPEC).
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

# Largest primary key a BigAutoField can hold.
MAX_ID = 2**63 - 1


class OrderRefused(ValidationError):
    """``place_order`` said no. ``availability`` is the snapshot the refusal was
    decided on, taken under the lock, so the page explaining it need not count again."""

    def __init__(self, message, *, availability=None):
        super().__init__(message)
        self.availability = availability


@dataclass(frozen=True)
class RequestedLine:
    """One line an order asks for, resolved against the database."""

    item: TicketType | AddOn | None  # None: a ticket line whose type was deleted
    quantity: int
    kind: str


def _resolve(model, conference, wanted, noun, known=None):
    """Turn ``{item or pk: quantity}`` into RequestedLines, refusing foreign or unknown items.

    ``known``: the conference's ticket types or add-ons as a snapshot taken under
    the lock lists them; items found there are not loaded again. Anything else is
    looked up, only to say why it cannot be ordered.
    """
    quantities = {}
    for key, quantity in (wanted or {}).items():
        pk = key.pk if isinstance(key, model) else key
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            raise ValidationError(f"Unknown {noun}: {key!r}.") from None
        label = key.name if isinstance(key, model) else f"{noun} {key}"
        quantities[pk] = quantities.get(pk, 0) + whole_quantity(quantity, label)
    items = {state.pk: state.item for state in known or () if state.pk in quantities}
    # Out-of-range ids cannot exist, and SQLite cannot even bind them.
    missing = [pk for pk in quantities if pk not in items and 1 <= pk <= MAX_ID]
    if missing:
        items.update(model.objects.in_bulk(missing))
    lines = []
    for pk, quantity in quantities.items():
        item = items.get(pk)
        if item is None:
            raise ValidationError(f"Unknown {noun} (id {pk}).")
        if item.conference_id != conference.pk:
            raise ValidationError(f"{item.name} is not sold for {conference.name}.")
        kind = OrderLineItem.Kind.TICKET if model is TicketType else OrderLineItem.Kind.ADDON
        lines.append(RequestedLine(item=item, quantity=quantity, kind=kind))
    return lines


def _check_lines(conference, lines, now, *, check_sale=True, availability=None):
    """Every rule for one order, against a snapshot taken under the lock.

    ``availability``: that snapshot, when the caller already took it (at ``now``).
    Returns nothing; raises ValidationError listing every problem found.
    """
    problems = []
    tickets = [line for line in lines if line.kind == OrderLineItem.Kind.TICKET]
    addons = [line for line in lines if line.kind == OrderLineItem.Kind.ADDON]
    if not tickets:
        if addons:
            raise ValidationError("Add-ons can only be ordered together with at least one ticket.")
        raise ValidationError("Choose at least one ticket.")

    availability = availability or get_availability(conference, now=now)
    addon_max = settings.SEATKEEPER_ADDON_MAX_PER_ORDER
    for line in lines:
        item = line.item
        if item is None:
            continue
        if line.quantity < 1:
            problems.append(f"Choose at least 1 of {item.name}, or leave it out.")
            continue
        if line.kind == OrderLineItem.Kind.TICKET:
            state = availability.ticket_type(item.pk)
            most = item.max_per_order
        else:
            state = availability.addon(item.pk)
            most = addon_max
        if line.quantity > most:
            problems.append(f"At most {most} of {item.name} per order.")
            continue
        if check_sale and not state.on_sale:
            problems.append(_not_on_sale_message(item, state.sale_state))
            continue
        allowed, reason = state.is_purchase_permitted(line.quantity)
        if not allowed:
            problems.append(reason)
    if not problems:
        allowed, reason = availability.is_purchase_permitted(sum(line.quantity for line in tickets))
        if not allowed:
            problems.append(reason)
    if problems:
        raise ValidationError(problems)


def _not_on_sale_message(item, sale_state):
    if sale_state == "not_yet":
        when = timezone.localtime(item.available_from).strftime("%d %b %Y %H:%M")
        return f"{item.name} is not on sale yet (from {when})."
    if sale_state == "ended":
        return f"Sales of {item.name} have ended."
    return f"{item.name} is not available."


def _check_buyer_limit(conference, availability, email, seats):
    """Refuse a hold that would give one buyer more than ``max_held_seats_per_buyer``.

    ``availability``: the snapshot under the lock, counting the buyer's held
    seats (counted here when it did not: the limit was off when the order
    started). Says only how many seats the buyer holds, never which orders hold them.
    """
    limit = conference.max_held_seats_per_buyer
    if not limit:
        return
    held = availability.buyer_held
    if held is None:
        held = count_buyer_held(conference, email, availability.computed_at)
    if held + seats > limit:
        raise ValidationError(
            f"You are already holding {held} seats for {conference.name}, and one buyer "
            f"can hold at most {limit} at once; pay for or release them first.",
            code="buyer_limit",
        )


def _write_order(order, lines, *, free=False):
    """Insert a new order and its RequestedLines (at list price or, comp tickets, free).

    Statements built once (``capacity.rows.insert_with_children``), in one
    round trip on PostgreSQL: this runs under the conference lock on every
    order. No signals are sent; ``locked_conference`` forgets the cached
    availability for every write it sees.
    """
    insert_with_children(
        order,
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
        ],
        "order",
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
            lines = _resolve(
                TicketType, conference, tickets, "ticket type", availability.ticket_types
            ) + _resolve(AddOn, conference, addons, "add-on", availability.addons)
            _check_lines(conference, lines, now, availability=availability)
            total = sum((line.item.price * line.quantity for line in lines), Decimal("0"))
            if total:
                seats = sum(
                    line.quantity for line in lines if line.kind == OrderLineItem.Kind.TICKET
                )
                _check_buyer_limit(conference, availability, email, seats)
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


def _lines_of(order):
    return [
        RequestedLine(
            item=line.ticket_type if line.kind == OrderLineItem.Kind.TICKET else line.addon,
            quantity=line.quantity,
            kind=line.kind,
        )
        for line in order.lines.select_related("ticket_type", "addon")
    ]


def _retake_seats(conference, order, now):
    """Check that an order whose hold lapsed can have its seats again."""
    try:
        _check_lines(conference, _lines_of(order), now, check_sale=False)
    except ValidationError as error:
        raise ValidationError(
            [f"The hold on order {order.reference} expired and its seats are no longer free."]
            + error.messages,
            code="hold_expired",
        ) from None


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
                f"Order {order.reference} is {order.get_status_display().lower()} "
                "and cannot be paid."
            )
        now = timezone.now()
        if not order.hold_is_live(now):
            _retake_seats(conference, order, now)
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


def extend_hold(order, *, minutes=None) -> Order:
    """Give a pending (or expired) order more time to pay.

    A live hold is lengthened; a lapsed one is re-checked like a late payment
    and refused with ValidationError when its seats are gone.
    """
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                f"Only pending orders have a hold; {order.reference} is "
                f"{order.get_status_display().lower()}."
            )
        minutes = conference.hold_minutes if minutes is None else minutes
        if (
            isinstance(minutes, bool)
            or not isinstance(minutes, int)
            or not 1 <= minutes <= 60 * 24 * 30
        ):
            raise ValidationError("Extend a hold by 1 minute to 30 days.")
        now = timezone.now()
        if order.hold_is_live(now):
            order.hold_expires_at += timedelta(minutes=minutes)
        else:
            _retake_seats(conference, order, now)
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
    with locked_conference(order.conference_id) as locked:
        conference = locked.conference
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                f"Order {order.reference} is {order.get_status_display().lower()}; "
                "there is nothing to transfer."
            )
        now = timezone.now()
        if not order.hold_is_live(now):
            _retake_seats(conference, order, now)
        deadline = now + timedelta(days=conference.bank_transfer_days)
        if order.hold_is_live(now) and order.hold_expires_at > deadline:
            deadline = order.hold_expires_at
        order.status = Order.Status.PENDING
        order.hold_expires_at = deadline
        order.payment_provider = "manual"
        order.save(update_fields=["status", "hold_expires_at", "payment_provider", "updated_at"])
        return order


def release_order(order) -> Order:
    """The buyer gives back the seats of a pending order: it is cancelled, its seats
    free at once. Anything but a pending (or expired) order is refused."""
    with locked_conference(order.conference_id):
        order.refresh_from_db()
        if order.status not in (Order.Status.PENDING, Order.Status.EXPIRED):
            raise ValidationError(
                f"Order {order.reference} is {order.get_status_display().lower()}; "
                "only an unpaid order can be released."
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
                f"Order {order.reference} is already {order.get_status_display().lower()}."
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
                f"Only paid orders can be refunded; {order.reference} is "
                f"{order.get_status_display().lower()}."
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
        lines = _resolve(TicketType, conference, tickets, "ticket type") + _resolve(
            AddOn, conference, addons, "add-on"
        )
        if not any(line.kind == OrderLineItem.Kind.TICKET for line in lines):
            raise ValidationError("A comp order needs at least one ticket.")
        problems = [
            f"Choose 1 to {COMP_MAX_PER_LINE} of {line.item.name}."
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
