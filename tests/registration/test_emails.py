"""Emails go through the task queue, after the commit: the confirmation, the
waiting-list offer and the bank-transfer reminder."""

import pydoc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone, translation
from django_q.brokers import get_broker
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from registration import emails, services
from registration.emails import (
    send_due_transfer_reminders,
    send_order_confirmation,
    send_transfer_reminder,
    send_waiting_list_offer,
    send_waiting_list_offer_on_commit,
)
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_entry, make_order, make_ticket_type
from tests.races import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def regular():
    conference = make_conference(name="MailConf", timezone="Europe/Berlin", total_capacity=50)
    return make_ticket_type(conference, name="Regular", slug="regular")


def place(regular, quantity=2, email="ada@example.com"):
    return services.place_order(
        conference=regular.conference, email=email, name="Ada", tickets={regular: quantity}
    )


@pytest.fixture
def queued(settings):
    """Tasks go to the queue (the database), as in production, not run at once."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": False}


def queued_tasks():
    """The tasks waiting in the queue, as (function path, args), oldest first."""
    return [(task.func(), task.task["args"]) for task in OrmQ.objects.order_by("id")]


# --- the confirmation, through the queue ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_payment_queues_its_confirmation_when_it_commits_and_a_rollback_queues_nothing(
    regular, queued, mailoutbox
):
    order = place(regular)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.mark_paid(order, provider="demo")
        assert OrmQ.objects.count() == 0
        raise RuntimeError("the payment's transaction rolls back")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert OrmQ.objects.count() == 0

    services.mark_paid(order, provider="demo")

    assert queued_tasks() == [("registration.emails.send_order_confirmation", (order.pk,))]
    assert mailoutbox == []  # the order's request never waits for the mail server

    # What the worker does with it: take it from the broker and run its function.
    ((_, payload),) = get_broker().dequeue()
    task = SignedPackage.loads(payload)
    assert pydoc.locate(task["func"])(*task["args"]) == 1
    (message,) = mailoutbox
    assert message.to == ["ada@example.com"] and order.reference in message.subject


def test_an_order_placed_in_german_is_confirmed_in_german(
    regular, mailoutbox, django_capture_on_commit_callbacks
):
    regular.price = Decimal("149.00")
    regular.save(update_fields=["price"])
    with translation.override("de"):
        order = place(regular, 1)
    assert order.language == "de"

    # Paid later, by a request (or an organizer) reading in English.
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_paid(order, provider="demo")

    (message,) = mailoutbox
    for body in (message.body, message.alternatives[0].content):
        assert "149,00" in body and "€149.00" not in body
        assert "1. Juni 2027" in body and "June" not in body
    assert 'lang="de"' in message.alternatives[0].content


def test_the_confirmation_task_sends_nothing_once_the_order_is_refunded(
    regular, mailoutbox, django_capture_on_commit_callbacks
):
    order = place(regular)
    with django_capture_on_commit_callbacks() as callbacks:
        services.mark_paid(order)
    services.refund_order(order)
    assert mailoutbox == []

    for callback in callbacks:
        callback()

    assert mailoutbox == []
    assert send_order_confirmation(order.pk) == 0


# --- the waiting-list offer -----------------------------------------------------


@pytest.fixture
def offer(regular):
    """Ada's OFFERED entry: 2 Regular seats held until 1 May 2027, 10:00 UTC."""
    order = Order.objects.create(
        conference=regular.conference,
        status=Order.Status.PENDING,
        email="ada@example.com",
        name="Ada",
        reference="SK-OFFR-0001",
        hold_expires_at=datetime(2027, 5, 1, 10, 0, tzinfo=UTC),
        total=200,
    )
    order.lines.create(
        ticket_type=regular, quantity=2, unit_price=100, line_total=200, description="Regular"
    )
    return make_entry(
        regular.conference,
        regular,
        2,
        email="ada@example.com",
        status=WaitingListEntry.Status.OFFERED,
        order=order,
        offered_at=timezone.now(),
    )


@pytest.fixture
def before_the_deadline(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2027, 4, 30, 12, 0, tzinfo=UTC))


