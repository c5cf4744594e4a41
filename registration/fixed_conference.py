"""A ticket type's or add-on's conference never changes once it exists.

Its sold and held seats are counted for the conference of each order (the seat
counters' key), so a ticket type moved to another conference would take its
sales out of the old conference's counts and sell past its quantity in the new
one. The database refuses the move, whatever writes the row (the admin, a
``QuerySet.update()``, raw SQL): a trigger on each table, on PostgreSQL and on
SQLite, raises an IntegrityError. The admin also shows the field read-only once
the row exists.

``find_cross_conference_rows`` is what ``check_seats`` reports when rows
disagree across conferences anyway (a move made with the triggers away): order
lines, seat counters, blocked seats and waiting-list entries whose ticket type
or add-on belongs to another conference than their own.
"""

from django.db import connection as default_connection
from django.db import connections, transaction
from django.db.models import F, OuterRef, Q, Subquery

from capacity.models import BlockedSeats, SeatCounter

from .models import AddOn, OrderLineItem, TicketType, WaitingListEntry

# Not "seatkeeper_…": that prefix is the seat counters' own triggers.
TRIGGERS = {
    "registration_tickettype": "tickettype_conference_fixed",
    "registration_addon": "addon_conference_fixed",
}
POSTGRESQL_FUNCTION = "registration_conference_fixed"
MESSAGE = "A ticket type or add-on cannot move to another conference."


def _postgresql_install():
    yield f"""
        CREATE OR REPLACE FUNCTION {POSTGRESQL_FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.conference_id IS DISTINCT FROM OLD.conference_id THEN
                RAISE EXCEPTION USING MESSAGE = '{MESSAGE}', ERRCODE = '23000';
            END IF;
            RETURN NEW;
        END
        $$
    """
    for table, trigger in TRIGGERS.items():
        yield f"DROP TRIGGER IF EXISTS {trigger} ON {table}"
        yield (
            f"CREATE TRIGGER {trigger} BEFORE UPDATE OF conference_id ON {table}"
            f" FOR EACH ROW EXECUTE FUNCTION {POSTGRESQL_FUNCTION}()"
        )


def _postgresql_drop():
    for table, trigger in TRIGGERS.items():
        yield f"DROP TRIGGER IF EXISTS {trigger} ON {table}"
    yield f"DROP FUNCTION IF EXISTS {POSTGRESQL_FUNCTION}()"


def _sqlite_install():
    for table, trigger in TRIGGERS.items():
        yield (
            f"CREATE TRIGGER IF NOT EXISTS {trigger} BEFORE UPDATE OF conference_id ON {table}"
            " FOR EACH ROW WHEN NEW.conference_id IS NOT OLD.conference_id"
            f" BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def _sqlite_drop():
    for trigger in TRIGGERS.values():
        yield f"DROP TRIGGER IF EXISTS {trigger}"


def _run(connection, statements):
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in statements():
            cursor.execute(statement)


def install_fixed_conference_triggers(connection=None):
    """Create (or replace) the triggers on ``connection``'s database."""
    connection = connection or default_connection
    statements = {"postgresql": _postgresql_install, "sqlite": _sqlite_install}.get(
        connection.vendor
    )
    if statements is None:
        raise NotImplementedError(f"No fixed-conference triggers for {connection.vendor}.")
    _run(connection, statements)


def drop_fixed_conference_triggers(connection=None):
    """Remove the triggers (a ticket type's conference can then be changed)."""
    connection = connection or default_connection
    statements = {"postgresql": _postgresql_drop, "sqlite": _sqlite_drop}.get(connection.vendor)
    if statements is not None:
        _run(connection, statements)


def fixed_conference_triggers_installed(connection=None) -> bool:
    connection = connection or default_connection
    names = list(TRIGGERS.values())
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgname IN (%s, %s)",
                names,
            )
        else:
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
                names,
            )
        return cursor.fetchone()[0] == len(names)


def after_migrate(sender, using="default", **kwargs):
    """post_migrate, on SQLite: a migration that rebuilds either table drops its
    trigger with the old table; put it back."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        tables = set(connection.introspection.table_names())
        if set(TRIGGERS) <= tables:
            install_fixed_conference_triggers(connection)


# --- rows that disagree across conferences ------------------------------------------


def find_cross_conference_rows(conference=None) -> list[str]:
    """Every row whose ticket type or add-on belongs to another conference than its
    own, described for a person; empty when all agree. ``conference`` limits the
    search to rows of (or pointing into) that conference."""
    found = []

    def scoped(queryset, own, item):
        if conference is None:
            return queryset
        return queryset.filter(Q(**{own: conference}) | Q(**{f"{item}__conference": conference}))

    for field in ("ticket_type", "addon"):
        lines = scoped(
            OrderLineItem.objects.filter(**{f"{field}__isnull": False}).exclude(
                **{f"{field}__conference": F("order__conference")}
            ),
            "order__conference",
            field,
        )
        for line in lines.select_related("order", field).order_by("pk"):
            item = getattr(line, field)
            found.append(
                f"order {line.order.reference} (conference {line.order.conference_id}) has a "
                f"line of {item.name} (id {item.pk}), which belongs to conference "
                f"{item.conference_id}"
            )
    for model, noun in ((BlockedSeats, "blocked seats"), (WaitingListEntry, "waiting-list entry")):
        rows = scoped(
            model.objects.filter(ticket_type__isnull=False).exclude(
                ticket_type__conference=F("conference")
            ),
            "conference",
            "ticket_type",
        )
        for row in rows.select_related("ticket_type").order_by("pk"):
            found.append(
                f"{noun} {row.pk} (conference {row.conference_id}) is for ticket type "
                f"{row.ticket_type.name} (id {row.ticket_type_id}), which belongs to conference "
                f"{row.ticket_type.conference_id}"
            )
    for target, model in (
        (SeatCounter.Target.TICKET, TicketType),
        (SeatCounter.Target.ADDON, AddOn),
    ):
        counters = (
            SeatCounter.objects.filter(target=target)
            .exclude(seats=0)
            .annotate(
                item_conference=Subquery(
                    model.objects.filter(pk=OuterRef("item_id")).values("conference_id")[:1]
                )
            )
            .filter(item_conference__isnull=False)
            .exclude(item_conference=F("conference_id"))
        )
        if conference is not None:
            counters = counters.filter(Q(conference=conference) | Q(item_conference=conference.pk))
        for counter in counters.order_by("pk"):
            found.append(
                f"the seat counter of {target.label.lower()} {counter.item_id} in conference "
                f"{counter.conference_id} holds {counter.seats} seat(s), but that "
                f"{target.label.lower()} belongs to conference {counter.item_conference}"
            )
    return found
