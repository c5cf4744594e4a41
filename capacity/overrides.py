"""Capacity overrides: the only way to change a capacity after creation, to set
seats aside or to give them back.

Each runs under the conference lock, refuses what would leave more seats taken
than the cap allows unless forced, and writes a CapacityChange. What gives
seats back (a raised cap, released blocked seats) offers them to the waiting
list at once, in the same transaction.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from conference.models import Conference
from registration.models import AddOn, TicketType

from .availability import get_availability
from .locking import locked_conference
from .models import BlockedSeats, CapacityChange
from .numbers import parse_whole_number
from .waiting import offer_freed_seats

MAX_CAPACITY = 1_000_000

# What ``whole_number`` says of each number it reads, by ``what``: whole sentences,
# so that each language can make its words agree.
_NUMBER_MESSAGES = {
    "capacity": {
        "invalid": gettext_lazy("Capacity must be a whole number."),
        "negative": gettext_lazy("Capacity cannot be negative."),
        "too_small": gettext_lazy("Capacity must be at least %(minimum)s."),
        "too_large": gettext_lazy("Capacity cannot be more than %(maximum)s."),
    },
    "seats to block": {
        "invalid": gettext_lazy("Seats to block must be a whole number."),
        "negative": gettext_lazy("Seats to block cannot be negative."),
        "too_small": gettext_lazy("Seats to block must be at least %(minimum)s."),
        "too_large": gettext_lazy("Seats to block cannot be more than %(maximum)s."),
    },
    "seats to release": {
        "invalid": gettext_lazy("Seats to release must be a whole number."),
        "negative": gettext_lazy("Seats to release cannot be negative."),
        "too_small": gettext_lazy("Seats to release must be at least %(minimum)s."),
        "too_large": gettext_lazy("Seats to release cannot be more than %(maximum)s."),
    },
}
# For any other ``what``: its name in the sentence.
_ANY_NUMBER_MESSAGES = {
    # Translators: %(what)s names a number, such as "Capacity".
    "invalid": gettext_lazy("%(what)s must be a whole number."),
    "negative": gettext_lazy("%(what)s cannot be negative."),
    "too_small": gettext_lazy("%(what)s must be at least %(minimum)s."),
    "too_large": gettext_lazy("%(what)s cannot be more than %(maximum)s."),
}


def _number_error(what, code, minimum) -> ValidationError:
    message = _NUMBER_MESSAGES.get(what, _ANY_NUMBER_MESSAGES)[code]
    values = {
        "what": capfirst(what),
        "minimum": minimum,
        "maximum": number_format(MAX_CAPACITY, force_grouping=True),
    }
    return ValidationError(str(message) % values, code=code)


def whole_number(value, what, *, minimum=0) -> int:
    """``value`` as an int from ``minimum`` to MAX_CAPACITY, or ValidationError naming ``what``
    ("capacity", "seats to block" or "seats to release")."""
    value = parse_whole_number(value)
    if value is None:
        raise _number_error(what, "invalid", minimum)
    if value < minimum:
        raise _number_error(what, "negative" if minimum == 0 else "too_small", minimum)
    if value > MAX_CAPACITY:
        raise _number_error(what, "too_large", minimum)
    return value


def clean_reason(reason) -> str:
    """The reason for an override, stripped; ValidationError when blank."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(
            _("Give a reason for this change; it goes on the record."), code="reason_required"
        )
    if len(reason) > 1000:
        raise ValidationError(_("Keep the reason under 1000 characters."), code="reason_too_long")
    return reason


def capacity_field_of(target) -> str:
    """The capacity field of a Conference, TicketType or AddOn."""
    if isinstance(target, Conference):
        return "total_capacity"
    if isinstance(target, TicketType | AddOn):
        return "total_quantity"
    raise TypeError(f"{type(target).__name__} has no capacity to override.")


def _target_kind(target):
    if isinstance(target, Conference):
        return CapacityChange.Target.VENUE
    if isinstance(target, TicketType):
        return CapacityChange.Target.TICKET_TYPE
    return CapacityChange.Target.ADDON


