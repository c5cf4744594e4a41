"""The task queue's periodic jobs: django-q2 schedules, created or brought up to date by name."""

from django.db import migrations
from django.utils import timezone

SCHEDULES = {
    "Offer lapsed seats to the waiting list": "registration.tasks.offer_lapsed_seats_task",
    "Send due bank-transfer reminders": "registration.tasks.send_due_transfer_reminders_task",
}


def create_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": "I",  # Schedule.MINUTES
                "minutes": 1,
                "repeats": -1,
            },
            create_defaults={
                "func": func,
                "schedule_type": "I",
                "minutes": 1,
                "repeats": -1,
                "next_run": timezone.now(),
            },
        )


def delete_schedules(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=SCHEDULES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("registration", "0006_waiting_list_entry"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [
        migrations.RunPython(create_schedules, delete_schedules),
    ]
