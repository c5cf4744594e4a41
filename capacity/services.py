"""Counting and enforcing seats.

The counting rule: a ticket line takes a venue seat when its order is PAID or
PARTIALLY_REFUNDED, or PENDING with ``hold_expires_at`` in the future. A hold
stops counting the instant it expires; no background job is needed. Add-on
lines never take venue seats; they count against their add-on's own quantity
under the same rule. Ticket lines whose ticket type was deleted still take
venue seats. Blocked seats count as taken until released.

``locked_conference`` is the conference lock. Every change that can make seats
scarcer (ordering, late payment, extending a hold, comp tickets, blocking seats,
lowering a capacity) runs inside it, so no race can oversell.
"""

import functools
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from conference.models import Conference
from registration.counters import (
    VENUE,
    seat_totals_from_rows,
    seat_totals_query,
    venue_seats_taken,
)
from registration.models import AddOn, Order, OrderLineItem, TicketType

from .models import BlockedSeats, CapacityChange
from .rows import instances_from_rows, load_rows, run_together, select_sql

# --- the lock -----------------------------------------------------------------


def _pk(conference) -> int:
    """A Conference's primary key, or the primary key it already is."""
    return conference.pk if isinstance(conference, Conference) else conference


# What the lock statement sets in the same round trip when a caller asks for a
# commit that does not wait for the disk (see ``locked_conference``).
_ASYNC_COMMIT_COLUMN = "set_config('synchronous_commit', 'off', true)"


@functools.cache
def _lock_sql(for_update: bool, asynchronous_commit: bool) -> str:
    sql = select_sql(Conference, "id")
    if asynchronous_commit:
        sql = sql.replace("SELECT ", f"SELECT {_ASYNC_COMMIT_COLUMN}, ", 1)
    return sql + " FOR UPDATE" if for_update else sql


