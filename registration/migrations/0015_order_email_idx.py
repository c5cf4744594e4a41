import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conference", "0005_conference_catalogue_version"),
        ("registration", "0014_language"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_pending_buyer_idx"),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(
                django.db.models.functions.text.Upper("email"), name="order_email_idx"
            ),
        ),
    ]