@dataclass(frozen=True)
class CapacityState:
    """What a capacity is now and what is taken against it, for a form to show."""

    capacity: int  # 0: unlimited
    sold: int
    held: int
    blocked: int
    kind: str  # "venue", "ticket" or "addon"
    name: str = ""  # of the ticket type or add-on

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def unlimited(self):
        return self.capacity == 0

    def refusal(self, total, *, force=False) -> str | None:
        """Why ``total`` may not be set, or None. 0 (unlimited) is always allowed."""
        if force or total == 0 or total >= self.taken:
            return None
        values = {"taken": self.taken, "name": self.name}
        if self.kind == "venue":
            message = ngettext(
                "%(taken)s seat is already taken; lower to %(taken)s or more, or force.",
                "%(taken)s seats are already taken; lower to %(taken)s or more, or force.",
                self.taken,
            )
        elif self.kind == "ticket":
            message = ngettext(
                "%(taken)s %(name)s tickets are already taken; lower to %(taken)s or more, "
                "or force.",
                "%(taken)s %(name)s tickets are already taken; lower to %(taken)s or more, "
                "or force.",
                self.taken,
            )
        else:
            message = ngettext(
                "%(taken)s of %(name)s are already taken; lower to %(taken)s or more, or force.",
                "%(taken)s of %(name)s are already taken; lower to %(taken)s or more, or force.",
                self.taken,
            )
        return message % values


def capacity_state(target, *, availability=None) -> CapacityState:
    """The capacity of a Conference, TicketType or AddOn and what is taken against it.

    Reads the availability snapshot (pass one to reuse it).
    """
    if isinstance(target, Conference):
        availability = availability or get_availability(target)
        return CapacityState(
            capacity=target.total_capacity,
            sold=availability.sold,
            held=availability.held,
            blocked=availability.blocked,
            kind="venue",
        )
    availability = availability or get_availability(target.conference)
    if isinstance(target, TicketType):
        item = availability.ticket_type(target.pk)
    else:
        item = availability.addon(target.pk)
    return CapacityState(
        capacity=target.total_quantity,
        sold=item.sold,
        held=item.held,
        blocked=item.blocked,
        kind=item.kind,
        name=target.name,
    )


def record_capacity_change(
    *, conference, target_kind, target_id, target_name, field, old, new, reason, user, forced
) -> CapacityChange:
    """Write the audit record of an override and mark the conference as changed.

    Touching ``Conference.updated_at`` lets anything keyed on it (dashboard
    versions, caches) see the change at once. Call inside the conference lock.
    """
    now = timezone.now()
    Conference.objects.filter(pk=conference.pk).update(updated_at=now)
    return CapacityChange.objects.create(
        conference=conference,
        target_kind=target_kind,
        target_id=target_id,
        target_name=str(target_name)[:200],
        field=field,
        old_value=old,
        new_value=new,
        reason=reason,
        user=user if user is not None and user.is_authenticated else None,
        forced=forced,
        created_at=now,
    )


def override_capacity(*, target, total, reason, user, force=False):
    """Change the venue capacity of a Conference or the quantity of a TicketType/AddOn.

    The only way to change ``total_capacity`` / ``total_quantity`` after creation.
    Takes the conference lock, reads the current value from the database (a stale
    ``target`` changes nothing else) and refuses, with ValidationError:
    a negative or non-whole ``total``, a blank ``reason``, and a cap below what is
    taken now (sold + held + blocked) unless ``force``. 0 (unlimited) is always
    allowed. Never cancels an order. Writes only that field, plus a CapacityChange.
    Setting the value it already has is a no-op without a record. Returns ``target``
    with the new value.
    """
    field = capacity_field_of(target)
    total = whole_number(total, "capacity")
    reason = clean_reason(reason)
    model = type(target)
    conference_pk = target.pk if isinstance(target, Conference) else target.conference_id
    with locked_conference(conference_pk) as locked:
        conference = locked.conference
        if isinstance(target, Conference):
            current = conference
        else:
            current = model.objects.filter(pk=target.pk, conference=conference).first()
            if current is None:
                raise ValidationError(
                    _("%(name)s no longer exists.") % {"name": target.name}, code="gone"
                )
            current.conference = conference
        old = getattr(current, field)
        if old != total:
            state = capacity_state(current)
            refusal = state.refusal(total, force=force)
            if refusal:
                raise ValidationError(refusal, code="below_taken")
            model.objects.filter(pk=current.pk).update(**{field: total})
            record_capacity_change(
                conference=conference,
                target_kind=_target_kind(current),
                target_id=current.pk,
                target_name=current.name,
                field=field,
                old=old,
                new=total,
                reason=reason,
                user=user,
                forced=bool(total and total < state.taken),
            )
            if model is not AddOn and (total == 0 or total > old):
                offer_freed_seats(conference)
    setattr(target, field, total)
    return target


