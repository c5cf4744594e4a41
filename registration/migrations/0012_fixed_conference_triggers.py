"""The database refuses to move a ticket type or add-on to another conference
(``registration.fixed_conference``), on PostgreSQL and on SQLite."""

from django.db import migrations


def install(apps, schema_editor):
    from registration.fixed_conference import install_fixed_conference_triggers

    install_fixed_conference_triggers(schema_editor.connection)


def drop(apps, schema_editor):
    from registration.fixed_conference import drop_fixed_conference_triggers

    drop_fixed_conference_triggers(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0011_order_manage_orders_permission"),
    ]

    operations = [migrations.RunPython(install, drop)]
