from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conference", "0003_waiting_list_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="conference",
            name="seats_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
