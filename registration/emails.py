"""Emails to attendees, sent through Django's email framework (console backend by default)."""

from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string

from .models import Order, WaitingListEntry


def send_order_confirmation(order_pk) -> int:
    """Email the buyer of a paid order its tickets; return how many emails went out.

    Reads the order afresh, so a payment rolled back or refunded in between sends
    nothing.
    """
    order = Order.objects.select_related("conference").prefetch_related("lines").get(pk=order_pk)
    if order.status not in Order.COMMITTED_STATUSES:
        return 0
    context = {
        "order": order,
        "conference": order.conference,
        "lines": list(order.lines.all()),
        "currency": getattr(settings, "SEATKEEPER_CURRENCY_SYMBOL", "€"),
        "order_url": settings.SEATKEEPER_SITE_URL.rstrip("/") + order.get_absolute_url(),
    }
    subject = f"Your tickets for {order.conference.name} ({order.reference})"
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("email/order_confirmation.txt", context),
        to=[order.email],
    )
    message.attach_alternative(
        render_to_string("email/order_confirmation.html", context), "text/html"
    )
    return message.send()


def confirm_payment_on_commit(order) -> None:
    """Send the confirmation once the payment is committed; a mail failure never undoes it."""
    transaction.on_commit(partial(send_order_confirmation, order.pk), robust=True)


def send_waiting_list_offer(entry_pk) -> int:
    """Email the person an offer from the waiting list went to: the order page's link
    and the deadline. Sends nothing when the entry is no longer OFFERED."""
    entry = (
        WaitingListEntry.objects.select_related("conference", "order")
        .filter(pk=entry_pk, status=WaitingListEntry.Status.OFFERED)
        .first()
    )
    if entry is None or entry.order is None:
        return 0
    order_url = settings.SEATKEEPER_SITE_URL.rstrip("/") + entry.order.get_absolute_url()
    body = (
        f"Seats have freed up for {entry.conference.name} and are held for you: "
        f"{entry.quantity} seat(s). Pay by {entry.order.hold_expires_at:%d %b %Y %H:%M} UTC "
        f"at {order_url}"
    )
    message = EmailMultiAlternatives(
        subject=f"Seats for {entry.conference.name} are waiting for you",
        body=body,
        to=[entry.email],
    )
    return message.send()


def send_waiting_list_offer_on_commit(entry) -> None:
    """Tell the person an offer went to, once the offer is committed."""
    transaction.on_commit(partial(send_waiting_list_offer, entry.pk), robust=True)
