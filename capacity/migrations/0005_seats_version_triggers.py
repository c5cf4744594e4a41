"""The triggers again, now also moving ``Conference.seats_version`` (PostgreSQL;
SQLite's come from the post_migrate handler, see ``capacity.counters.install``)."""

from django.db import migrations

from capacity.counters.install import drop_from_migration, install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0004_seat_counter_triggers"),
        ("conference", "0004_conference_seats_version"),
    ]

    operations = [
        migrations.RunPython(install_from_migration, drop_from_migration),
    ]
