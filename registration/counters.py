"""Counters of committed seats, kept by the database itself.

The seat check runs under the conference lock on every order, so it must not
grow with sales. Committed seats (lines of PAID or PARTIALLY_REFUNDED orders)
are therefore kept in ``SeatCounter`` rows, one per conference and target
(the venue, each ticket type, each add-on). Live holds stay a live sum over
the few PENDING orders with an unexpired hold (the partial index
``order_live_hold_idx``), and blocked seats a live sum of their small table.

The counters are maintained by database triggers on ``registration_order``
(status or conference changed, order deleted) and ``registration_orderlineitem``
(line inserted, deleted, or its quantity, kind, ticket type, add-on or order
changed), on PostgreSQL and on SQLite. Triggers, not Python, because orders and
lines are also written by the admin, by ``QuerySet.update()``, by ``SET_NULL``
when a ticket type is deleted, and by tests building states with the ORM:
whatever writes the rows, the counters move in the same statement and the same
transaction, and roll back with it.

A negative change never creates a counter row, only a positive one does: a
consistent database always has the row already, and emptying the tables in any
order (Django's test flush on SQLite) cannot leave negative rows behind.

SQLite migrations rebuild a table by copying it, dropping the original and
renaming the copy, which fails while a trigger on another table reads the
dropped one. On SQLite the triggers are therefore dropped before every
``migrate`` and installed again (with a full recount) after it; see
``RegistrationConfig.ready``.

``python manage.py check_seats [--fix]`` recomputes every counter from the
lines and reports (or repairs) any drift.
"""

from dataclasses import dataclass

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Q, Sum

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


# --- the triggers ----------------------------------------------------------------


def _names():
    """Table names and the committed statuses as SQL literals, from the models."""
    committed = ", ".join(f"'{status}'" for status in Order.COMMITTED_STATUSES)
    return {
        "counter": SeatCounter._meta.db_table,
        "order": Order._meta.db_table,
        "line": OrderLineItem._meta.db_table,
        "committed": f"({committed})",
        "view": SEAT_CHANGE_VIEW,
        "ticket": OrderLineItem.Kind.TICKET.value,
        "addon": OrderLineItem.Kind.ADDON.value,
        "venue": VENUE,
    }


_LINE_CHANGED_WHEN = (
    "OLD.quantity IS DISTINCT FROM NEW.quantity OR OLD.kind IS DISTINCT FROM NEW.kind"
    " OR OLD.ticket_type_id IS DISTINCT FROM NEW.ticket_type_id"
    " OR OLD.addon_id IS DISTINCT FROM NEW.addon_id OR OLD.order_id IS DISTINCT FROM NEW.order_id"
)


