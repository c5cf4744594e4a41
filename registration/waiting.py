"""Joining and leaving the waiting list of a sold-out ticket type or venue.

Who gets freed seats, and when, is decided in ``capacity.waiting``; these are
the attendee's own actions, each under the conference lock.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from capacity.locking import locked_conference
from capacity.waiting import offer_freed_seats

from .models import Order, TicketType, WaitingListEntry
from .orders import clean_buyer, whole_quantity


def _ticket_type_of(conference, ticket_type):
    """The TicketType an entry waits for (None: any), refusing another conference's."""
    if ticket_type is None or ticket_type == "":
        return None
    pk = ticket_type.pk if isinstance(ticket_type, TicketType) else ticket_type
    try:
        found = TicketType.objects.filter(pk=int(pk), conference=conference).first()
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise ValidationError(
            _("That ticket type is not sold for %(conference)s.") % {"conference": conference.name}
        )
    if not found.is_active:
        raise ValidationError(
            _("%(ticket_type)s is not on sale; it has no waiting list.")
            % {"ticket_type": found.name}
        )
    return found


def _refuse_off_sale(conference, availability, ticket_type):
    """Only seats on sale now are waited for: a place in line for a ticket type
    not on sale yet would be served before the sale opens to everyone, and one
    whose sale ended would never be served while keeping venue seats from others."""
    on_sale = {item.pk for item in availability.ticket_types if item.on_sale}
    if ticket_type is not None and ticket_type.pk not in on_sale:
        raise ValidationError(
            _("%(ticket_type)s is not on sale now; it has no waiting list.")
            % {"ticket_type": ticket_type.name}
        )
    if ticket_type is None and not on_sale:
        raise ValidationError(
            _("No tickets for %(conference)s are on sale now to wait for.")
            % {"conference": conference.name}
        )


def _orderable_now(availability, ticket_type, quantity) -> bool:
    """Whether a newcomer could order ``quantity`` tickets (of ``ticket_type``, or of
    any type) right now, so that waiting makes no sense."""
    items = [
        item
        for item in availability.ticket_types
        if item.on_sale and (ticket_type is None or item.pk == ticket_type.pk)
    ]
    return any(
        (item.remaining is None or quantity <= item.remaining)
        and availability.is_purchase_permitted(quantity)[0]
        for item in items
    )


def join_waiting_list(*, conference, email, name, quantity=1, ticket_type=None):
    """Put a person on the waiting list of ``ticket_type`` (None: any ticket type).

    Under the conference lock. Refuses with ValidationError, writing nothing: a
    bad quantity (1 to the type's ``max_per_order``, or to 10 for any type), a
    ticket type of another conference or not on sale now (for any type: none on
    sale), a closed waiting list, a request that can be ordered right now (the
    message says ``available``), and a second live entry of the same email (any
    letter case) for the same ticket type (``already``). Seats free for the new
    entry are offered to it at once.
    """
    email, name = clean_buyer(email, name)
    # Translators: in "The quantity for the waiting list must be a whole number."
    quantity = whole_quantity(quantity, _("the waiting list"))
    with locked_conference(conference, with_availability=True) as locked:
        conference, availability = locked.conference, locked.availability
        if not conference.waiting_list_enabled:
            raise ValidationError(
                _("%(conference)s has no waiting list.") % {"conference": conference.name}
            )
        ticket_type = _ticket_type_of(conference, ticket_type)
        _refuse_off_sale(conference, availability, ticket_type)
        most = ticket_type.max_per_order if ticket_type else WaitingListEntry.ANY_MAX_QUANTITY
        if not 1 <= quantity <= most:
            raise ValidationError(_("Wait for 1 to %(most)s tickets.") % {"most": most})
        if _orderable_now(availability, ticket_type, quantity):
            if ticket_type:
                message = _(
                    "%(quantity)s × %(ticket_type)s are available right now: "
                    "order them instead of waiting."
                )
            else:
                message = _(
                    "%(quantity)s × tickets for %(conference)s are available right now: "
                    "order them instead of waiting."
                )
            raise ValidationError(
                message
                % {
                    "quantity": quantity,
                    "ticket_type": ticket_type.name if ticket_type else "",
                    "conference": conference.name,
                }
            )
        duplicate = WaitingListEntry.objects.filter(
            conference=conference,
            email__iexact=email,
            ticket_type=ticket_type,
            status__in=WaitingListEntry.LIVE_STATUSES,
        )
        if duplicate.exists():
            if ticket_type:
                message = _("%(email)s is already on the waiting list for %(ticket_type)s.")
            else:
                message = _(
                    "%(email)s is already on the waiting list for tickets for %(conference)s."
                )
            raise ValidationError(
                message
                % {
                    "email": email,
                    "ticket_type": ticket_type.name if ticket_type else "",
                    "conference": conference.name,
                }
            )
        entry = WaitingListEntry.objects.create(
            conference=conference,
            ticket_type=ticket_type,
            email=email,
            name=name,
            quantity=quantity,
        )
        offer_freed_seats(conference)
        entry.refresh_from_db()
        return entry


def leave_waiting_list(entry):
    """Take a WAITING or OFFERED entry off the list (LEFT). An open offer's order is
    cancelled and its seats offered to the next in line, at once."""
    with locked_conference(entry.conference_id) as locked:
        conference = locked.conference
        entry.refresh_from_db()
        if not entry.is_live:
            raise ValidationError(_("This place on the waiting list has already ended."))
        offer = entry.order if entry.status == WaitingListEntry.Status.OFFERED else None
        if offer is not None and offer.status in (Order.Status.PENDING, Order.Status.EXPIRED):
            offer.status = Order.Status.CANCELLED
            offer.save(update_fields=["status", "updated_at"])
        entry.status = WaitingListEntry.Status.LEFT
        entry.save(update_fields=["status", "updated_at"])
        offer_freed_seats(conference)
        return entry
