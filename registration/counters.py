"""Seat counters, kept by the database itself: committed seats and held seats by expiry minute.

The seat check runs under the conference lock on every order, so it must not
grow with sales, nor with the holds of a launch rush. Seats are therefore kept
in ``SeatCounter`` rows, one per conference, bucket and target (the venue,
each ticket type, each add-on):

- bucket ``expires_minute = 0``: committed seats, the lines of PAID or
  PARTIALLY_REFUNDED orders;
- bucket ``expires_minute = m > 0``: held seats, the lines of PENDING orders
  whose hold expires during minute ``m`` (``floor(epoch seconds / 60)``, UTC).

Lines of any other order are in no bucket. A hold stops counting the instant
it expires, and no job moves its seats out when it does: a reader at ``now``
(any ``now``, past or future) takes bucket 0 as sold and every bucket after
the current minute as held (all of their holds expire after ``now``), skips
the buckets before the current minute (all lapsed), and sums the current
minute exactly from its few holds, through the partial index
``order_live_hold_idx``. Blocked seats stay a live sum of their small table.

The counters are maintained by database triggers on ``registration_order``
(status, hold expiry or conference changed, order deleted) and
``registration_orderlineitem`` (line inserted, deleted, or its quantity, kind,
ticket type, add-on or order changed), on PostgreSQL and on SQLite. Triggers,
not Python, because orders and lines are also written by the admin, by
``QuerySet.update()``, by ``SET_NULL`` when a ticket type is deleted, and by
tests building states with the ORM: whatever writes the rows, the counters
move in the same statement and the same transaction, and roll back with it.

A negative change never creates a counter row, only a positive one does: a
consistent database always has the row already, and emptying the tables in any
order (Django's test flush on SQLite) cannot leave negative rows behind. The
rows of lapsed buckets are emptied when ``expire_holds`` marks their orders
EXPIRED, and then deleted by it.

SQLite migrations rebuild a table by copying it, dropping the original and
renaming the copy, which fails while a trigger on another table reads the
dropped one. On SQLite the triggers are therefore dropped before every
``migrate`` and installed again (with a full recount) after it; see
``RegistrationConfig.ready``.

``python manage.py check_seats [--fix]`` recomputes every counter, sold and
held, from the lines and reports (or repairs) any drift.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Case, F, Q, Sum, When

from .models import Order, OrderLineItem, SeatCounter

VENUE = SeatCounter.Target.VENUE.value
TICKET = SeatCounter.Target.TICKET.value
ADDON = SeatCounter.Target.ADDON.value

SEAT_CHANGE_VIEW = "seatkeeper_seat_change"
TRIGGER_NAMES = (
    "seatkeeper_line_inserted",
    "seatkeeper_line_deleted",
    "seatkeeper_line_updated",
    "seatkeeper_order_updated",
    "seatkeeper_order_deleted",
    "seatkeeper_apply_seat_change",
)

# The bucket of committed seats; a held bucket is the minute its holds expire.
SOLD = 0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def expiry_minute(moment) -> int:
    """The held bucket of a hold expiring at ``moment``: whole minutes since the epoch.

    Integer arithmetic on the timedelta, not ``timestamp()``: a float cannot
    tell 10:15:59.999999 from 10:16:00 so far from 1970.
    """
    return (moment - EPOCH) // MINUTE


def minute_start(minute) -> datetime:
    """When minute ``minute`` (as from ``expiry_minute``) begins, in UTC."""
    return EPOCH + minute * MINUTE


# --- the triggers ----------------------------------------------------------------


def _names():
    """Table names and the committed statuses as SQL literals, from the models."""
    committed = ", ".join(f"'{status}'" for status in Order.COMMITTED_STATUSES)
    return {
        "counter": SeatCounter._meta.db_table,
        "order": Order._meta.db_table,
        "line": OrderLineItem._meta.db_table,
        "committed": f"({committed})",
        "pending": Order.Status.PENDING.value,
        "view": SEAT_CHANGE_VIEW,
        "ticket": OrderLineItem.Kind.TICKET.value,
        "addon": OrderLineItem.Kind.ADDON.value,
        "venue": VENUE,
    }


def _bucket(vendor, row):
    """SQL for the bucket of order ``row``: 0 if committed, its expiry minute if PENDING.

    NULL for every other status (and for a PENDING order without a hold, which
    the database refuses anyway): its lines are in no bucket. The minute is
    ``expiry_minute`` in SQL. On SQLite only the first 19 characters of the
    stored text ('YYYY-MM-DD HH:MM:SS', the way Django writes UTC datetimes,
    fractions after them) are read: ``strftime`` rounds fractions to the
    nearest millisecond, which would put 10:15:59.9996 into minute 10:16.
    """
    n = _names()
    if vendor == "postgresql":
        minute = f"floor(extract(epoch FROM {row}.hold_expires_at) / 60)::bigint"
    else:
        seconds = f"CAST(strftime('%s', substr({row}.hold_expires_at, 1, 19)) AS INTEGER)"
        # Floor division, as in Python and on PostgreSQL: SQLite's integer
        # division truncates towards zero, which differs before 1970.
        minute = f"(({seconds}) - ((({seconds}) % 60) + 60) % 60) / 60"
    return (
        f"(CASE WHEN {row}.status IN {n['committed']} THEN {SOLD}"
        f" WHEN {row}.status = '{n['pending']}' THEN {minute} END)"
    )


_LINE_CHANGED_WHEN = (
    "OLD.quantity IS DISTINCT FROM NEW.quantity OR OLD.kind IS DISTINCT FROM NEW.kind"
    " OR OLD.ticket_type_id IS DISTINCT FROM NEW.ticket_type_id"
    " OR OLD.addon_id IS DISTINCT FROM NEW.addon_id OR OLD.order_id IS DISTINCT FROM NEW.order_id"
)


def _order_moved_when(vendor):
    """WHEN of the order update trigger: its lines change bucket, or conference within one."""
    old, new = _bucket(vendor, "OLD"), _bucket(vendor, "NEW")
    return (
        f"{old} IS DISTINCT FROM {new}"
        f" OR (OLD.conference_id IS DISTINCT FROM NEW.conference_id AND {new} IS NOT NULL)"
    )


def _postgresql_statements():
    n = _names()
    # Tickets first, venue row first: every writer locks a bucket's rows in the
    # same order, so two transactions never wait on each other crosswise.
    order_lines = (
        f"SELECT kind, ticket_type_id, addon_id, SUM(quantity) AS seats FROM {n['line']}"
        " WHERE order_id = {id} GROUP BY kind, ticket_type_id, addon_id"
        " ORDER BY kind DESC, ticket_type_id, addon_id"
    )
    return [
        # Add ``delta`` seats to one counter row of one bucket. Only a positive
        # change may create the row.
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_bump_counter(
            p_conference bigint, p_minute bigint, p_target text, p_item bigint, p_delta bigint
        ) RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
            IF p_delta > 0 THEN
                INSERT INTO {n["counter"]} (conference_id, expires_minute, target, item_id, seats)
                VALUES (p_conference, p_minute, p_target, p_item, p_delta)
                ON CONFLICT (conference_id, expires_minute, target, item_id)
                DO UPDATE SET seats = {n["counter"]}.seats + EXCLUDED.seats;
            ELSIF p_delta < 0 THEN
                UPDATE {n["counter"]} SET seats = seats + p_delta
                WHERE conference_id = p_conference AND expires_minute = p_minute
                    AND target = p_target AND item_id = p_item;
            END IF;
        END
        $body$
        """,
        # Which counters a line of a given kind moves: a ticket line the venue and
        # its ticket type (if it still exists), an add-on line its add-on; all in
        # the bucket of the line's order, none when the order has no bucket.
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_add_seats(
            p_conference bigint, p_minute bigint, p_kind text, p_ticket_type bigint,
            p_addon bigint, p_delta bigint
        ) RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
            IF p_delta = 0 OR p_conference IS NULL OR p_minute IS NULL THEN
                RETURN;
            END IF;
            IF p_kind = '{n["ticket"]}' THEN
                PERFORM seatkeeper_bump_counter(p_conference, p_minute, '{n["venue"]}', 0, p_delta);
                IF p_ticket_type IS NOT NULL THEN
                    PERFORM seatkeeper_bump_counter(
                        p_conference, p_minute, '{n["ticket"]}', p_ticket_type, p_delta);
                END IF;
            ELSIF p_kind = '{n["addon"]}' AND p_addon IS NOT NULL THEN
                PERFORM seatkeeper_bump_counter(
                    p_conference, p_minute, '{n["addon"]}', p_addon, p_delta);
            END IF;
        END
        $body$
        """,
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_line_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        DECLARE
            order_conference bigint;
            order_minute bigint;
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                SELECT o.conference_id, {_bucket("postgresql", "o")}
                INTO order_conference, order_minute
                FROM {n["order"]} o WHERE o.id = OLD.order_id;
                PERFORM seatkeeper_add_seats(order_conference, order_minute, OLD.kind,
                    OLD.ticket_type_id, OLD.addon_id, -OLD.quantity);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                SELECT o.conference_id, {_bucket("postgresql", "o")}
                INTO order_conference, order_minute
                FROM {n["order"]} o WHERE o.id = NEW.order_id;
                PERFORM seatkeeper_add_seats(order_conference, order_minute, NEW.kind,
                    NEW.ticket_type_id, NEW.addon_id, NEW.quantity);
            END IF;
            RETURN NULL;
        END
        $body$
        """,
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_order_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        DECLARE
            line record;
            old_minute bigint;
            new_minute bigint;
        BEGIN
            old_minute := {_bucket("postgresql", "OLD")};
            IF old_minute IS NOT NULL THEN
                FOR line IN {order_lines.format(id="OLD.id")} LOOP
                    PERFORM seatkeeper_add_seats(OLD.conference_id, old_minute, line.kind,
                        line.ticket_type_id, line.addon_id, -line.seats);
                END LOOP;
            END IF;
            IF TG_OP = 'UPDATE' THEN
                new_minute := {_bucket("postgresql", "NEW")};
                IF new_minute IS NOT NULL THEN
                    FOR line IN {order_lines.format(id="NEW.id")} LOOP
                        PERFORM seatkeeper_add_seats(NEW.conference_id, new_minute, line.kind,
                            line.ticket_type_id, line.addon_id, line.seats);
                    END LOOP;
                END IF;
            END IF;
            RETURN NULL;
        END
        $body$
        """,
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['line']}" for name in TRIGGER_NAMES[:3]],
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['order']}" for name in TRIGGER_NAMES[3:5]],
        f"""
        CREATE TRIGGER seatkeeper_line_inserted AFTER INSERT ON {n["line"]}
        FOR EACH ROW EXECUTE FUNCTION seatkeeper_line_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_deleted AFTER DELETE ON {n["line"]}
        FOR EACH ROW EXECUTE FUNCTION seatkeeper_line_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_updated
        AFTER UPDATE OF quantity, kind, ticket_type_id, addon_id, order_id ON {n["line"]}
        FOR EACH ROW WHEN ({_LINE_CHANGED_WHEN})
        EXECUTE FUNCTION seatkeeper_line_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_updated
        AFTER UPDATE OF status, hold_expires_at, conference_id ON {n["order"]}
        FOR EACH ROW WHEN ({_order_moved_when("postgresql")})
        EXECUTE FUNCTION seatkeeper_order_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        FOR EACH ROW WHEN ({_bucket("postgresql", "OLD")} IS NOT NULL)
        EXECUTE FUNCTION seatkeeper_order_changed()
        """,
    ]


def _postgresql_drop_statements():
    n = _names()
    return [
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['line']}" for name in TRIGGER_NAMES[:3]],
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['order']}" for name in TRIGGER_NAMES[3:5]],
        "DROP FUNCTION IF EXISTS seatkeeper_order_changed()",
        "DROP FUNCTION IF EXISTS seatkeeper_line_changed()",
        "DROP FUNCTION IF EXISTS"
        " seatkeeper_add_seats(bigint, bigint, text, bigint, bigint, bigint)",
        "DROP FUNCTION IF EXISTS seatkeeper_bump_counter(bigint, bigint, text, bigint, bigint)",
    ]


def _sqlite_statements():
    n = _names()
    order_bucket = _bucket("sqlite", "o")
    # SQLite has no stored procedures: inserting into this empty view is the
    # procedure call, and its INSTEAD OF trigger is the procedure. A row without
    # a bucket (its order takes no seats) is ignored by the trigger's WHEN.
    line_change = (
        "INSERT INTO {view} (conference_id, expires_minute, kind, ticket_type_id, addon_id, seats)"
        " SELECT o.conference_id, {order_bucket}, {row}.kind, {row}.ticket_type_id,"
        " {row}.addon_id, {sign}{row}.quantity"
        " FROM {order} o WHERE o.id = {row}.order_id;"
    )
    order_change = (
        "INSERT INTO {view} (conference_id, expires_minute, kind, ticket_type_id, addon_id, seats)"
        " SELECT {row}.conference_id, {row_bucket}, kind, ticket_type_id, addon_id,"
        " {sign}SUM(quantity)"
        " FROM {line} WHERE order_id = {row}.id AND {row_bucket} IS NOT NULL"
        " GROUP BY kind, ticket_type_id, addon_id;"
    )

    def lines_of(row, sign):
        return line_change.format(row=row, sign=sign, order_bucket=order_bucket, **n)

    def order(row, sign):
        return order_change.format(row=row, sign=sign, row_bucket=_bucket("sqlite", row), **n)

    return [
        *_sqlite_drop_statements(),
        f"""
        CREATE VIEW {n["view"]} AS SELECT 0 AS conference_id, 0 AS expires_minute,
            '' AS kind, 0 AS ticket_type_id, 0 AS addon_id, 0 AS seats WHERE 0
        """,
        f"""
        CREATE TRIGGER seatkeeper_apply_seat_change INSTEAD OF INSERT ON {n["view"]}
        WHEN NEW.expires_minute IS NOT NULL
        BEGIN
            INSERT OR IGNORE INTO {n["counter"]}
                (conference_id, expires_minute, target, item_id, seats)
                SELECT NEW.conference_id, NEW.expires_minute, '{n["venue"]}', 0, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["ticket"]}'
                UNION ALL
                SELECT NEW.conference_id, NEW.expires_minute, '{n["ticket"]}',
                    NEW.ticket_type_id, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["ticket"]}'
                    AND NEW.ticket_type_id IS NOT NULL
                UNION ALL
                SELECT NEW.conference_id, NEW.expires_minute, '{n["addon"]}', NEW.addon_id, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["addon"]}' AND NEW.addon_id IS NOT NULL;
            UPDATE {n["counter"]} SET seats = seats + NEW.seats
            WHERE conference_id = NEW.conference_id AND expires_minute = NEW.expires_minute AND (
                (NEW.kind = '{n["ticket"]}' AND target = '{n["venue"]}' AND item_id = 0)
                OR (NEW.kind = '{n["ticket"]}' AND target = '{n["ticket"]}'
                    AND item_id = NEW.ticket_type_id)
                OR (NEW.kind = '{n["addon"]}' AND target = '{n["addon"]}'
                    AND item_id = NEW.addon_id)
            );
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_inserted AFTER INSERT ON {n["line"]}
        BEGIN
            {lines_of("NEW", "")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_deleted AFTER DELETE ON {n["line"]}
        BEGIN
            {lines_of("OLD", "-")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_updated
        AFTER UPDATE OF quantity, kind, ticket_type_id, addon_id, order_id ON {n["line"]}
        WHEN {_LINE_CHANGED_WHEN.replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
            {lines_of("OLD", "-")}
            {lines_of("NEW", "")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_updated
        AFTER UPDATE OF status, hold_expires_at, conference_id ON {n["order"]}
        WHEN {_order_moved_when("sqlite").replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
            {order("OLD", "-")}
            {order("NEW", "")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        WHEN {_bucket("sqlite", "OLD")} IS NOT NULL
        BEGIN
            {order("OLD", "-")}
        END
        """,
    ]


def _sqlite_drop_statements():
    return [
        *[f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES],
        f"DROP VIEW IF EXISTS {SEAT_CHANGE_VIEW}",
    ]


def install_seat_triggers(connection=None):
    """Create (or replace) the counter triggers on ``connection``'s database."""
    connection = connection or default_connection
    statements = {
        "postgresql": _postgresql_statements,
        "sqlite": _sqlite_statements,
    }.get(connection.vendor)
    if statements is None:
        raise NotImplementedError(f"No seat counter triggers for {connection.vendor}.")
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements():
            cursor.execute(statement)


def drop_seat_triggers(connection=None):
    """Remove the counter triggers (the counters then stop following the lines)."""
    connection = connection or default_connection
    statements = {
        "postgresql": _postgresql_drop_statements,
        "sqlite": _sqlite_drop_statements,
    }.get(connection.vendor)
    if statements is None:
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements():
            cursor.execute(statement)


def seat_triggers_installed(connection=None) -> bool:
    """Whether all five counter triggers exist on ``connection``'s database."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s",
                ["seatkeeper_%"],
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                ["seatkeeper_%"],
            )
        found = cursor.fetchone()[0]
    expected = len(TRIGGER_NAMES) - (0 if connection.vendor == "sqlite" else 1)
    return found == expected


def _counter_table_current(connection):
    """Whether the counter table has every column of the model, all of which the triggers write.

    Not so before the migration creating it, nor after migrating back past one
    that added a column.
    """
    table = SeatCounter._meta.db_table
    with connection.cursor() as cursor:
        if table not in connection.introspection.table_names(cursor):
            return False
        description = connection.introspection.get_table_description(cursor, table)
    columns = {column.name for column in description}
    return {field.column for field in SeatCounter._meta.concrete_fields} <= columns


def before_migrate(sender, using="default", **kwargs):
    """pre_migrate: on SQLite, take the triggers away so table rebuilds can run."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor == "sqlite":
        drop_seat_triggers(connection)


def after_migrate(sender, using="default", **kwargs):
    """post_migrate: make sure the triggers exist; recount whatever they missed."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor not in ("sqlite", "postgresql") or not _counter_table_current(connection):
        return
    was_installed = seat_triggers_installed(connection)
    install_seat_triggers(connection)
    if connection.vendor == "sqlite" or not was_installed:
        rebuild_seat_counters(connection)


# --- reading the counts ------------------------------------------------------------


def _line_target(kind, ticket_type_id, addon_id):
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
    n = _names()
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
            _add_line_seats(totals, target, item_id, 0, int(held_this_minute))
        else:
            _add_seats(totals, (target, int(item_id)), int(sold), int(held))
    return totals


def _add_seats(totals, key, sold, held):
    old_sold, old_held = totals.get(key, (0, 0))
    totals[key] = (old_sold + sold, old_held + held)


def _add_line_seats(totals, kind, item_id, sold, held):
    """Add the seats of lines of ``kind`` where they count: a ticket line on the
    venue and its ticket type, an add-on line on its add-on; none on an item
    that was deleted (``item_id`` None)."""
    if kind == OrderLineItem.Kind.TICKET:
        _add_seats(totals, (VENUE, 0), sold, held)
    if item_id is not None:
        _add_seats(totals, (kind, int(item_id)), sold, held)


@functools.cache
def _venue_seats_taken_sql():
    n = _names()
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


# --- the truth, recomputed from the lines --------------------------------------------


def taking_seats(now):
    """Q for the order lines that take seats at ``now``: the counting rule, for the ORM."""
    return Q(order__status__in=Order.COMMITTED_STATUSES) | Q(
        order__status=Order.Status.PENDING, order__hold_expires_at__gt=now
    )


def naive_seat_totals(conference, now) -> dict:
    """Like ``seat_totals``, but summing every line ever sold (the naive aggregate).

    This is the counting rule written out directly, as the seat check did it
    before the counters: the reference the fast path is tested and benchmarked
    against. Its cost grows with every sale.
    """
    committed = Q(order__status__in=Order.COMMITTED_STATUSES)
    rows = (
        OrderLineItem.objects.filter(order__conference=conference)
        .filter(taking_seats(now))
        .values("kind", "ticket_type_id", "addon_id")
        .annotate(
            sold=Sum("quantity", filter=committed, default=0),
            held=Sum("quantity", filter=~committed, default=0),
        )
        .order_by()
    )
    totals = {}
    for row in rows:
        target, item_id = _line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        _add_line_seats(totals, target, item_id, row["sold"], row["held"])
    return {key: value for key, value in totals.items() if value != (0, 0)}


def naive_venue_seats_taken(conference, now) -> int:
    """Venue seats taken, summed over every line ever sold (the naive aggregate)."""
    return (
        OrderLineItem.objects.filter(order__conference=conference, kind=OrderLineItem.Kind.TICKET)
        .filter(taking_seats(now))
        .aggregate(total=Sum("quantity", default=0))["total"]
    )


def _bucket_of(status, hold_expires_at):
    """``_bucket`` in Python: the bucket of an order's lines, None when they take no seats."""
    if status in Order.COMMITTED_STATUSES:
        return SOLD
    if status == Order.Status.PENDING and hold_expires_at is not None:
        return expiry_minute(hold_expires_at)
    return None


def recount_seat_counters(conference=None) -> dict:
    """What every counter should hold, recomputed from the lines.

    ``{(conference_id, expires_minute, target, item_id): seats}`` for one
    conference, or for all of them when ``conference`` is None: committed seats
    in bucket 0, the seats of each PENDING order in the bucket of its hold's
    expiry minute, lapsed or not (the counters keep a lapsed hold until its
    order changes status). Targets with no seats are left out. The buckets are
    computed here in Python, apart from the SQL of the triggers they check.
    """
    lines = OrderLineItem.objects.filter(
        Q(order__status__in=Order.COMMITTED_STATUSES) | Q(order__status=Order.Status.PENDING)
    )
    if conference is not None:
        lines = lines.filter(order__conference=conference)
    rows = (
        lines.annotate(
            # Committed lines grouped together, pending ones by their hold.
            hold=Case(When(order__status=Order.Status.PENDING, then=F("order__hold_expires_at"))),
        )
        .values(
            "order__conference_id", "order__status", "hold", "kind", "ticket_type_id", "addon_id"
        )
        .annotate(seats=Sum("quantity"))
        .order_by()
    )
    truth = {}
    for row in rows:
        minute = _bucket_of(row["order__status"], row["hold"])
        if minute is None:
            continue
        conference_id = row["order__conference_id"]
        if row["kind"] == OrderLineItem.Kind.TICKET:
            key = (conference_id, minute, VENUE, 0)
            truth[key] = truth.get(key, 0) + row["seats"]
        target, item_id = _line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        if item_id is not None:
            key = (conference_id, minute, target, item_id)
            truth[key] = truth.get(key, 0) + row["seats"]
    return {key: seats for key, seats in truth.items() if seats}


def stored_seat_counters(conference=None) -> dict:
    """The counters as stored: ``{(conference_id, expires_minute, target, item_id): seats}``.

    Zeros are left out.
    """
    counters = SeatCounter.objects.exclude(seats=0)
    if conference is not None:
        counters = counters.filter(conference=conference)
    return {
        (conference_id, minute, target, item_id): seats
        for conference_id, minute, target, item_id, seats in counters.values_list(
            "conference_id", "expires_minute", "target", "item_id", "seats"
        )
    }


@dataclass(frozen=True)
class CounterDrift:
    """One counter that disagrees with its lines."""

    conference_id: int
    expires_minute: int
    target: str
    item_id: int
    stored: int
    recounted: int

    def __str__(self):
        what = "venue" if self.target == VENUE else f"{self.target} {self.item_id}"
        if self.expires_minute == SOLD:
            bucket = "sold"
        else:
            bucket = (
                f"held, expiring in minute {minute_start(self.expires_minute):%Y-%m-%d %H:%M} UTC"
            )
        return (
            f"conference {self.conference_id}, {what} ({bucket}): counter says {self.stored}, "
            f"lines say {self.recounted} ({self.stored - self.recounted:+d})"
        )


def find_counter_drift(conference=None) -> list[CounterDrift]:
    """Every counter, sold or held, whose stored seats differ from the recount of its lines."""
    stored = stored_seat_counters(conference)
    truth = recount_seat_counters(conference)
    return [
        CounterDrift(*key, stored=stored.get(key, 0), recounted=truth.get(key, 0))
        for key in sorted(set(stored) | set(truth))
        if stored.get(key, 0) != truth.get(key, 0)
    ]


def rebuild_seat_counters(connection=None):
    """Recompute every counter, sold and held, from the lines, replacing what is stored.

    Two statements. Used when the triggers were away: by the migration that
    installs them and, on SQLite, after every migration run.
    """
    connection = connection or default_connection
    n = _names()
    bucketed_lines = (
        f"(SELECT o.conference_id, {_bucket(connection.vendor, 'o')} AS expires_minute,"
        " l.kind, l.ticket_type_id, l.addon_id, l.quantity"
        f" FROM {n['line']} l INNER JOIN {n['order']} o ON o.id = l.order_id) b"
        " WHERE expires_minute IS NOT NULL"
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {n['counter']}")
        cursor.execute(
            f"""
            INSERT INTO {n["counter"]} (conference_id, expires_minute, target, item_id, seats)
            SELECT conference_id, expires_minute, '{n["venue"]}', 0, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["ticket"]}'
            GROUP BY conference_id, expires_minute
            UNION ALL
            SELECT conference_id, expires_minute, '{n["ticket"]}', ticket_type_id, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["ticket"]}' AND ticket_type_id IS NOT NULL
            GROUP BY conference_id, expires_minute, ticket_type_id
            UNION ALL
            SELECT conference_id, expires_minute, '{n["addon"]}', addon_id, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["addon"]}' AND addon_id IS NOT NULL
            GROUP BY conference_id, expires_minute, addon_id
            """
        )