def test_the_offer_email_has_the_link_the_seats_and_the_deadline_in_the_conference_zone(
    offer, before_the_deadline, mailoutbox
):
    assert send_waiting_list_offer(offer.pk) == 1

    (message,) = mailoutbox
    assert message.to == ["ada@example.com"]
    assert "MailConf" in message.subject
    assert "held for you until 1 May 2027, 12:00 CEST" in message.subject
    link = "http://127.0.0.1:8000" + offer.order.get_absolute_url()
    html = message.alternatives[0].content
    for body in (message.body, html):
        assert link in body
        assert "2 × Regular" in body
        assert "2 seats in all" in body
        assert "1 May 2027, 12:00 CEST" in body  # 10:00 UTC in Berlin
    assert f'href="{link}"' in html


def test_the_offer_email_is_written_the_way_the_entrys_language_writes_dates(
    offer, before_the_deadline, mailoutbox
):
    WaitingListEntry.objects.filter(pk=offer.pk).update(language="de")

    assert send_waiting_list_offer(offer.pk) == 1

    (message,) = mailoutbox
    assert "1. Mai 2027, 12:00 CEST" in message.subject
    for body in (message.body, message.alternatives[0].content):
        assert "1. Mai 2027, 12:00 CEST" in body
        assert "200,00" in body  # the Regular line: 2 × 100,00 €


@pytest.mark.parametrize(
    "change",
    [
        {"status": WaitingListEntry.Status.LEFT},
        {"status": WaitingListEntry.Status.EXPIRED},
        {"status": WaitingListEntry.Status.ACCEPTED},
    ],
)
def test_no_offer_email_once_the_entry_is_no_longer_offered(
    offer, before_the_deadline, mailoutbox, change
):
    WaitingListEntry.objects.filter(pk=offer.pk).update(**change)

    assert send_waiting_list_offer(offer.pk) == 0
    assert mailoutbox == []


def test_no_offer_email_once_the_offer_has_lapsed(offer, mailoutbox, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2027, 5, 1, 10, 0, tzinfo=UTC))

    assert send_waiting_list_offer(offer.pk) == 0
    assert send_waiting_list_offer(offer.pk + 1000) == 0  # gone altogether
    assert mailoutbox == []


@pytest.mark.django_db(transaction=True)
def test_the_offer_email_is_queued_on_commit_and_never_for_a_rolled_back_offer(offer, queued):
    with pytest.raises(RuntimeError), transaction.atomic():
        send_waiting_list_offer_on_commit(offer)
        raise RuntimeError("the offer's transaction rolls back")
    assert queued_tasks() == []

    with transaction.atomic():
        send_waiting_list_offer_on_commit(offer)
        assert queued_tasks() == []

    assert queued_tasks() == [("registration.emails.send_waiting_list_offer", (offer.pk,))]


def test_an_offer_made_by_a_cancellation_is_emailed_once_committed(
    regular, mailoutbox, django_capture_on_commit_callbacks
):
    conference = regular.conference
    conference.total_capacity = 2
    conference.save(update_fields=["total_capacity"])
    paid = make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    entry = make_entry(conference, regular, 2, email="bob@example.com")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.cancel_order(paid)
    assert mailoutbox == []
    for callback in callbacks:
        callback()

    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.OFFERED
    (message,) = mailoutbox
    assert message.to == ["bob@example.com"]
    assert entry.order.get_absolute_url() in message.body


# --- the bank-transfer reminder -------------------------------------------------


@pytest.fixture
def transfer(regular):
    """Ada's order awaiting her bank transfer: held 3 days from when she chose it."""
    return services.choose_bank_transfer(place(regular))


def hours_before_deadline(order, hours):
    return order.hold_expires_at - timedelta(hours=hours)


def test_a_transfer_is_reminded_once_and_only_within_the_window(
    transfer, mailoutbox, django_capture_on_commit_callbacks
):
    assert transfer.hold_expires_at > timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_transfer_reminders(hours_before_deadline(transfer, 25)) == 0
    assert mailoutbox == []

    now = hours_before_deadline(transfer, 23)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_due_transfer_reminders(now) == 1
        assert send_due_transfer_reminders(now) == 0
        assert send_due_transfer_reminders(hours_before_deadline(transfer, 1)) == 0

    transfer.refresh_from_db()
    assert transfer.transfer_reminder_sent_at == now
    (message,) = mailoutbox
    assert message.to == ["ada@example.com"]
    assert transfer.reference in message.subject
    with timezone.override(transfer.conference.timezone):
        deadline = f"{timezone.localtime(transfer.hold_expires_at):%H:%M %Z}"
    assert deadline.endswith(("CET", "CEST"))
    assert deadline in message.subject
    for body in (message.body, message.alternatives[0].content):
        assert transfer.reference in body
        assert deadline in body
        assert "€200.00" in body
        assert "organizer" in body and "bank account" in body
        assert transfer.get_absolute_url() in body