def _lock_statement(conference, asynchronous_commit) -> tuple[str, list, range]:
    """The lock's SQL, its parameters, and where the conference's columns sit in its row."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("The conference lock needs transaction.atomic.")
    for_update = settings.SEATKEEPER_SEAT_LOCK and connection.features.has_select_for_update
    asynchronous_commit = asynchronous_commit and connection.vendor == "postgresql"
    skip = 1 if asynchronous_commit else 0
    columns = range(skip, skip + len(Conference._meta.concrete_fields))
    return _lock_sql(for_update, asynchronous_commit), [_pk(conference)], columns


def _locked_from_rows(rows, columns, conference) -> Conference:
    if not rows:
        raise Conference.DoesNotExist(f"No conference with id {_pk(conference)!r}.")
    return instances_from_rows(Conference, rows, columns)[0]


def lock_conference(conference, *, asynchronous_commit=False) -> Conference:
    """Lock the conference row and return a fresh copy of it.

    Must run inside ``transaction.atomic``. On PostgreSQL this is
    ``SELECT … FOR UPDATE``; on SQLite the database runs in IMMEDIATE
    transaction mode, so the enclosing transaction already holds the write lock.
    ``asynchronous_commit``: see ``locked_conference``.
    """
    sql, params, columns = _lock_statement(conference, asynchronous_commit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _locked_from_rows(rows, columns, conference)


def lock_with_availability(conference, *, asynchronous_commit=False, buyer=None):
    """``lock_conference`` and the availability snapshot taken under the lock,
    in one round trip on PostgreSQL (``run_together``): (conference, snapshot).

    The seats are counted as of a moment read before the lock is waited for,
    so holds that lapse during that wait still count: never fewer seats taken
    than there are. Everything else in the snapshot (sale windows, its
    ``computed_at``, from which a new hold's expiry is set) is as of the moment
    the lock was granted.

    ``buyer``: an email whose live held seats the snapshot carries as
    ``buyer_held``, read in the same statement as the seat counts.
    """
    counted_at = timezone.now()
    lock_sql, lock_params, columns = _lock_statement(conference, asynchronous_commit)
    lock_rows, count_rows, catalogue_rows = run_together(
        [
            (lock_sql, lock_params),
            _seat_counts_statement(conference, counted_at, buyer=buyer),
            _catalogue_statement(conference),
        ]
    )
    now = timezone.now()
    conference = _locked_from_rows(lock_rows, columns, conference)
    counts = _seat_counts_from_rows(count_rows)
    return conference, _availability(conference, now, counts, _catalogue_from_rows(catalogue_rows))


@contextmanager
def locked_conference(
    conference, *, asynchronous_commit=False, with_availability=False, buyer=None
):
    """Run a seat-reducing change under the conference lock, in one transaction.

    Yields the freshly locked Conference. With ``SEATKEEPER_SEAT_LOCK`` off (tests
    only, to prove a race harness really races) there is neither lock nor
    transaction around the checks.

    ``asynchronous_commit`` (PostgreSQL; ignored elsewhere, and when a caller's
    transaction encloses this one): the transaction's commit returns before its
    WAL is on disk, set by the lock statement itself (``SET LOCAL``'s scope, no
    extra round trip). The lock is held until the commit returns, so a wait for
    the disk there is spent by every change of the conference one after
    another. A change that must survive a crash turns it back on with
    ``wait_for_disk_at_commit`` before it writes.

    ``with_availability``: yield (conference, availability snapshot) instead,
    both read under the lock in one round trip (``lock_with_availability``),
    the snapshot counting ``buyer``'s held seats when given.
    """
    if not settings.SEATKEEPER_SEAT_LOCK:
        unlocked = Conference.objects.get(pk=_pk(conference))
        if with_availability:
            yield unlocked, get_availability(unlocked, buyer=buyer)
        else:
            yield unlocked
        return
    # SET LOCAL lasts until the outermost transaction ends, and a caller's
    # enclosing transaction may go on to write what must wait for the disk.
    asynchronous_commit = asynchronous_commit and not connection.in_atomic_block
    with transaction.atomic():
        if with_availability:
            yield lock_with_availability(
                conference, asynchronous_commit=asynchronous_commit, buyer=buyer
            )
        else:
            yield lock_conference(conference, asynchronous_commit=asynchronous_commit)


def wait_for_disk_at_commit():
    """Undo ``asynchronous_commit`` for the rest of the current transaction: back
    to the server's own setting (``local``, ``remote_apply``… as configured)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO DEFAULT")


def pause_after_check():
    """Widen the window between checking and writing, when a test asks for it."""
    if settings.SEATKEEPER_PAUSE_AFTER_CHECK:
        time.sleep(settings.SEATKEEPER_PAUSE_AFTER_CHECK)


# --- counting -----------------------------------------------------------------


@dataclass
class SeatCounts:
    """Seats sold (committed) and held (live holds), venue-wide and per item."""

    venue_sold: int = 0
    venue_held: int = 0
    ticket_sold: dict = field(default_factory=lambda: defaultdict(int))
    ticket_held: dict = field(default_factory=lambda: defaultdict(int))
    addon_sold: dict = field(default_factory=lambda: defaultdict(int))
    addon_held: dict = field(default_factory=lambda: defaultdict(int))
    # Blocked seats: venue-wide (per-type blocks included) and per ticket type.
    venue_blocked: int = 0
    ticket_blocked: dict = field(default_factory=dict)
    # Ticket seats in the live holds of the buyer the counts were taken for.
    buyer_held: int = 0


# Marks the blocked-seat rows among the seat totals' rows (no target is called so).
BLOCKED = "blocked"
# Marks the row of one buyer's held seats.
BUYER = "buyer"


@functools.cache
def _blocked_seats_sql() -> str:
    """Blocked seats per ticket type (NULL: venue-wide), in rows shaped like the
    seat totals' ones, so ``count_seats`` can read them in the same statement."""
    return (
        f"SELECT '{BLOCKED}', ticket_type_id, SUM(quantity), 0, 0"
        f" FROM {BlockedSeats._meta.db_table}"
        " WHERE conference_id = %s AND quantity > 0 GROUP BY ticket_type_id"
    )


def _blocked_from_rows(rows) -> tuple[int, dict]:
    """(venue-wide total including per-type blocks, {ticket_type_id: n}) from those rows."""
    per_type = {ticket_type_id: int(seats) for _, ticket_type_id, seats, _, _ in rows}
    return sum(per_type.values()), {pk: n for pk, n in per_type.items() if pk is not None}


@functools.cache
def _buyer_held_sql() -> str:
    """One buyer's ticket seats in live holds (any case of the email), in one row
    shaped like the seat totals' ones."""
    order, line = Order._meta.db_table, OrderLineItem._meta.db_table
    return (
        f"SELECT '{BUYER}', NULL, COALESCE(SUM(l.quantity), 0), 0, 0"
        f" FROM {line} l INNER JOIN {order} o ON o.id = l.order_id"
        f" WHERE o.conference_id = %s AND o.status = '{Order.Status.PENDING}'"
        f" AND o.hold_expires_at > %s AND UPPER(o.email) = UPPER(%s)"
        f" AND l.kind = '{OrderLineItem.Kind.TICKET}'"
    )


def _seat_counts_statement(conference, now, *, buyer=None) -> tuple[str, list]:
    sql, params = seat_totals_query(conference, now)
    params.append(_pk(conference))
    sql = f"{sql} UNION ALL {_blocked_seats_sql()}"
    if buyer is not None:
        sql += f" UNION ALL {_buyer_held_sql()}"
        params += [_pk(conference), connection.ops.adapt_datetimefield_value(now), buyer]
    return sql, params


def _seat_counts_from_rows(rows) -> SeatCounts:
    counts = SeatCounts()
    counts.venue_blocked, counts.ticket_blocked = _blocked_from_rows(
        row for row in rows if row[0] == BLOCKED
    )
    counts.buyer_held = sum(int(row[2]) for row in rows if row[0] == BUYER)
    totals = seat_totals_from_rows(row for row in rows if row[0] not in (BLOCKED, BUYER))
    for (target, item_id), (sold, held) in totals.items():
        if target == VENUE:
            counts.venue_sold, counts.venue_held = sold, held
        elif target == OrderLineItem.Kind.TICKET:
            counts.ticket_sold[item_id], counts.ticket_held[item_id] = sold, held
        else:
            counts.addon_sold[item_id], counts.addon_held[item_id] = sold, held
    return counts


def count_seats(conference, now) -> SeatCounts:
    """Count the seats of one conference, and its blocked seats, in a single query.

    Sold seats and held seats are read from the seat counters (kept by
    database triggers, see ``registration.counters``); only the holds expiring
    later in ``now``'s minute are summed live. The cost grows neither with the
    orders sold nor with the holds live. The blocked seats come in the same
    statement: one round trip less under the lock, on every order.
    """
    (rows,) = run_together([_seat_counts_statement(conference, now)])
    return _seat_counts_from_rows(rows)


def count_blocked_seats(conference) -> tuple[int, dict]:
    """Blocked seats: (venue-wide total including per-type blocks, {ticket_type_id: n})."""
    with connection.cursor() as cursor:
        cursor.execute(_blocked_seats_sql(), [_pk(conference)])
        return _blocked_from_rows(cursor.fetchall())


def _remaining(capacity, taken):
    """``None`` for unlimited (capacity 0); never negative."""
    if not capacity:
        return None
    return max(0, capacity - taken)


def get_global_sold_count(conference) -> int:
    """Venue seats taken by ticket lines right now (sold plus live holds).

    One query: the venue counter plus the live holds.
    """
    return venue_seats_taken(conference, timezone.now())


def get_global_remaining(conference) -> int | None:
    """Venue seats left: ``None`` when unlimited, never negative. Blocked seats are taken."""
    if not conference.total_capacity:
        return None
    blocked, _ = count_blocked_seats(conference)
    return _remaining(conference.total_capacity, get_global_sold_count(conference) + blocked)


def venue_refusal(conference, remaining, wanted) -> str | None:
    """The words for refusing ``wanted`` venue seats, or None when they fit."""
    if remaining is None or (0 < remaining and wanted <= remaining):
        return None
    if remaining <= 0:
        return (
            f"{conference.name} is sold out: all {conference.total_capacity} seats "
            f"of the venue capacity are taken."
        )
    return f"Only {remaining} tickets remaining for {conference.name}."


def validate_global_capacity(conference, desired_total) -> None:
    """Refuse ``desired_total`` more venue seats unless they are free.

    Must run inside ``transaction.atomic``: takes the conference lock first, then
    counts, so a stale in-memory conference cannot bypass it. Raises
    ValidationError mentioning ``sold out`` and the venue capacity when nothing
    is left, or ``Only {remaining} tickets remaining`` when too few are.
    """
    conference = lock_conference(conference)
    message = venue_refusal(conference, get_global_remaining(conference), desired_total)
    if message:
        raise ValidationError(message, code="venue_capacity")


# --- the availability snapshot -------------------------------------------------


@dataclass(frozen=True)
class ItemAvailability:
    """How many of one ticket type or add-on can be bought right now."""

    pk: int
    slug: str
    name: str
    kind: str  # "ticket" or "addon"
    capacity: int | None  # None: unlimited
    sold: int
    held: int
    blocked: int
    own_remaining: int | None  # against its own quantity only
    remaining: int | None  # what can really be bought (tickets: also the venue)
    sale_state: str  # "on_sale", "inactive", "not_yet", "ended"
    low_stock_threshold: int
    # The TicketType or AddOn row the snapshot was built from, so callers (the
    # order form, the checks under the lock) need not load it again.
    item: object = field(default=None, compare=False, repr=False)

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def sold_out(self):
        return self.remaining == 0

    @property
    def on_sale(self):
        return self.sale_state == "on_sale"

    @property
    def low_stock(self):
        return self.remaining is not None and 0 < self.remaining <= self.low_stock_threshold

    @property
    def percent_taken(self):
        if not self.capacity:
            return 0
        return min(100, round(100 * self.taken / self.capacity))

    def is_purchase_permitted(self, quantity) -> tuple[bool, str]:
        """(allowed, reason) for buying ``quantity`` against this item's own stock."""
        if self.own_remaining is None or quantity <= self.own_remaining:
            return True, ""
        if self.own_remaining == 0:
            return False, f"{self.name} is sold out."
        if self.kind == "ticket":
            return False, f"Only {self.own_remaining} tickets remaining for {self.name}."
        return False, f"Only {self.own_remaining} left of {self.name}."

    def as_dict(self):
        """This item in the availability API (SPEC: Public pages)."""
        return {
            "slug": self.slug,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
        }


@dataclass(frozen=True)
class Availability:
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
    # Ticket seats in the live holds of the buyer the snapshot was taken for, if any.
    buyer_held: int = 0

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def sold_out(self):
        return self.remaining == 0

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

    @property
    def percent_taken(self):
        if not self.capacity:
            return 0
        return min(100, round(100 * self.taken / self.capacity))

    def ticket_type(self, key):
        return next(item for item in self.ticket_types if key in (item.pk, item.slug))

    def addon(self, key):
        return next(item for item in self.addons if key in (item.pk, item.slug))

    def is_purchase_permitted(self, seats) -> tuple[bool, str]:
        """(allowed, reason) for ``seats`` more venue seats."""
        message = venue_refusal(self.conference, self.remaining, seats)
        return message is None, message or ""

    def as_dict(self):
        """The availability API's answer (SPEC: Public pages); inactive items are left out.

        ``remaining`` of a ticket type is what can really be bought: the smaller
        of its own and the venue's remaining seats (None only when both are unlimited).
        """
        return {
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
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
    (rows,) = run_together([_catalogue_statement(conference)])
    return _catalogue_from_rows(rows)


def _min_remaining(own, venue):
    if own is None:
        return venue
    if venue is None:
        return own
    return min(own, venue)


def get_availability(conference, *, now=None, counts=None, buyer=None) -> Availability:
    """The availability snapshot of a conference, in a constant number of queries.

    Two statements whatever the number of ticket types and add-ons, sent in one
    round trip on PostgreSQL: the catalogue (ticket types and add-ons together),
    and the seat counts with the blocked seats (``count_seats``).
    Inactive ticket types and add-ons are included (with their sale state), in
    the order the ticket page lists them (position, price, name); each entry
    carries its row as ``item``.
    """
    now = now or timezone.now()
    statements = [_catalogue_statement(conference)]
    if counts is None:
        statements.append(_seat_counts_statement(conference, now, buyer=buyer))
    catalogue_rows, *count_rows = run_together(statements)
    counts = counts or _seat_counts_from_rows(count_rows[0])
    return _availability(conference, now, counts, _catalogue_from_rows(catalogue_rows))


def _availability(conference, now, counts, catalogue) -> Availability:
    """The snapshot from a conference row, its seat counts and its catalogue."""
    venue_blocked, blocked_per_type = counts.venue_blocked, counts.ticket_blocked
    venue_capacity = conference.total_capacity or None
    venue_remaining = _remaining(
        conference.total_capacity, counts.venue_sold + counts.venue_held + venue_blocked
    )
    threshold = conference.low_stock_threshold

    ticket_types = []
    # Not the models' default ordering: it starts with the conference, which
    # costs a join with it on every snapshot.
    catalogue_ticket_types, catalogue_addons = catalogue
    for ticket_type in catalogue_ticket_types:
        sold = counts.ticket_sold.get(ticket_type.pk, 0)
        held = counts.ticket_held.get(ticket_type.pk, 0)
        blocked = blocked_per_type.get(ticket_type.pk, 0)
        own = _remaining(ticket_type.total_quantity, sold + held + blocked)
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
                remaining=_min_remaining(own, venue_remaining),
                sale_state=ticket_type.sale_state(now),
                low_stock_threshold=threshold,
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
    )


# --- capacity overrides ---------------------------------------------------------
#
# The only way to change a capacity after creation, to set seats aside or to give
# them back. Each runs under the conference lock, refuses what would leave more
# seats taken than the cap allows unless forced, and writes a CapacityChange.

MAX_CAPACITY = 1_000_000


def whole_number(value, what, *, minimum=0) -> int:
    """``value`` as an int from ``minimum`` to MAX_CAPACITY, or ValidationError naming ``what``."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, int):
        raise ValidationError(f"{what.capitalize()} must be a whole number.", code="invalid")
    if value < minimum:
        if minimum == 0:
            raise ValidationError(f"{what.capitalize()} cannot be negative.", code="negative")
        raise ValidationError(f"{what.capitalize()} must be at least {minimum}.", code="too_small")
    if value > MAX_CAPACITY:
        raise ValidationError(
            f"{what.capitalize()} cannot be more than {MAX_CAPACITY:,}.", code="too_large"
        )
    return value


def clean_reason(reason) -> str:
    """The reason for an override, stripped; ValidationError when blank."""
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise ValidationError(
            "Give a reason for this change; it goes on the record.", code="reason_required"
        )
    if len(reason) > 1000:
        raise ValidationError("Keep the reason under 1000 characters.", code="reason_too_long")
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
    noun: str  # "seats", "Regular tickets", "of Workshop day"

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
        verb = "is" if self.taken == 1 and self.noun == "seats" else "are"
        noun = "seat" if self.taken == 1 and self.noun == "seats" else self.noun
        return f"{self.taken} {noun} {verb} already taken; lower to {self.taken} or more, or force."


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
            noun="seats",
        )
    availability = availability or get_availability(target.conference)
    if isinstance(target, TicketType):
        item = availability.ticket_type(target.pk)
        noun = f"{target.name} tickets"
    else:
        item = availability.addon(target.pk)
        noun = f"of {target.name}"
    return CapacityState(
        capacity=target.total_quantity,
        sold=item.sold,
        held=item.held,
        blocked=item.blocked,
        noun=noun,
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
    with locked_conference(conference_pk) as conference:
        if isinstance(target, Conference):
            current = conference
        else:
            current = model.objects.filter(pk=target.pk, conference=conference).first()
            if current is None:
                raise ValidationError(f"{target.name} no longer exists.", code="gone")
            current.conference = conference
        old = getattr(current, field)
        if old != total:
            state = capacity_state(current)
            refusal = state.refusal(total, force=force)
            if refusal:
                raise ValidationError(refusal, code="below_taken")
            pause_after_check()
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
        return "No seats are free to block; release seats or raise the capacity, or force."
    return f"Only {free} seats are free; block {free} or fewer, or force."


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
        raise ValidationError('Give the blocked seats a label, such as "speakers".')
    if len(label) > 120:
        raise ValidationError("Keep the label under 120 characters.")
    reason = clean_reason(reason)
    with locked_conference(conference) as conference:
        if ticket_type is not None:
            pk = ticket_type.pk if isinstance(ticket_type, TicketType) else ticket_type
            ticket_type = TicketType.objects.filter(pk=pk, conference=conference).first()
            if ticket_type is None:
                raise ValidationError(f"That ticket type is not sold for {conference.name}.")
        availability = get_availability(conference)
        refusal = block_refusal(availability, quantity, ticket_type=ticket_type)
        if refusal and not force:
            raise ValidationError(refusal, code="too_few_free_seats")
        pause_after_check()
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
    with locked_conference(block.conference_id) as conference:
        current = (
            BlockedSeats.objects.select_related("ticket_type")
            .filter(pk=block.pk, conference=conference)
            .first()
        )
        if current is None or current.quantity == 0:
            raise ValidationError("These seats have already been released.", code="released")
        quantity = current.quantity if quantity is None else quantity
        if quantity > current.quantity:
            raise ValidationError(
                f"Only {current.quantity} seats are blocked for {current.label}; "
                f"release {current.quantity} or fewer.",
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
    block.quantity = remaining
    return block
