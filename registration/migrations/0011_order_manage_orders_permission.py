from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0010_move_seatcounter_to_capacity"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="order",
            options={
                "ordering": ["-created_at"],
                "permissions": [
                    (
                        "manage_orders",
                        "Can mark orders paid, refund, cancel them and extend their holds",
                    )
                ],
            },
        ),
    ]
