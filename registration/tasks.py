"""What the task queue's worker (`manage.py qcluster`) runs every minute.

The schedules are created by migration registration/0007_schedules. Neither
job is needed for a correct seat count: a lapsed hold stops counting the
instant it lapses, and seats owed to the waiting list are kept from newcomers
either way. The jobs only make offers and reminders go out sooner.
"""

from . import emails, services


def offer_lapsed_seats_task() -> int:
    """Lapse waiting-list offers whose time passed and offer the freed seats on;
    return how many offers were made."""
    return len(services.offer_lapsed_seats())


def send_due_transfer_reminders_task() -> int:
    """Queue the bank-transfer reminders now due; return how many."""
    return emails.send_due_transfer_reminders()
