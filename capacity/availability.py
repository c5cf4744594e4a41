"""The availability snapshot: how many seats one conference has left, and why.

The counting rule: a ticket line takes a venue seat when its order is PAID or
PARTIALLY_REFUNDED, or PENDING with ``hold_expires_at`` in the future. A hold
stops counting the instant it expires; no background job is needed. Add-on
lines never take venue seats; they count against their add-on's own quantity
under the same rule. Ticket lines whose ticket type was deleted still take
venue seats. Blocked seats count as taken until released. Seats that people on
the waiting list wait for are kept from newcomers: a snapshot's ``remaining``
is what a newcomer can buy.

The seat counts are read by ``capacity.seat_counts``. Everything here reads;
nothing locks or writes (see ``capacity.locking``).
"""

import functools
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from conference.models import Conference
from registration.models import AddOn, TicketType

from .rows import fetch_rows, instances_from_rows, load_rows, select_sql
from .seat_counts import _pk, _seat_counts_from_rows, _seat_counts_statement


def _remaining(capacity, taken):
    """``None`` for unlimited (capacity 0); never negative."""
    if not capacity:
        return None
    return max(0, capacity - taken)


def venue_refusal(conference, remaining, wanted) -> str | None:
    """The words for refusing ``wanted`` venue seats, or None when they fit."""
    if remaining is None or (0 < remaining and wanted <= remaining):
        return None
    if remaining <= 0:
        return _(
            "%(conference)s is sold out: all %(capacity)s seats of the venue capacity are taken."
        ) % {"conference": conference.name, "capacity": conference.total_capacity}
    return ngettext(
        "Only %(remaining)s tickets remaining for %(conference)s.",
        "Only %(remaining)s tickets remaining for %(conference)s.",
        remaining,
    ) % {"remaining": remaining, "conference": conference.name}


class SeatFigures:
    """What the venue and each item derive from their capacity, sold, held,
    blocked and remaining seats."""

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def sold_out(self):
        return self.remaining == 0

    @property
    def percent_taken(self):
        if not self.capacity:
            return 0
        return min(100, round(100 * self.taken / self.capacity))


@dataclass(frozen=True)
class ItemAvailability(SeatFigures):
    """How many of one ticket type or add-on can be bought right now."""

    pk: int
    slug: str
    name: str
    kind: str  # "ticket" or "addon"
    capacity: int | None  # None: unlimited
    sold: int
    held: int
    blocked: int
    own_remaining: int | None  # free against its own quantity only
    remaining: int | None  # what a newcomer can really buy (tickets: also the venue)
    sale_state: str  # "on_sale", "inactive", "not_yet", "ended"
    low_stock_threshold: int
    # Seats the waiting list waits for (tickets: entries for this type and for any).
    waiting: int = 0
    # Free seats, the waiting list's included (tickets: also the venue's).
    free: int | None = None
    # The TicketType or AddOn row the snapshot was built from, so callers (the
    # order form, the checks under the lock) need not load it again.
    item: object = field(default=None, compare=False, repr=False)

    @property
    def on_sale(self):
        return self.sale_state == "on_sale"

    @property
    def low_stock(self):
        return self.remaining is not None and 0 < self.remaining <= self.low_stock_threshold

    def is_purchase_permitted(self, quantity) -> tuple[bool, str]:
        """(allowed, reason) for a newcomer buying ``quantity`` against this item's
        own stock, less the seats its waiting list waits for."""
        if self.own_remaining is None:
            return True, ""
        if quantity > self.own_remaining:
            left = {"remaining": self.own_remaining, "name": self.name}
            if self.own_remaining == 0:
                return False, _("%(name)s is sold out.") % left
            if self.kind == "ticket":
                return False, ngettext(
                    "Only %(remaining)s tickets remaining for %(name)s.",
                    "Only %(remaining)s tickets remaining for %(name)s.",
                    self.own_remaining,
                ) % left
            return False, ngettext(
                "Only %(remaining)s left of %(name)s.",
                "Only %(remaining)s left of %(name)s.",
                self.own_remaining,
            ) % left
        if quantity > self.own_remaining - self.waiting:
            return False, waiting_refusal(self.name, self.waiting)
        return True, ""

    def as_dict(self):
        """This item in the availability API's answer."""
        return {
            "slug": self.slug,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
        } | ({"waiting": self.waiting} if self.kind == "ticket" else {})


def waiting_refusal(name, waiting) -> str:
    """The words for refusing a newcomer the seats the waiting list waits for."""
    return ngettext(
        "The free seats of %(name)s go to the waiting list first: someone is waiting "
        "for %(waiting)s. Join the waiting list to get the next seats.",
        "The free seats of %(name)s go to the waiting list first: people are waiting "
        "for %(waiting)s. Join the waiting list to get the next seats.",
        waiting,
    ) % {"name": name, "waiting": waiting}