def _postgresql_statements():
    n = _names()
    return [
        # Add ``delta`` committed seats to one counter row. Only a positive change
        # may create the row.
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_bump_counter(
            p_conference bigint, p_target text, p_item bigint, p_delta bigint
        ) RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
            IF p_delta > 0 THEN
                INSERT INTO {n["counter"]} (conference_id, target, item_id, seats)
                VALUES (p_conference, p_target, p_item, p_delta)
                ON CONFLICT (conference_id, target, item_id)
                DO UPDATE SET seats = {n["counter"]}.seats + EXCLUDED.seats;
            ELSIF p_delta < 0 THEN
                UPDATE {n["counter"]} SET seats = seats + p_delta
                WHERE conference_id = p_conference AND target = p_target AND item_id = p_item;
            END IF;
        END
        $body$
        """,
        # Which counters a line of a given kind moves: a ticket line the venue and
        # its ticket type (if it still exists), an add-on line its add-on.
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_add_seats(
            p_conference bigint, p_kind text, p_ticket_type bigint, p_addon bigint, p_delta bigint
        ) RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
            IF p_delta = 0 OR p_conference IS NULL THEN
                RETURN;
            END IF;
            IF p_kind = '{n["ticket"]}' THEN
                PERFORM seatkeeper_bump_counter(p_conference, '{n["venue"]}', 0, p_delta);
                IF p_ticket_type IS NOT NULL THEN
                    PERFORM seatkeeper_bump_counter(
                        p_conference, '{n["ticket"]}', p_ticket_type, p_delta);
                END IF;
            ELSIF p_kind = '{n["addon"]}' AND p_addon IS NOT NULL THEN
                PERFORM seatkeeper_bump_counter(p_conference, '{n["addon"]}', p_addon, p_delta);
            END IF;
        END
        $body$
        """,
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_line_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        DECLARE
            order_conference bigint;
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                SELECT conference_id INTO order_conference FROM {n["order"]}
                WHERE id = OLD.order_id AND status IN {n["committed"]};
                IF FOUND THEN
                    PERFORM seatkeeper_add_seats(order_conference, OLD.kind,
                        OLD.ticket_type_id, OLD.addon_id, -OLD.quantity);
                END IF;
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                SELECT conference_id INTO order_conference FROM {n["order"]}
                WHERE id = NEW.order_id AND status IN {n["committed"]};
                IF FOUND THEN
                    PERFORM seatkeeper_add_seats(order_conference, NEW.kind,
                        NEW.ticket_type_id, NEW.addon_id, NEW.quantity);
                END IF;
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
        BEGIN
            IF OLD.status IN {n["committed"]} THEN
                FOR line IN
                    SELECT kind, ticket_type_id, addon_id, SUM(quantity) AS seats
                    FROM {n["line"]} WHERE order_id = OLD.id
                    GROUP BY kind, ticket_type_id, addon_id
                LOOP
                    PERFORM seatkeeper_add_seats(OLD.conference_id, line.kind,
                        line.ticket_type_id, line.addon_id, -line.seats);
                END LOOP;
            END IF;
            IF TG_OP = 'UPDATE' AND NEW.status IN {n["committed"]} THEN
                FOR line IN
                    SELECT kind, ticket_type_id, addon_id, SUM(quantity) AS seats
                    FROM {n["line"]} WHERE order_id = NEW.id
                    GROUP BY kind, ticket_type_id, addon_id
                LOOP
                    PERFORM seatkeeper_add_seats(NEW.conference_id, line.kind,
                        line.ticket_type_id, line.addon_id, line.seats);
                END LOOP;
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
        AFTER UPDATE OF status, conference_id ON {n["order"]}
        FOR EACH ROW WHEN (
            (OLD.status IN {n["committed"]}) IS DISTINCT FROM (NEW.status IN {n["committed"]})
            OR (OLD.conference_id IS DISTINCT FROM NEW.conference_id
                AND NEW.status IN {n["committed"]})
        )
        EXECUTE FUNCTION seatkeeper_order_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        FOR EACH ROW WHEN (OLD.status IN {n["committed"]})
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
        "DROP FUNCTION IF EXISTS seatkeeper_add_seats(bigint, text, bigint, bigint, bigint)",
        "DROP FUNCTION IF EXISTS seatkeeper_bump_counter(bigint, text, bigint, bigint)",
    ]


