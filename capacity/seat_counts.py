"""Seat counts of one conference: sold, held, blocked and waited for, in one statement."""

import functools
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection

from conference.models import Conference
from registration.models import Order, OrderLineItem, WaitingListEntry

from .counters import VENUE, seat_totals_from_rows, seat_totals_query
from .models import BlockedSeats
from .rows import fetch_rows


def _pk(conference) -> int:
    """A Conference's primary key, or the primary key it already is."""
    return conference.pk if isinstance(conference, Conference) else conference


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
    # Ticket seats in the live holds of the buyer the counts were taken for
    # (None: taken for no buyer).
    buyer_held: int | None = None
    # Seats WAITING entries of the waiting list wait for: per ticket type, and
    # for "any ticket type".
    ticket_waiting: dict = field(default_factory=dict)
    any_waiting: int = 0


# Marks the blocked-seat rows among the seat totals' rows (no target is called so).
BLOCKED = "blocked"
# Marks the rows of seats waited for (no target is called so either).
WAITING = "waiting"
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


@functools.cache
def _waiting_seats_sql() -> str:
    """Seats WAITING entries wait for, per ticket type (NULL: any ticket type), in
    rows shaped like the seat totals' ones."""
    return (
        f"SELECT '{WAITING}', ticket_type_id, SUM(quantity), 0, 0"
        f" FROM {WaitingListEntry._meta.db_table}"
        f" WHERE conference_id = %s AND status = '{WaitingListEntry.Status.WAITING}'"
        " GROUP BY ticket_type_id"
    )


def _blocked_from_rows(rows) -> tuple[int, dict]:
    """(venue-wide total including per-type blocks, {ticket_type_id: n}) from those rows."""
    per_type = {ticket_type_id: int(seats) for _, ticket_type_id, seats, _, _ in rows}
    return sum(per_type.values()), {pk: n for pk, n in per_type.items() if pk is not None}


@functools.cache
def _buyer_held_sql() -> str:
    """One buyer's ticket seats in live holds (any case of the email), in one row
    shaped like the seat totals' ones. Parameters: ``_buyer_held_params``."""
    order, line = Order._meta.db_table, OrderLineItem._meta.db_table
    # The buyer's few orders come from their index (order_email_idx), each one's
    # lines by its key. Everything else is asked of those few orders, not in the
    # WHERE: with statistics taken before a rush, an index on the conference's
    # live holds or statuses looks as good as the buyer's, and every order would
    # then pass over every live hold. A join here is planned as a pass over every line.
    seats = (
        f"SELECT SUM(l.quantity) FROM {line} l"
        f" WHERE l.order_id = o.id AND l.kind = '{OrderLineItem.Kind.TICKET}'"
    )
    live = (
        f"o.conference_id = %s AND o.status = '{Order.Status.PENDING}' AND o.hold_expires_at > %s"
    )
    return (
        f"SELECT '{BUYER}', NULL, COALESCE(SUM(CASE WHEN {live} THEN ({seats}) END), 0), 0, 0"
        f" FROM {order} o WHERE UPPER(o.email) = UPPER(%s)"
    )


def _buyer_held_params(conference, buyer, now) -> list:
    return [_pk(conference), connection.ops.adapt_datetimefield_value(now), buyer]


def _seat_counts_statement(conference, now, *, buyer=None) -> tuple[str, list]:
    sql, params = seat_totals_query(conference, now)
    params += [_pk(conference)] * 2
    sql = f"{sql} UNION ALL {_blocked_seats_sql()} UNION ALL {_waiting_seats_sql()}"
    if buyer is not None:
        sql += f" UNION ALL {_buyer_held_sql()}"
        params += _buyer_held_params(conference, buyer, now)
    return sql, params


def _seat_counts_from_rows(rows) -> SeatCounts:
    counts = SeatCounts()
    counts.venue_blocked, counts.ticket_blocked = _blocked_from_rows(
        row for row in rows if row[0] == BLOCKED
    )
    buyer_rows = [int(row[2]) for row in rows if row[0] == BUYER]
    counts.buyer_held = sum(buyer_rows) if buyer_rows else None
    for _, ticket_type_id, seats, _, _ in (row for row in rows if row[0] == WAITING):
        if ticket_type_id is None:
            counts.any_waiting = int(seats)
        else:
            counts.ticket_waiting[ticket_type_id] = int(seats)
    totals = seat_totals_from_rows(row for row in rows if row[0] not in (BLOCKED, BUYER, WAITING))
    for (target, item_id), (sold, held) in totals.items():
        if target == VENUE:
            counts.venue_sold, counts.venue_held = sold, held
        elif target == OrderLineItem.Kind.TICKET:
            counts.ticket_sold[item_id], counts.ticket_held[item_id] = sold, held
        else:
            counts.addon_sold[item_id], counts.addon_held[item_id] = sold, held
    return counts


def count_seats(conference, now) -> SeatCounts:
    """Count the seats of one conference, its blocked seats and the seats waited
    for, in a single query.

    Sold seats and held seats are read from the seat counters (kept by
    database triggers, see ``capacity.counters``); only the holds expiring
    later in ``now``'s minute are summed live. The cost grows neither with the
    orders sold nor with the holds live. The blocked seats and the seats waited
    for come in the same statement.
    """
    return _seat_counts_from_rows(fetch_rows(*_seat_counts_statement(conference, now)))


def count_buyer_held(conference, buyer, now) -> int:
    """One buyer's ticket seats in live holds (any letter case of the email)."""
    with connection.cursor() as cursor:
        cursor.execute(_buyer_held_sql(), _buyer_held_params(conference, buyer, now))
        return int(cursor.fetchone()[2])


def count_blocked_seats(conference) -> tuple[int, dict]:
    """Blocked seats: (venue-wide total including per-type blocks, {ticket_type_id: n})."""
    with connection.cursor() as cursor:
        cursor.execute(_blocked_seats_sql(), [_pk(conference)])
        return _blocked_from_rows(cursor.fetchall())
