from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("registration", "0007_schedules"),
    ]

    operations = [
        migrations.AddField(
            model_name="order",
            name="transfer_reminder_sent_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
