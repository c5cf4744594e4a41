"""The seat counters' triggers on PostgreSQL, and a recount when they were missing.

On SQLite they come from the post_migrate handler instead (see
``capacity.counters.install``).
"""

from django.db import migrations

from capacity.counters.install import drop_from_migration, install_from_migration


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0003_seatcounter"),
        ("registration", "0010_move_seatcounter_to_capacity"),
    ]

    operations = [
        migrations.RunPython(install_from_migration, drop_from_migration),
    ]