@dataclass(frozen=True)
class Availability(SeatFigures):
    """One conference's seats at one instant: the venue, each ticket type, each add-on."""

    conference: Conference
    computed_at: datetime
    capacity: int | None
    sold: int
    held: int
    blocked: int
    remaining: int | None
    ticket_types: list[ItemAvailability]
    addons: list[ItemAvailability]
    # Ticket seats in the live holds of the buyer the snapshot was taken for
    # (None: taken for no buyer).
    buyer_held: int | None = None
    # Venue seats the waiting list waits for, and free seats theirs included
    # (``remaining`` is what is left for newcomers).
    waiting: int = 0
    free: int | None = None

    @property
    def low_stock(self):
        threshold = self.conference.low_stock_threshold
        return self.remaining is not None and 0 < self.remaining <= threshold

    @property
    def over_capacity(self):
        """Seats taken beyond the cap (comp tickets or a forced lower)."""
        if self.capacity is None:
            return 0
        return max(0, self.taken - self.capacity)

    def ticket_type(self, key):
        return next(item for item in self.ticket_types if key in (item.pk, item.slug))

    def addon(self, key):
        return next(item for item in self.addons if key in (item.pk, item.slug))

    def is_purchase_permitted(self, seats) -> tuple[bool, str]:
        """(allowed, reason) for a newcomer's ``seats`` more venue seats."""
        message = venue_refusal(self.conference, self.free, seats)
        if message is None and self.free is not None and seats > self.free - self.waiting:
            message = waiting_refusal(self.conference.name, self.waiting)
        return message is None, message or ""

    def as_dict(self):
        """The availability API's answer; inactive items are left out.

        ``remaining`` of a ticket type is what can really be bought: the smaller
        of its own and the venue's remaining seats (None only when both are unlimited).
        """
        return {
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
            "waiting": self.waiting,
            "ticket_types": [i.as_dict() for i in self.ticket_types if i.sale_state != "inactive"],
            "addons": [i.as_dict() for i in self.addons if i.sale_state != "inactive"],
        }


# How ticket types and add-ons are listed within a conference.
ITEM_ORDER = ("position", "price", "name")


def conference_by_slug(slug) -> Conference | None:
    """The conference a public page names, or None; with a statement built once
    (every ticket page, order and poll starts here)."""
    rows = load_rows(Conference, select_sql(Conference, "slug"), [slug])
    return rows[0] if rows else None


CATALOGUE = (TicketType, AddOn)


@functools.cache
def _catalogue_sql() -> tuple[str, dict]:
    """One statement for the ticket types and the add-ons of a conference, and
    where each model's columns sit in its rows: ``{model: [index, …]}``.

    A ``UNION ALL`` over the columns of both tables (NULL where a table lacks
    one); the first column says which table a row comes from.
    """
    quote = connection.ops.quote_name
    columns = []
    for model in CATALOGUE:
        columns += [f.column for f in model._meta.concrete_fields if f.column not in columns]
    branches = []
    for kind, model in enumerate(CATALOGUE):
        own = {f.column for f in model._meta.concrete_fields}
        selected = ", ".join(quote(c) if c in own else "NULL" for c in columns)
        table = quote(model._meta.db_table)
        branches.append(
            f"SELECT {kind} AS catalogue_kind, {selected} FROM {table}"
            f" WHERE {quote('conference_id')} = %s"
        )
    order = ", ".join(quote(TicketType._meta.get_field(name).column) for name in ITEM_ORDER)
    sql = " UNION ALL ".join(branches) + f" ORDER BY catalogue_kind, {order}"
    indexes = {
        model: [1 + columns.index(f.column) for f in model._meta.concrete_fields]
        for model in CATALOGUE
    }
    return sql, indexes


def _catalogue_statement(conference) -> tuple[str, list]:
    return _catalogue_sql()[0], [_pk(conference)] * len(CATALOGUE)


def _catalogue_from_rows(rows) -> tuple[list, list]:
    indexes = _catalogue_sql()[1]
    ticket_types, addons = (
        instances_from_rows(model, [row for row in rows if row[0] == kind], indexes[model])
        for kind, model in enumerate(CATALOGUE)
    )
    return ticket_types, addons


def conference_catalogue(conference) -> tuple[list, list]:
    """(ticket types, add-ons) of one conference, each in listing order (ITEM_ORDER).

    One statement, built once: the snapshot runs on every order and every page
    view, under the lock for orders, and compiling the ORM queries each time
    cost more than running them.
    """
    return _catalogue_from_rows(fetch_rows(*_catalogue_statement(conference)))


