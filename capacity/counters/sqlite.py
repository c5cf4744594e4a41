"""The seat counters' triggers on SQLite: a view whose INSTEAD OF trigger is the procedure."""

from .rule import bucket_sql
from .schema import (
    LINE_CHANGED_WHEN,
    SEAT_CHANGE_VIEW,
    TRIGGER_NAMES,
    VERSION_OPERATIONS,
    is_catalogue,
    names,
    order_moved_when,
    versioned_tables,
)


def _bucket(row):
    return bucket_sql("sqlite", row)


def install_statements():
    """The statements that (re)create the view and the triggers."""
    n = names()
    order_bucket = _bucket("o")
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
        return order_change.format(row=row, sign=sign, row_bucket=_bucket(row), **n)

    return [
        *drop_statements(),
        f"""
        CREATE VIEW {n["view"]} AS SELECT 0 AS conference_id, 0 AS expires_minute,
            '' AS kind, 0 AS ticket_type_id, 0 AS addon_id, 0 AS seats WHERE 0
        """,
        f"""
        CREATE TRIGGER seatkeeper_apply_seat_change INSTEAD OF INSERT ON {n["view"]}
        WHEN NEW.expires_minute IS NOT NULL
        BEGIN
            {bump_version("NEW.conference_id", "NEW.seats <> 0")}
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
        WHEN {LINE_CHANGED_WHEN.replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
            {lines_of("OLD", "-")}
            {lines_of("NEW", "")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_updated
        AFTER UPDATE OF status, hold_expires_at, conference_id ON {n["order"]}
        WHEN {order_moved_when("sqlite").replace("IS DISTINCT FROM", "IS NOT")}
        BEGIN
            {order("OLD", "-")}
            {order("NEW", "")}
        END
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        BEGIN
            {order("OLD", "-")}
            {bump_version("OLD.conference_id")}
        END
        """,
        *_version_triggers(),
    ]


def _version_triggers():
    """A trigger per write on each table of ``VERSIONED``, moving its conference's version
    (both conferences' when a row moves to another)."""
    statements = []
    for table, name in versioned_tables():
        for operation, row in zip(VERSION_OPERATIONS, ("NEW", "OLD", "OLD"), strict=True):
            moved = ""
            catalogue = is_catalogue(table)
            if operation == "UPDATE":
                moved = bump_version(
                    "NEW.conference_id", "NEW.conference_id IS NOT OLD.conference_id", catalogue
                )
            statements.append(
                f"CREATE TRIGGER {name}_{operation.lower()} AFTER {operation} ON {table}"
                f" BEGIN {bump_version(f'{row}.conference_id', catalogue=catalogue)} {moved} END"
            )
    return statements


def bump_version(conference, when="1", catalogue=False):
    """A statement moving the ``seats_version`` of ``conference`` (SQL) when ``when``
    holds; with ``catalogue``, its ``catalogue_version`` too."""
    also = ", catalogue_version = catalogue_version + 1" if catalogue else ""
    return (
        f"UPDATE {names()['conference']} SET seats_version = seats_version + 1{also}"
        f" WHERE id = {conference} AND ({when});"
    )


def drop_statements():
    """The statements that remove the triggers and the view."""
    return [
        *[f"DROP TRIGGER IF EXISTS {name}" for name in TRIGGER_NAMES],
        *[
            f"DROP TRIGGER IF EXISTS {name}_{operation.lower()}"
            for _, name in versioned_tables()
            for operation in VERSION_OPERATIONS
        ],
        f"DROP VIEW IF EXISTS {SEAT_CHANGE_VIEW}",
    ]
