"""The seat counters' triggers on PostgreSQL: PL/pgSQL functions and the triggers calling them."""

from .rule import bucket_sql
from .schema import (
    LINE_CHANGED_WHEN,
    LINE_TRIGGERS,
    ORDER_TRIGGERS,
    is_catalogue,
    names,
    order_moved_when,
    versioned_tables,
)


def _bucket(row):
    return bucket_sql("postgresql", row)


def install_statements():
    """The statements that create (or replace) the functions and the triggers."""
    n = names()
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
        # Something its pages show changed: the conference's version moves.
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_bump_version(p_conference bigint)
        RETURNS void LANGUAGE plpgsql AS $body$
        BEGIN
            UPDATE {n["conference"]} SET seats_version = seats_version + 1
            WHERE id = p_conference;
        END
        $body$
        """,
        f"""
        CREATE OR REPLACE FUNCTION seatkeeper_row_changed() RETURNS trigger
        LANGUAGE plpgsql AS $body$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                PERFORM seatkeeper_bump_version(OLD.conference_id);
            END IF;
            IF TG_OP = 'INSERT'
                OR (TG_OP = 'UPDATE' AND NEW.conference_id IS DISTINCT FROM OLD.conference_id) THEN
                PERFORM seatkeeper_bump_version(NEW.conference_id);
            END IF;
            -- A catalogue table (its trigger says so): the order form's version too.
            IF TG_NARGS > 0 THEN
                UPDATE {n["conference"]} SET catalogue_version = catalogue_version + 1
                WHERE id IN (
                    CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.conference_id END,
                    CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.conference_id END
                );
            END IF;
            RETURN NULL;
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
            -- The conference row first, as the conference lock takes it.
            PERFORM seatkeeper_bump_version(p_conference);
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
                SELECT o.conference_id, {_bucket("o")}
                INTO order_conference, order_minute
                FROM {n["order"]} o WHERE o.id = OLD.order_id;
                PERFORM seatkeeper_add_seats(order_conference, order_minute, OLD.kind,
                    OLD.ticket_type_id, OLD.addon_id, -OLD.quantity);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                SELECT o.conference_id, {_bucket("o")}
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
            IF TG_OP = 'DELETE' THEN
                -- Any order deleted shows on the dashboard, seats or not.
                PERFORM seatkeeper_bump_version(OLD.conference_id);
            END IF;
            old_minute := {_bucket("OLD")};
            IF old_minute IS NOT NULL THEN
                FOR line IN {order_lines.format(id="OLD.id")} LOOP
                    PERFORM seatkeeper_add_seats(OLD.conference_id, old_minute, line.kind,
                        line.ticket_type_id, line.addon_id, -line.seats);
                END LOOP;
            END IF;
            IF TG_OP = 'UPDATE' THEN
                new_minute := {_bucket("NEW")};
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
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['line']}" for name in LINE_TRIGGERS],
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['order']}" for name in ORDER_TRIGGERS],
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
        FOR EACH ROW WHEN ({LINE_CHANGED_WHEN})
        EXECUTE FUNCTION seatkeeper_line_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_updated
        AFTER UPDATE OF status, hold_expires_at, conference_id ON {n["order"]}
        FOR EACH ROW WHEN ({order_moved_when("postgresql")})
        EXECUTE FUNCTION seatkeeper_order_changed()
        """,
        f"""
        CREATE TRIGGER seatkeeper_order_deleted AFTER DELETE ON {n["order"]}
        FOR EACH ROW EXECUTE FUNCTION seatkeeper_order_changed()
        """,
        *[f"DROP TRIGGER IF EXISTS {name} ON {table}" for table, name in versioned_tables()],
        *[
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION seatkeeper_row_changed({_catalogue_arg(table)})"
            for table, name in versioned_tables()
        ],
    ]


def _catalogue_arg(table) -> str:
    """The argument that tells ``seatkeeper_row_changed`` a catalogue table wrote."""
    return "'catalogue'" if is_catalogue(table) else ""


def drop_statements():
    """The statements that remove the triggers and their functions."""
    n = names()
    return [
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['line']}" for name in LINE_TRIGGERS],
        *[f"DROP TRIGGER IF EXISTS {name} ON {n['order']}" for name in ORDER_TRIGGERS],
        *[f"DROP TRIGGER IF EXISTS {name} ON {table}" for table, name in versioned_tables()],
        "DROP FUNCTION IF EXISTS seatkeeper_row_changed()",
        "DROP FUNCTION IF EXISTS seatkeeper_order_changed()",
        "DROP FUNCTION IF EXISTS seatkeeper_line_changed()",
        "DROP FUNCTION IF EXISTS"
        " seatkeeper_add_seats(bigint, bigint, text, bigint, bigint, bigint)",
        "DROP FUNCTION IF EXISTS seatkeeper_bump_counter(bigint, bigint, text, bigint, bigint)",
        "DROP FUNCTION IF EXISTS seatkeeper_bump_version(bigint)",
    ]