def test_the_reminder_window_follows_the_setting(transfer, settings, mailoutbox):
    settings.SEATKEEPER_TRANSFER_REMINDER_HOURS = 48

    assert send_due_transfer_reminders(hours_before_deadline(transfer, 49)) == 0
    assert send_due_transfer_reminders(hours_before_deadline(transfer, 47)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"status": Order.Status.PAID},
        {"status": Order.Status.CANCELLED},
        {"status": Order.Status.EXPIRED},
        {"payment_provider": "demo"},
    ],
)
def test_no_reminder_for_orders_not_awaiting_a_transfer(transfer, change):
    Order.objects.filter(pk=transfer.pk).update(**change)

    assert send_due_transfer_reminders(hours_before_deadline(transfer, 2)) == 0
    transfer.refresh_from_db()
    assert transfer.transfer_reminder_sent_at is None


def test_no_reminder_once_the_hold_has_lapsed(transfer):
    assert send_due_transfer_reminders(transfer.hold_expires_at) == 0
    assert send_due_transfer_reminders(transfer.hold_expires_at + timedelta(hours=1)) == 0


def test_a_hold_inside_the_window_from_the_start_gets_no_reminder(regular):
    order = place(regular)
    Order.objects.filter(pk=order.pk).update(
        payment_provider="manual", hold_expires_at=order.created_at + timedelta(hours=20)
    )

    assert send_due_transfer_reminders(order.created_at + timedelta(hours=1)) == 0


def test_a_transfer_chosen_less_than_the_window_before_its_deadline_gets_no_reminder(regular):
    """A day to pay, chosen a while after ordering: the deadline was on the page just then."""
    regular.conference.bank_transfer_days = 1
    regular.conference.save()
    order = place(regular)
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    order = services.choose_bank_transfer(order)

    assert send_due_transfer_reminders(timezone.now() + timedelta(minutes=1)) == 0


def test_a_deadline_set_again_after_a_lapse_is_reminded_again(transfer):
    assert send_due_transfer_reminders(hours_before_deadline(transfer, 23)) == 1
    Order.objects.filter(pk=transfer.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )

    renewed = services.choose_bank_transfer(transfer)

    assert renewed.transfer_reminder_sent_at is None
    assert send_due_transfer_reminders(hours_before_deadline(renewed, 23)) == 1


def test_the_reminder_task_sends_nothing_once_the_transfer_has_arrived(transfer, mailoutbox):
    services.mark_paid(transfer)

    assert send_transfer_reminder(transfer.pk) == 0
    assert mailoutbox == []


def race_for_reminders(regular, settings):
    """Four workers look for due reminders at once, three orders due; returns what
    each queued and the queued tasks' orders."""
    orders = [
        services.choose_bank_transfer(place(regular, 1, email=f"t{i}@example.com"))
        for i in range(3)
    ]
    now = hours_before_deadline(orders[0], 2)
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.2
    outcome = race(4, lambda i: send_due_transfer_reminders(now))
    return outcome.won, sorted(args for _, args in queued_tasks()), orders


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_workers_running_at_once_remind_each_transfer_once(regular, queued, settings):
    won, queued_orders, orders = race_for_reminders(regular, settings)

    assert sum(won) == 3
    assert queued_orders == sorted((order.pk,) for order in orders)


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_control_an_unconditional_claim_reminds_twice(regular, queued, settings, monkeypatch):
    monkeypatch.setattr(
        emails,
        "_claim_reminder",
        lambda due, pk, now: bool(
            Order.objects.filter(pk=pk).update(transfer_reminder_sent_at=now)
        ),
    )

    won, queued_orders, _ = race_for_reminders(regular, settings)

    assert sum(won) > 3
    assert len(queued_orders) > 3
