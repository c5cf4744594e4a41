"""SeatCounter moves from the registration app to capacity, keeping its table.

State only: the table ``registration_seatcounter`` stays as it is.
``registration.0010_move_seatcounter_to_capacity`` takes the model out of
registration's state after this migration.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("capacity", "0002_capacitychange"),
        ("conference", "0003_waiting_list_settings"),
        ("registration", "0009_order_pending_buyer_idx"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SeatCounter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "target",
                            models.CharField(
                                choices=[
                                    ("venue", "Venue"),
                                    ("ticket", "Ticket type"),
                                    ("addon", "Add-on"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "item_id",
                            models.BigIntegerField(
                                default=0, help_text="Ticket type or add-on id; 0 for the venue."
                            ),
                        ),
                        (
                            "expires_minute",
                            models.BigIntegerField(
                                default=0,
                                help_text=(
                                    "0 for committed seats; else the minute the holds in it expire."
                                ),
                            ),
                        ),
                        ("seats", models.BigIntegerField(default=0)),
                        (
                            "conference",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="seat_counters",
                                to="conference.conference",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "registration_seatcounter",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("conference", "expires_minute", "target", "item_id"),
                                name="seat_counter_one_per_bucket",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
