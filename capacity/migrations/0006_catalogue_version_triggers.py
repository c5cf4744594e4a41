"""The triggers again, now also moving ``Conference.catalogue_version`` when a ticket
type or an add-on is written (PostgreSQL; SQLite's come from the post_migrate
handler, see ``capacity.counters.install``)."""

from django.db import migrations

from capacity.counters.install import drop_from_migration, install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0005_seats_version_triggers"),
        ("conference", "0005_conference_catalogue_version"),
    ]

    operations = [
        migrations.RunPython(install_from_migration, drop_from_migration),
    ]