def block_refusal(availability, quantity, *, ticket_type=None) -> str | None:
    """Why ``quantity`` seats (of ``ticket_type``, or venue-wide) cannot be blocked, or None."""
    if ticket_type is None:
        free = availability.remaining
    else:
        free = availability.ticket_type(ticket_type.pk).remaining
    if free is None or quantity <= free:
        return None
    if free == 0:
        return _("No seats are free to block; release seats or raise the capacity, or force.")
    return ngettext(
        "Only %(free)s seats are free; block %(free)s or fewer, or force.",
        "Only %(free)s seats are free; block %(free)s or fewer, or force.",
        free,
    ) % {"free": free}


def block_seats(
    *, conference, quantity, label, reason, user, ticket_type=None, force=False
) -> BlockedSeats:
    """Set ``quantity`` seats aside (venue-wide, or of one ticket type) until released.

    Under the conference lock; refuses with ValidationError when fewer seats are
    free than asked (venue, and the ticket type when given) unless ``force``, and
    on a bad quantity, a blank label or reason, or a ticket type of another
    conference. Writes the block and a CapacityChange.
    """
    quantity = whole_number(quantity, "seats to block", minimum=1)
    label = label.strip() if isinstance(label, str) else ""
    if not label:
        raise ValidationError(_('Give the blocked seats a label, such as "speakers".'))
    if len(label) > 120:
        raise ValidationError(_("Keep the label under 120 characters."))
    reason = clean_reason(reason)
    with locked_conference(conference) as locked:
        conference = locked.conference
        if ticket_type is not None:
            pk = ticket_type.pk if isinstance(ticket_type, TicketType) else ticket_type
            ticket_type = TicketType.objects.filter(pk=pk, conference=conference).first()
            if ticket_type is None:
                raise ValidationError(
                    _("That ticket type is not sold for %(conference)s.")
                    % {"conference": conference.name}
                )
        availability = get_availability(conference)
        refusal = block_refusal(availability, quantity, ticket_type=ticket_type)
        if refusal and not force:
            raise ValidationError(refusal, code="too_few_free_seats")
        block = BlockedSeats.objects.create(
            conference=conference,
            ticket_type=ticket_type,
            label=label,
            quantity=quantity,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        record_capacity_change(
            conference=conference,
            target_kind=CapacityChange.Target.BLOCKED_SEATS,
            target_id=block.pk,
            target_name=f"{label} ({ticket_type.name})" if ticket_type else label,
            field="quantity",
            old=0,
            new=quantity,
            reason=reason,
            user=user,
            forced=refusal is not None,
        )
    return block


def release_blocked_seats(*, block, quantity=None, reason, user) -> BlockedSeats:
    """Give back ``quantity`` seats of a block (all of them when None); they are free at once.

    Refuses with ValidationError a bad quantity, more than the block still holds,
    an already released block, or a blank reason. Writes a CapacityChange.
    """
    if quantity is not None:
        quantity = whole_number(quantity, "seats to release", minimum=1)
    reason = clean_reason(reason)
    with locked_conference(block.conference_id) as locked:
        conference = locked.conference
        current = (
            BlockedSeats.objects.select_related("ticket_type")
            .filter(pk=block.pk, conference=conference)
            .first()
        )
        if current is None or current.quantity == 0:
            raise ValidationError(_("These seats have already been released."), code="released")
        quantity = current.quantity if quantity is None else quantity
        if quantity > current.quantity:
            raise ValidationError(
                ngettext(
                    "Only %(quantity)s seats are blocked for %(label)s; "
                    "release %(quantity)s or fewer.",
                    "Only %(quantity)s seats are blocked for %(label)s; "
                    "release %(quantity)s or fewer.",
                    current.quantity,
                )
                % {"quantity": current.quantity, "label": current.label},
                code="too_many",
            )
        remaining = current.quantity - quantity
        BlockedSeats.objects.filter(pk=current.pk).update(
            quantity=remaining, updated_at=timezone.now()
        )
        record_capacity_change(
            conference=conference,
            target_kind=CapacityChange.Target.BLOCKED_SEATS,
            target_id=current.pk,
            target_name=(
                f"{current.label} ({current.ticket_type.name})"
                if current.ticket_type_id
                else current.label
            ),
            field="quantity",
            old=current.quantity,
            new=remaining,
            reason=reason,
            user=user,
            forced=False,
        )
        offer_freed_seats(conference)
    block.quantity = remaining
    return block
