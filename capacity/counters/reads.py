"""The fast reads of the seat counters that the availability snapshot and the seat check use.

Bucket ``SOLD`` counts as sold; every held bucket after ``now``'s minute as
held (all of their holds expire after ``now``); the buckets before it are
skipped (all lapsed), and ``now``'s own minute is summed exactly from its few
holds, through the partial index ``order_live_hold_idx``. Exact for any
``now``; the cost grows neither with the orders sold nor with the holds live.
"""

import functools

from django.db import connection as default_connection

from registration.models import OrderLineItem

from .rule import SOLD, expiry_minute, minute_start
from .schema import ADDON, TICKET, VENUE, names


def line_target(kind, ticket_type_id, addon_id):
    return (TICKET, ticket_type_id) if kind == OrderLineItem.Kind.TICKET else (ADDON, addon_id)


def _current_minute_holds(n):
    """FROM/WHERE for the lines of holds still live in the current minute.

    Parameters: the conference, ``now`` and the end of ``now``'s minute, then
    the conference and ``now``'s minute again. Only the holds expiring between
    the two are read; the counters answer for every later minute. ``status =
    'pending'`` is a literal, not a parameter: only then can the planner
    (PostgreSQL and SQLite alike) prove the index predicate and use
    ``order_live_hold_idx`` (conference_id, hold_expires_at WHERE pending).

    The orders are not read at all when the counter of ``now``'s minute is
    empty, which is nearly always (holds last minutes, so the minute a hold
    lapses in is rarely the minute it is read in). A one-time test first: the
    planner cannot be trusted to pick the partial index over the conference's
    other indexes before a fresh table has statistics, as in a launch on a new
    database, and then it would filter every order of the conference.
    """
    return (
        f"FROM {n['line']} l INNER JOIN {n['order']} o ON o.id = l.order_id"
        f" WHERE o.conference_id = %s AND o.status = '{n['pending']}'"
        " AND o.hold_expires_at > %s AND o.hold_expires_at < %s"
        f" AND EXISTS (SELECT 1 FROM {n['counter']} WHERE conference_id = %s"
        " AND expires_minute = %s AND seats <> 0)"
    )


def _counted_buckets(n):
    """WHERE for the counter rows that count at ``now``: sold, or held past ``now``'s minute.

    Parameters: the conference and ``now``'s minute. The buckets before and of
    that minute are left out: their holds have lapsed, or are summed exactly
    from the orders.
    """
    return (
        f"FROM {n['counter']} WHERE conference_id = %s"
        f" AND (expires_minute = {SOLD} OR expires_minute > %s)"
    )


def _moment_params(conference, now):
    """The parameters of the two parts: conference and minute; conference, now,
    minute's end, conference and minute."""
    conference_pk = getattr(conference, "pk", conference)
    minute = expiry_minute(now)
    adapt = default_connection.ops.adapt_datetimefield_value
    end = adapt(minute_start(minute + 1))
    return [conference_pk, minute, conference_pk, adapt(now), end, conference_pk, minute]


@functools.cache
def _seat_totals_sql():
    n = names()
    item = f"CASE WHEN l.kind = '{n['ticket']}' THEN l.ticket_type_id ELSE l.addon_id END"
    return (
        "SELECT target, item_id,"
        f" SUM(CASE WHEN expires_minute = {SOLD} THEN seats ELSE 0 END),"
        f" SUM(CASE WHEN expires_minute = {SOLD} THEN 0 ELSE seats END), 0"
        f" {_counted_buckets(n)} AND seats <> 0 GROUP BY target, item_id"
        f" UNION ALL SELECT l.kind, {item}, 0, 0, SUM(l.quantity) {_current_minute_holds(n)}"
        f" GROUP BY l.kind, {item}"
    )


def seat_totals_query(conference, now) -> tuple[str, list]:
    """The SQL of ``seat_totals`` and its parameters (for EXPLAIN in tests and benches).

    Rows ``(target, item_id, sold, held, held_this_minute)``: a counter target
    with its sold and held seats, or a line kind and item with the seats of its
    holds that lapse later in ``now``'s minute.
    """
    return _seat_totals_sql(), _moment_params(conference, now)


def seat_totals(conference, now) -> dict:
    """Seats of one conference at ``now``: ``{(target, item_id): (sold, held)}``, in one query.

    ``target`` is ``"venue"`` (item 0), ``"ticket"`` or ``"addon"``. Sold seats
    come from the committed counters, held seats from the counters of the
    minutes after ``now``'s plus the holds of ``now``'s own minute that are
    still live, which the partial index ``order_live_hold_idx`` finds among the
    few expiring in that minute. Exact for any ``now``; the cost grows neither
    with the orders sold nor with the holds live.
    """
    with default_connection.cursor() as cursor:
        cursor.execute(*seat_totals_query(conference, now))
        return seat_totals_from_rows(cursor.fetchall())


def seat_totals_from_rows(rows) -> dict:
    """``seat_totals``' answer from the rows of ``seat_totals_query`` (for callers
    that run that statement together with more of their own)."""
    totals = {}
    for target, item_id, sold, held, held_this_minute in rows:
        if held_this_minute:
            # A line kind and its item: the seats of holds lapsing later this minute.
            add_line_seats(totals, target, item_id, 0, int(held_this_minute))
        else:
            _add_seats(totals, (target, int(item_id)), int(sold), int(held))
    return totals


def _add_seats(totals, key, sold, held):
    old_sold, old_held = totals.get(key, (0, 0))
    totals[key] = (old_sold + sold, old_held + held)


def add_line_seats(totals, kind, item_id, sold, held):
    """Add the seats of lines of ``kind`` where they count: a ticket line on the
    venue and its ticket type, an add-on line on its add-on; none on an item
    that was deleted (``item_id`` None)."""
    if kind == OrderLineItem.Kind.TICKET:
        _add_seats(totals, (VENUE, 0), sold, held)
    if item_id is not None:
        _add_seats(totals, (kind, int(item_id)), sold, held)


@functools.cache
def _venue_seats_taken_sql():
    n = names()
    return (
        f"SELECT COALESCE((SELECT SUM(seats) {_counted_buckets(n)}"
        f" AND target = '{n['venue']}' AND item_id = 0), 0)"
        f" + COALESCE((SELECT SUM(l.quantity) {_current_minute_holds(n)}"
        f" AND l.kind = '{n['ticket']}'), 0)"
    )


def venue_seats_taken_query(conference, now) -> tuple[str, list]:
    """The SQL of ``venue_seats_taken`` and its parameters."""
    return _venue_seats_taken_sql(), _moment_params(conference, now)


def venue_seats_taken(conference, now) -> int:
    """Venue seats taken by ticket lines at ``now``: sold plus held, read like ``seat_totals``."""
    with default_connection.cursor() as cursor:
        cursor.execute(*venue_seats_taken_query(conference, now))
        return int(cursor.fetchone()[0])