def _less_waiting(remaining, waiting):
    """What is left of ``remaining`` for newcomers once ``waiting`` seats go to the
    waiting list (None: unlimited)."""
    return None if remaining is None else max(0, remaining - waiting)


def _waiting_to_serve(counts, sale_states) -> tuple[dict, int]:
    """({ticket type pk: seats}, seats for any type) that WAITING entries keep from
    newcomers: only those an offer could serve now, as ``capacity.waiting``
    makes them. Entries for a ticket type off sale (its sale ended, or it was
    withdrawn) keep their place but no seat, or they would keep the venue's
    seats from everyone for good; entries for any type, while one is on sale."""
    on_sale = {pk for pk, state in sale_states.items() if state == "on_sale"}
    per_type = {pk: seats for pk, seats in counts.ticket_waiting.items() if pk in on_sale}
    return per_type, counts.any_waiting if on_sale else 0


def _min_remaining(own, venue):
    if own is None:
        return venue
    if venue is None:
        return own
    return min(own, venue)


def get_availability(conference, *, now=None, counts=None, buyer=None) -> Availability:
    """The availability snapshot of a conference, in a constant number of queries.

    Two statements whatever the number of ticket types and add-ons: the
    catalogue (ticket types and add-ons together), and the seat counts with the
    blocked seats and the seats waited for (``capacity.seat_counts``).
    Inactive ticket types and add-ons are included (with their sale state), in
    the order the ticket page lists them (position, price, name); each entry
    carries its row as ``item``.
    """
    now = now or timezone.now()
    catalogue = conference_catalogue(conference)
    if counts is None:
        counts = _seat_counts_from_rows(
            fetch_rows(*_seat_counts_statement(conference, now, buyer=buyer))
        )
    return _availability(conference, now, counts, catalogue)


def _availability(conference, now, counts, catalogue) -> Availability:
    """The snapshot from a conference row, its seat counts and its catalogue."""
    venue_blocked, blocked_per_type = counts.venue_blocked, counts.ticket_blocked
    venue_capacity = conference.total_capacity or None
    venue_free = _remaining(
        conference.total_capacity, counts.venue_sold + counts.venue_held + venue_blocked
    )
    threshold = conference.low_stock_threshold
    # Not the models' default ordering: it starts with the conference, which
    # costs a join with it on every snapshot.
    catalogue_ticket_types, catalogue_addons = catalogue
    sale_states = {
        ticket_type.pk: ticket_type.sale_state(now) for ticket_type in catalogue_ticket_types
    }
    ticket_waiting, any_waiting = _waiting_to_serve(counts, sale_states)
    venue_waiting = any_waiting + sum(ticket_waiting.values())
    venue_remaining = _less_waiting(venue_free, venue_waiting)

    ticket_types = []
    for ticket_type in catalogue_ticket_types:
        sold = counts.ticket_sold.get(ticket_type.pk, 0)
        held = counts.ticket_held.get(ticket_type.pk, 0)
        blocked = blocked_per_type.get(ticket_type.pk, 0)
        own = _remaining(ticket_type.total_quantity, sold + held + blocked)
        waiting = ticket_waiting.get(ticket_type.pk, 0) + any_waiting
        ticket_types.append(
            ItemAvailability(
                pk=ticket_type.pk,
                slug=ticket_type.slug,
                name=ticket_type.name,
                kind="ticket",
                capacity=ticket_type.total_quantity or None,
                sold=sold,
                held=held,
                blocked=blocked,
                own_remaining=own,
                remaining=_min_remaining(_less_waiting(own, waiting), venue_remaining),
                sale_state=sale_states[ticket_type.pk],
                low_stock_threshold=threshold,
                waiting=waiting,
                free=_min_remaining(own, venue_free),
                item=ticket_type,
            )
        )
    addons = []
    for addon in catalogue_addons:
        sold = counts.addon_sold.get(addon.pk, 0)
        held = counts.addon_held.get(addon.pk, 0)
        own = _remaining(addon.total_quantity, sold + held)
        addons.append(
            ItemAvailability(
                pk=addon.pk,
                slug=addon.slug,
                name=addon.name,
                kind="addon",
                capacity=addon.total_quantity or None,
                sold=sold,
                held=held,
                blocked=0,
                own_remaining=own,
                remaining=own,
                free=own,
                sale_state="on_sale" if addon.is_active else "inactive",
                low_stock_threshold=threshold,
                item=addon,
            )
        )
    return Availability(
        conference=conference,
        computed_at=now,
        capacity=venue_capacity,
        sold=counts.venue_sold,
        held=counts.venue_held,
        blocked=venue_blocked,
        remaining=venue_remaining,
        ticket_types=ticket_types,
        addons=addons,
        buyer_held=counts.buyer_held,
        waiting=venue_waiting,
        free=venue_free,
    )