def _sqlite_statements():
    n = _names()
    # SQLite has no stored procedures: inserting into this empty view is the
    # procedure call, and its INSTEAD OF trigger is the procedure.
    line_change = (
        "INSERT INTO {view} (conference_id, kind, ticket_type_id, addon_id, seats)"
        " SELECT o.conference_id, {row}.kind, {row}.ticket_type_id, {row}.addon_id,"
        " {sign}{row}.quantity"
        " FROM {order} o WHERE o.id = {row}.order_id AND o.status IN {committed};"
    )
    order_change = (
        "INSERT INTO {view} (conference_id, kind, ticket_type_id, addon_id, seats)"
        " SELECT {row}.conference_id, kind, ticket_type_id, addon_id, {sign}SUM(quantity)"
        " FROM {line} WHERE order_id = {row}.id AND {row}.status IN {committed}"
        " GROUP BY kind, ticket_type_id, addon_id;"
    )
    return [
        *_sqlite_drop_statements(),
        f"""
        CREATE VIEW {n["view"]} AS SELECT 0 AS conference_id, '' AS kind,
            0 AS ticket_type_id, 0 AS addon_id, 0 AS seats WHERE 0
        """,
        f"""
        CREATE TRIGGER seatkeeper_apply_seat_change INSTEAD OF INSERT ON {n["view"]}
        BEGIN
            INSERT OR IGNORE INTO {n["counter"]} (conference_id, target, item_id, seats)
                SELECT NEW.conference_id, '{n["venue"]}', 0, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["ticket"]}'
                UNION ALL
                SELECT NEW.conference_id, '{n["ticket"]}', NEW.ticket_type_id, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["ticket"]}'
                    AND NEW.ticket_type_id IS NOT NULL
                UNION ALL
                SELECT NEW.conference_id, '{n["addon"]}', NEW.addon_id, 0
                WHERE NEW.seats > 0 AND NEW.kind = '{n["addon"]}' AND NEW.addon_id IS NOT NULL;
            UPDATE {n["counter"]} SET seats = seats + NEW.seats
            WHERE conference_id = NEW.conference_id AND (
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
            {line_change.format(row="NEW", sign="", **n)}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_deleted AFTER DELETE ON {n["line"]}
        BEGIN
            {line_change.format(row="OLD", sign="-", **n)}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_line_updated
        AFTER UPDATE OF quantity, kind, ticket_type_id, addon_id, order_id ON {n["line"]}
        WHEN {_LINE_CHANGED_WHEN.replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
            {line_change.format(row="OLD", sign="-", **n)}
            {line_change.format(row="NEW", sign="", **n)}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_updated
        AFTER UPDATE OF status, conference_id ON {n["order"]}
        WHEN (OLD.status IN {n["committed"]}) IS NOT (NEW.status IN {n["committed"]})
            OR (OLD.conference_id IS NOT NEW.conference_id AND NEW.status IN {n["committed"]})
        BEGIN
            {order_change.format(row="OLD", sign="-", **n)}
            {order_change.format(row="NEW", sign="", **n)}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        WHEN OLD.status IN {n["committed"]}
        BEGIN
            {order_change.format(row="OLD", sign="-", **n)}
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


def _counter_table_exists(connection):
    with connection.cursor() as cursor:
        return SeatCounter._meta.db_table in connection.introspection.table_names(cursor)


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
    if connection.vendor not in ("sqlite", "postgresql") or not _counter_table_exists(connection):
        return
    was_installed = seat_triggers_installed(connection)
    install_seat_triggers(connection)
    if connection.vendor == "sqlite" or not was_installed:
        rebuild_seat_counters(connection)


# --- reading the counts ------------------------------------------------------------


def _line_target(kind, ticket_type_id, addon_id):
    return (TICKET, ticket_type_id) if kind == OrderLineItem.Kind.TICKET else (ADDON, addon_id)


def _live_hold_lines(n):
    """FROM/WHERE for the lines of live holds, written so the partial index applies.

    ``status = 'pending'`` is a literal, not a parameter: only then can the
    planner (PostgreSQL and SQLite alike) prove the index predicate and use
    ``order_live_hold_idx`` (conference_id, hold_expires_at WHERE pending).
    """
    return (
        f"FROM {n['line']} l INNER JOIN {n['order']} o ON o.id = l.order_id"
        f" WHERE o.conference_id = %s AND o.status = '{Order.Status.PENDING.value}'"
        " AND o.hold_expires_at > %s"
    )


def seat_totals_query(conference, now) -> tuple[str, list]:
    """The SQL of ``seat_totals`` and its parameters (for EXPLAIN in tests and benches)."""
    n = _names()
    item = f"CASE WHEN l.kind = '{n['ticket']}' THEN l.ticket_type_id ELSE l.addon_id END"
    sql = (
        f"SELECT target, item_id, seats, 0 FROM {n['counter']}"
        " WHERE conference_id = %s AND seats <> 0"
        f" UNION ALL SELECT l.kind, {item}, 0, SUM(l.quantity) {_live_hold_lines(n)}"
        f" GROUP BY l.kind, {item}"
    )
    conference_pk = getattr(conference, "pk", conference)
    when = default_connection.ops.adapt_datetimefield_value(now)
    return sql, [conference_pk, conference_pk, when]


def seat_totals(conference, now) -> dict:
    """Seats of one conference: ``{(target, item_id): (sold, held)}``, in one query.

    ``target`` is ``"venue"`` (item 0), ``"ticket"`` or ``"addon"``. Sold seats
    come from the counters; held seats are summed over live holds only
    (PENDING with ``hold_expires_at`` after ``now``), which the partial index
    ``order_live_hold_idx`` finds without reading any other order. Cost: the
    number of live holds, not the number of orders ever sold.
    """
    totals = {}

    def add(key, sold, held):
        old_sold, old_held = totals.get(key, (0, 0))
        totals[key] = (old_sold + sold, old_held + held)

    with default_connection.cursor() as cursor:
        cursor.execute(*seat_totals_query(conference, now))
        for target, item_id, sold, held in cursor.fetchall():
            if held:
                if target == OrderLineItem.Kind.TICKET:
                    add((VENUE, 0), 0, int(held))
                if item_id is not None:
                    add((target, int(item_id)), 0, int(held))
            else:
                add((target, int(item_id)), int(sold), 0)
    return totals


def venue_seats_taken_query(conference, now) -> tuple[str, list]:
    """The SQL of ``venue_seats_taken`` and its parameters."""
    n = _names()
    sql = (
        f"SELECT COALESCE((SELECT seats FROM {n['counter']} WHERE conference_id = %s"
        f" AND target = '{n['venue']}' AND item_id = 0), 0)"
        f" + COALESCE((SELECT SUM(l.quantity) {_live_hold_lines(n)}"
        f" AND l.kind = '{n['ticket']}'), 0)"
    )
    conference_pk = getattr(conference, "pk", conference)
    when = default_connection.ops.adapt_datetimefield_value(now)
    return sql, [conference_pk, conference_pk, when]


def venue_seats_taken(conference, now) -> int:
    """Venue seats taken by ticket lines at ``now``: the venue counter plus live holds."""
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

    def add(key, sold, held):
        old_sold, old_held = totals.get(key, (0, 0))
        totals[key] = (old_sold + sold, old_held + held)

    for row in rows:
        if row["kind"] == OrderLineItem.Kind.TICKET:
            add((VENUE, 0), row["sold"], row["held"])
        target, item_id = _line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        if item_id is not None:
            add((target, item_id), row["sold"], row["held"])
    return {key: value for key, value in totals.items() if value != (0, 0)}


def naive_venue_seats_taken(conference, now) -> int:
    """Venue seats taken, summed over every line ever sold (the naive aggregate)."""
    return (
        OrderLineItem.objects.filter(order__conference=conference, kind=OrderLineItem.Kind.TICKET)
        .filter(taking_seats(now))
        .aggregate(total=Sum("quantity", default=0))["total"]
    )


def recount_committed_seats(conference=None) -> dict:
    """What every counter should hold, recomputed from the lines.

    ``{(conference_id, target, item_id): seats}`` for one conference, or for
    all of them when ``conference`` is None. Targets with no seats are left out.
    """
    lines = OrderLineItem.objects.filter(order__status__in=Order.COMMITTED_STATUSES)
    if conference is not None:
        lines = lines.filter(order__conference=conference)
    rows = (
        lines.values("order__conference_id", "kind", "ticket_type_id", "addon_id")
        .annotate(seats=Sum("quantity"))
        .order_by()
    )
    truth = {}
    for row in rows:
        conference_id = row["order__conference_id"]
        if row["kind"] == OrderLineItem.Kind.TICKET:
            key = (conference_id, VENUE, 0)
            truth[key] = truth.get(key, 0) + row["seats"]
        target, item_id = _line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        if item_id is not None:
            key = (conference_id, target, item_id)
            truth[key] = truth.get(key, 0) + row["seats"]
    return {key: seats for key, seats in truth.items() if seats}


def stored_committed_seats(conference=None) -> dict:
    """The counters as stored: ``{(conference_id, target, item_id): seats}``, zeros left out."""
    counters = SeatCounter.objects.exclude(seats=0)
    if conference is not None:
        counters = counters.filter(conference=conference)
    return {
        (conference_id, target, item_id): seats
        for conference_id, target, item_id, seats in counters.values_list(
            "conference_id", "target", "item_id", "seats"
        )
    }


@dataclass(frozen=True)
class CounterDrift:
    """One counter that disagrees with its lines."""

    conference_id: int
    target: str
    item_id: int
    stored: int
    recounted: int

    def __str__(self):
        what = "venue" if self.target == VENUE else f"{self.target} {self.item_id}"
        return (
            f"conference {self.conference_id}, {what}: counter says {self.stored}, "
            f"lines say {self.recounted} ({self.stored - self.recounted:+d})"
        )


def find_counter_drift(conference=None) -> list[CounterDrift]:
    """Every counter whose stored seats differ from the recount of its lines."""
    stored = stored_committed_seats(conference)
    truth = recount_committed_seats(conference)
    return [
        CounterDrift(*key, stored=stored.get(key, 0), recounted=truth.get(key, 0))
        for key in sorted(set(stored) | set(truth), key=lambda k: (k[0], k[1], k[2]))
        if stored.get(key, 0) != truth.get(key, 0)
    ]


def repair_seat_counters(*, conference=None) -> list[CounterDrift]:
    """Set every drifting counter to the recount of its lines; return what was repaired.

    Each conference is repaired under the conference lock, with its counter rows
    locked, so no order can be placed or paid between the recount and the write.
    """
    from capacity.services import locked_conference  # capacity.services imports this module
    from conference.models import Conference

    conferences = [conference] if conference is not None else list(Conference.objects.all())
    repaired = []
    for each in conferences:
        with locked_conference(each) as locked:
            list(SeatCounter.objects.select_for_update().filter(conference=locked))
            drift = find_counter_drift(locked)
            for item in drift:
                SeatCounter.objects.update_or_create(
                    conference_id=item.conference_id,
                    target=item.target,
                    item_id=item.item_id,
                    defaults={"seats": item.recounted},
                )
            repaired.extend(drift)
    return repaired


def rebuild_seat_counters(connection=None):
    """Recompute every counter from the lines, replacing what is stored (two statements).

    Used when the triggers were away: by the migration that creates them and,
    on SQLite, after every migration run.
    """
    connection = connection or default_connection
    n = _names()
    committed_lines = (
        f"FROM {n['line']} l INNER JOIN {n['order']} o ON o.id = l.order_id"
        f" WHERE o.status IN {n['committed']}"
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {n['counter']}")
        cursor.execute(
            f"""
            INSERT INTO {n["counter"]} (conference_id, target, item_id, seats)
            SELECT o.conference_id, '{n["venue"]}', 0, SUM(l.quantity) {committed_lines}
                AND l.kind = '{n["ticket"]}'
            GROUP BY o.conference_id
            UNION ALL
            SELECT o.conference_id, '{n["ticket"]}', l.ticket_type_id, SUM(l.quantity)
            {committed_lines} AND l.kind = '{n["ticket"]}' AND l.ticket_type_id IS NOT NULL
            GROUP BY o.conference_id, l.ticket_type_id
            UNION ALL
            SELECT o.conference_id, '{n["addon"]}', l.addon_id, SUM(l.quantity)
            {committed_lines} AND l.kind = '{n["addon"]}' AND l.addon_id IS NOT NULL
            GROUP BY o.conference_id, l.addon_id
            """
        )
