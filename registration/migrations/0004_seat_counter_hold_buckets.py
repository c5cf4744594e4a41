"""Seat counters for held seats too: a bucket per hold expiry minute beside the committed one.

The rows already stored become the committed bucket (``expires_minute = 0``).
0002's triggers are dropped here; the ones that also keep the held buckets are
installed later (``capacity.counters.install``), with a recount of every
counter from the lines, so an existing database leaves ``migrate`` with its
holds counted.
"""

from django.db import migrations, models

# What migration 0002 installed on PostgreSQL: the triggers and the functions
# they call, with the signatures of then (without the bucket argument).
DROP_0002_OBJECTS = [
    "DROP TRIGGER IF EXISTS seatkeeper_line_inserted ON registration_orderlineitem",
    "DROP TRIGGER IF EXISTS seatkeeper_line_deleted ON registration_orderlineitem",
    "DROP TRIGGER IF EXISTS seatkeeper_line_updated ON registration_orderlineitem",
    "DROP TRIGGER IF EXISTS seatkeeper_order_updated ON registration_order",
    "DROP TRIGGER IF EXISTS seatkeeper_order_deleted ON registration_order",
    "DROP FUNCTION IF EXISTS seatkeeper_order_changed()",
    "DROP FUNCTION IF EXISTS seatkeeper_line_changed()",
    "DROP FUNCTION IF EXISTS seatkeeper_add_seats(bigint, text, bigint, bigint, bigint)",
    "DROP FUNCTION IF EXISTS seatkeeper_bump_counter(bigint, text, bigint, bigint)",
]


def drop_committed_only_triggers(apps, schema_editor):
    """Take 0002's triggers away before the table they write changes its key.

    SQLite has none at this point: they are dropped before every migrate run.
    """
    if schema_editor.connection.vendor == "postgresql":
        for statement in DROP_0002_OBJECTS:
            schema_editor.execute(statement)


def drop_held_buckets(apps, schema_editor):
    """Backwards: drop the triggers and the held buckets, which the old key cannot hold.

    The committed bucket stays, as 0002's rows. 0002's triggers are not put
    back: they belong to the code of that release.
    """
    from capacity.counters.install import drop_seat_triggers

    drop_seat_triggers(schema_editor.connection)
    SeatCounter = apps.get_model("registration", "SeatCounter")
    SeatCounter.objects.using(schema_editor.connection.alias).exclude(expires_minute=0).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conference", "0001_initial"),
        ("registration", "0003_order_conf_updated_idx"),
    ]

    operations = [
        migrations.RunPython(drop_committed_only_triggers, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="seatcounter",
            name="seat_counter_one_per_target",
        ),
        migrations.AddField(
            model_name="seatcounter",
            name="expires_minute",
            field=models.BigIntegerField(
                default=0,
                help_text="0 for committed seats; else the minute the holds in it expire.",
            ),
        ),
        migrations.AddConstraint(
            model_name="seatcounter",
            constraint=models.UniqueConstraint(
                fields=("conference", "expires_minute", "target", "item_id"),
                name="seat_counter_one_per_bucket",
            ),
        ),
        # Forwards, the new triggers and a recount of every bucket come later
        # (capacity.counters.install): installing them here would tie this
        # migration to the code of every later release.
        migrations.RunPython(migrations.RunPython.noop, drop_held_buckets),
    ]
