"""SeatCounter now belongs to the capacity app (``capacity.0003_seatcounter``); its table stays."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0003_seatcounter"),
        ("registration", "0009_order_pending_buyer_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="SeatCounter")],
            database_operations=[],
        ),
    ]
