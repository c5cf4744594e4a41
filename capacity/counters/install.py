"""Installing, dropping and checking the seat counters' triggers, from migrations and around them.

On PostgreSQL the triggers are installed by capacity's migrations
(``install_from_migration``), which also recount every counter when the
triggers were missing, so an existing database leaves ``migrate`` with its
seats counted.

On SQLite they are dropped before every ``migrate`` run and installed again,
with a full recount, after it (``before_migrate`` and ``after_migrate``,
connected in ``CapacityConfig.ready``). A migration there rebuilds a table by
copying it, dropping the original and renaming the copy, which fails while a
trigger on another table reads the dropped one: the line triggers read
``registration_order``, the order triggers ``registration_orderlineitem``. A
trigger installed by a migration would break every later migration that
rebuilds either table, so SQLite keeps the triggers out of the way until the
last migration has run.
"""

from django.db import connection as default_connection
from django.db import connections, transaction

from ..models import SeatCounter
from .postgresql import drop_statements as postgresql_drop
from .postgresql import install_statements as postgresql_install
from .recount import rebuild_seat_counters
from .schema import trigger_names
from .sqlite import drop_statements as sqlite_drop
from .sqlite import install_statements as sqlite_install

# Per database: the statements that install the triggers, and those that drop them.
DDL = {
    "postgresql": (postgresql_install, postgresql_drop),
    "sqlite": (sqlite_install, sqlite_drop),
}


def install_seat_triggers(connection=None):
    """Create (or replace) the counter triggers on ``connection``'s database."""
    connection = connection or default_connection
    ddl = DDL.get(connection.vendor)
    if ddl is None:
        raise NotImplementedError(f"No seat counter triggers for {connection.vendor}.")
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in ddl[0]():
            cursor.execute(statement)


def drop_seat_triggers(connection=None):
    """Remove the counter triggers (the counters then stop following the lines)."""
    connection = connection or default_connection
    ddl = DDL.get(connection.vendor)
    if ddl is None:
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in ddl[1]():
            cursor.execute(statement)


def seat_triggers_installed(connection=None) -> bool:
    """Whether every seat counter and version trigger exists on ``connection``'s database."""
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
    return found == len(trigger_names(connection.vendor))


def install_from_migration(apps, schema_editor):
    """RunPython of capacity's trigger migrations: on PostgreSQL, install the
    triggers and recount every counter if they were missing. On SQLite nothing:
    ``after_migrate`` installs them once every migration has run."""
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    was_installed = seat_triggers_installed(connection)
    install_seat_triggers(connection)
    if not was_installed:
        rebuild_seat_counters(connection)


def drop_from_migration(apps, schema_editor):
    """The reverse of ``install_from_migration``: the counters stop following the lines."""
    drop_seat_triggers(schema_editor.connection)


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
    connection = connections[using]
    if connection.vendor == "sqlite":
        drop_seat_triggers(connection)


def after_migrate(sender, using="default", **kwargs):
    """post_migrate: on SQLite, install the triggers again and recount what they missed."""
    connection = connections[using]
    if connection.vendor != "sqlite" or not _counter_table_current(connection):
        return
    install_seat_triggers(connection)
    rebuild_seat_counters(connection)
