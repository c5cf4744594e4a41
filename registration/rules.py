"""The rules an order is checked against, under the conference lock.

What it asks for, resolved against the conference's catalogue; every rule of
ordering (on sale, quantities, per-type, add-on and venue caps, the seats the
waiting list waits for); the per-buyer hold limit; and the re-check of a hold
that lapsed before it was paid or extended. Each raises ValidationError with a
message meant for the person ordering, and writes nothing.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from capacity.availability import get_availability
from capacity.seat_counts import count_buyer_held

from .models import AddOn, OrderLineItem, TicketType
from .orders import whole_quantity

# Largest primary key a BigAutoField can hold.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class RequestedLine:
    """One line an order asks for, resolved against the database."""

    item: TicketType | AddOn | None  # None: a ticket line whose type was deleted
    quantity: int
    kind: str


def resolve_lines(model, conference, wanted, noun, known=None):
    """Turn ``{item or pk: quantity}`` into RequestedLines, refusing foreign or unknown items.

    ``noun``: what an item is called in a quantity's refusal ("ticket type" or
    "add-on", translated by the caller).

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
            if model is TicketType:
                message = _("Unknown ticket type: %(key)s.")
            else:
                message = _("Unknown add-on: %(key)s.")
            raise ValidationError(message % {"key": repr(key)}) from None
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
            if model is TicketType:
                message = _("Unknown ticket type (id %(pk)s).")
            else:
                message = _("Unknown add-on (id %(pk)s).")
            raise ValidationError(message % {"pk": pk})
        if item.conference_id != conference.pk:
            raise ValidationError(
                _("%(item)s is not sold for %(conference)s.")
                % {"item": item.name, "conference": conference.name}
            )
        kind = OrderLineItem.Kind.TICKET if model is TicketType else OrderLineItem.Kind.ADDON
        lines.append(RequestedLine(item=item, quantity=quantity, kind=kind))
    return lines


def check_lines(conference, lines, now, *, check_sale=True, availability=None):
    """Every rule for one order, against a snapshot taken under the lock.

    ``availability``: that snapshot, when the caller already took it (at ``now``).
    Returns nothing; raises ValidationError listing every problem found.
    """
    problems = []
    tickets = [line for line in lines if line.kind == OrderLineItem.Kind.TICKET]
    addons = [line for line in lines if line.kind == OrderLineItem.Kind.ADDON]
    if not tickets:
        if addons:
            raise ValidationError(
                _("Add-ons can only be ordered together with at least one ticket.")
            )
        raise ValidationError(_("Choose at least one ticket."))

    availability = availability or get_availability(conference, now=now)
    addon_max = settings.SEATKEEPER_ADDON_MAX_PER_ORDER
    for line in lines:
        item = line.item
        if item is None:
            continue
        if line.quantity < 1:
            problems.append(
                _("Choose at least 1 of %(item)s, or leave it out.") % {"item": item.name}
            )
            continue
        if line.kind == OrderLineItem.Kind.TICKET:
            state = availability.ticket_type(item.pk)
            most = item.max_per_order
        else:
            state = availability.addon(item.pk)
            most = addon_max
        if line.quantity > most:
            problems.append(
                _("At most %(most)s of %(item)s per order.") % {"most": most, "item": item.name}
            )
            continue
        # A late payment may finish a sale whose window has closed since, but
        # not one of an item withdrawn from sale.
        if not state.on_sale and (check_sale or state.sale_state == "inactive"):
            problems.append(not_on_sale_message(item, state.sale_state))
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


def not_on_sale_message(item, sale_state):
    if sale_state == "not_yet":
        when = date_format(timezone.localtime(item.available_from), "SHORT_DATETIME_FORMAT")
        return _("%(item)s is not on sale yet (from %(when)s).") % {"item": item.name, "when": when}
    if sale_state == "ended":
        return _("Sales of %(item)s have ended.") % {"item": item.name}
    return _("%(item)s is not available.") % {"item": item.name}


def check_buyer_limit(conference, availability, email, lines):
    """Refuse a hold of ``lines`` (RequestedLines) that would give one buyer more
    than ``max_held_seats_per_buyer``: their tickets count, add-ons take no seat.

    ``availability``: the snapshot under the lock, counting the buyer's held
    seats (counted here when it did not: the limit was off when the order
    started). Says only how many seats the buyer holds, never which orders hold them.
    """
    limit = conference.max_held_seats_per_buyer
    if not limit:
        return
    seats = sum(line.quantity for line in lines if line.kind == OrderLineItem.Kind.TICKET)
    held = availability.buyer_held
    if held is None:
        held = count_buyer_held(conference, email, availability.computed_at)
    if held + seats > limit:
        raise ValidationError(
            ngettext(
                "You are already holding %(held)s seat for %(conference)s, and one buyer "
                "can hold at most %(limit)s at once; pay for or release it first.",
                "You are already holding %(held)s seats for %(conference)s, and one buyer "
                "can hold at most %(limit)s at once; pay for or release them first.",
                held,
            )
            % {"held": held, "conference": conference.name, "limit": limit},
            code="buyer_limit",
        )


def lines_of(order):
    """An order's lines as RequestedLines, to check them again."""
    return [
        RequestedLine(
            item=line.ticket_type if line.kind == OrderLineItem.Kind.TICKET else line.addon,
            quantity=line.quantity,
            kind=line.kind,
        )
        for line in order.lines.select_related("ticket_type", "addon")
    ]


def retake_seats(conference, order, now, *, availability=None, lines=None):
    """Check that an order whose hold lapsed can have its seats again: every rule
    but the sale window, against the seats free now (call under the lock;
    ``availability`` and ``lines``: the snapshot taken under it and the order's
    ``lines_of``, when the caller has them)."""
    lines = lines_of(order) if lines is None else lines
    try:
        check_lines(conference, lines, now, check_sale=False, availability=availability)
    except ValidationError as error:
        raise ValidationError(
            [
                _("The hold on order %(reference)s expired and its seats are no longer free.")
                % {"reference": order.reference}
            ]
            + error.messages,
            code="hold_expired",
        ) from None
