"""Emails to attendees, sent by the task queue's worker (django-q2, `manage.py qcluster`).

Each email is enqueued when the transaction that calls for it commits, so a slow
mail server never slows an order and a rolled-back transaction sends nothing.
The task functions read their rows afresh and send nothing when the email no
longer applies (the order refunded, the offer taken back, the transfer paid).
"""

from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_q.tasks import async_task

from capacity.locking import pausing_before_first_write

from .models import Order, OrderLineItem, WaitingListEntry


def _enqueue(func_path, *args) -> None:
    # django-q2 reads Q_CLUSTER once, when it is imported; passing "sync" with each
    # task lets tests (and seed_demo) override it with the settings of the moment.
    async_task(func_path, *args, sync=getattr(settings, "Q_CLUSTER", {}).get("sync", False))


def _enqueue_on_commit(func_path, *args) -> None:
    """Queue ``func_path(*args)`` once the current transaction commits (at once
    outside one); a queue that cannot be reached is logged, never undoes the commit."""
    transaction.on_commit(partial(_enqueue, func_path, *args), robust=True)


def _site_url(path) -> str:
    return settings.SEATKEEPER_SITE_URL.rstrip("/") + path


@contextmanager
def _as_the_reader(language, conference):
    """Write in ``language`` (the buyer's, kept with the order or entry), with dates
    and times in the conference's time zone."""
    with translation.override(language), timezone.override(conference.timezone):
        yield


def _send(*, subject, template, context, to) -> int:
    """Render ``template`` .txt and .html and send them; call under ``_as_the_reader``."""
    body = render_to_string(f"email/{template}.txt", context)
    html = render_to_string(f"email/{template}.html", context)
    message = EmailMultiAlternatives(subject=" ".join(subject.split()), body=body, to=to)
    message.attach_alternative(html, "text/html")
    return message.send()


def hold_deadline(order) -> str:
    """When an order's hold ends, in the conference's time zone, for a sentence or
    a subject line (written the active language's way)."""
    with timezone.override(order.conference.timezone):
        return date_format(timezone.localtime(order.hold_expires_at), "DATETIME_FORMAT")


def bank_transfer_details() -> str:
    """Where a bank transfer goes, as the attendee is told."""
    return getattr(settings, "SEATKEEPER_BANK_TRANSFER_DETAILS", None) or _(
        "the organizer's bank account"
    )


# --- the payment confirmation ---------------------------------------------------


def send_order_confirmation(order_pk) -> int:
    """Email the buyer of a paid order its tickets; return how many emails went out.

    Reads the order afresh, so a payment rolled back or refunded in between sends
    nothing.
    """
    order = (
        Order.objects.select_related("conference")
        .prefetch_related("lines")
        .filter(pk=order_pk)
        .first()
    )
    if order is None or order.status not in Order.COMMITTED_STATUSES:
        return 0
    context = {
        "order": order,
        "conference": order.conference,
        "lines": list(order.lines.all()),
        "order_url": _site_url(order.get_absolute_url()),
    }
    with _as_the_reader(order.language, order.conference):
        return _send(
            subject=_("Your tickets for %(conference)s (%(reference)s)")
            % {"conference": order.conference.name, "reference": order.reference},
            template="order_confirmation",
            context=context,
            to=[order.email],
        )


def confirm_payment_on_commit(order) -> None:
    """Queue the confirmation once the payment is committed; a mail failure never undoes it."""
    _enqueue_on_commit("registration.emails.send_order_confirmation", order.pk)


# --- the waiting list's offer ---------------------------------------------------


def send_waiting_list_offer(entry_pk) -> int:
    """Email the person an offer from the waiting list went to: the order page's
    link, the seats and ticket type, and the deadline in the conference's time zone.

    Sends nothing when the entry is no longer OFFERED or its hold has lapsed.
    """
    entry = (
        WaitingListEntry.objects.select_related("conference", "order__conference")
        .filter(pk=entry_pk, status=WaitingListEntry.Status.OFFERED)
        .first()
    )
    if entry is None or entry.order is None or not entry.order.hold_is_live():
        return 0
    order = entry.order
    lines = list(order.lines.filter(kind=OrderLineItem.Kind.TICKET))
    context = {
        "entry": entry,
        "order": order,
        "conference": entry.conference,
        "lines": lines,
        "seats": sum(line.quantity for line in lines),
        "order_url": _site_url(order.get_absolute_url()),
    }
    with _as_the_reader(entry.language, entry.conference):
        return _send(
            subject=_("Seats for %(conference)s are held for you until %(deadline)s")
            % {"conference": entry.conference.name, "deadline": hold_deadline(order)},
            template="waiting_list_offer",
            context=context,
            to=[entry.email],
        )


def send_waiting_list_offer_on_commit(entry) -> None:
    """Queue the offer's email once the offer is committed."""
    _enqueue_on_commit("registration.emails.send_waiting_list_offer", entry.pk)


# --- the bank-transfer reminder -------------------------------------------------


def _transfer_pending():
    """Orders whose buyer chose to pay by bank transfer and has not paid yet."""
    return Order.objects.filter(status=Order.Status.PENDING, payment_provider="manual")


def send_transfer_reminder(order_pk) -> int:
    """Remind the buyer of an order awaiting their bank transfer of the deadline and
    the transfer details. Sends nothing once the order is paid, cancelled or lapsed."""
    order = _transfer_pending().select_related("conference").filter(pk=order_pk).first()
    if order is None or not order.hold_is_live():
        return 0
    with _as_the_reader(order.language, order.conference):
        context = {
            "order": order,
            "conference": order.conference,
            "bank_details": bank_transfer_details(),
            "order_url": _site_url(order.get_absolute_url()),
        }
        return _send(
            subject=_("Reminder: transfer %(reference)s for %(conference)s by %(deadline)s")
            % {
                "reference": order.reference,
                "conference": order.conference.name,
                "deadline": hold_deadline(order),
            },
            template="transfer_reminder",
            context=context,
            to=[order.email],
        )


def send_due_transfer_reminders(now=None) -> int:
    """Queue a reminder for each bank-transfer hold ending within
    ``SEATKEEPER_TRANSFER_REMINDER_HOURS``; return how many were queued.

    Each order is reminded once: it is claimed by a conditional UPDATE of
    ``transfer_reminder_sent_at``, so two workers running at once never both
    send. A hold whose deadline was set inside the window (the order was last
    written, by choosing bank transfer or moving the deadline, less than the
    window before it) gets no reminder: its deadline was on the page just then.
    """
    now = now or timezone.now()
    window = timedelta(hours=settings.SEATKEEPER_TRANSFER_REMINDER_HOURS)
    due = _transfer_pending().filter(
        transfer_reminder_sent_at__isnull=True,
        hold_expires_at__gt=now,
        hold_expires_at__lte=now + window,
        updated_at__lt=F("hold_expires_at") - window,
    )
    queued = 0
    with pausing_before_first_write():
        for order_pk in list(due.values_list("pk", flat=True)):
            if _claim_reminder(due, order_pk, now):
                _enqueue_on_commit("registration.emails.send_transfer_reminder", order_pk)
                queued += 1
    return queued


def _claim_reminder(due, order_pk, now) -> bool:
    """Mark one order reminded, unless another worker did since it was read."""
    return bool(due.filter(pk=order_pk).update(transfer_reminder_sent_at=now))
