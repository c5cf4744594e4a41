"""The pay step: payment providers, late payments, and the confirmation email."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from registration import payments, services
from registration.emails import send_order_confirmation
from registration.models import Order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def conference():
    return make_conference(name="PayConf", total_capacity=3)


@pytest.fixture
def regular(conference):
    return make_ticket_type(conference, name="Regular", slug="regular")


@pytest.fixture
def order(conference, regular):
    return services.place_order(
        conference=conference,
        email="ada@example.com",
        name="Ada Lovelace",
        tickets={regular: 2},
        addons={make_addon(conference, name="Dinner"): 1},
    )


def pay_url(order):
    return order.get_absolute_url() + "pay/"


def lapse(order):
    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))


def test_demo_provider_pays_at_once_and_sends_the_confirmation(
    client, order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(pay_url(order), {"provider": "demo"})
    order.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert order.status == Order.Status.PAID
    assert order.payment_provider == "demo"
    assert order.paid_at is not None
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert order.reference in email.subject and "PayConf" in email.subject
    assert "2 × Regular" in email.body and "1 × Dinner" in email.body
    assert "http://127.0.0.1:8000" + order.get_absolute_url() in email.body
    page = client.get(order.get_absolute_url()).content.decode()
    assert "is paid" in page
    assert "Paid on" in page
    assert 'name="provider"' not in page


def test_paying_twice_is_harmless_and_sends_one_email(
    client, order, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(pay_url(order), {"provider": "demo"})
        response = client.post(pay_url(order), {"provider": "demo"}, follow=True)
    assert "is already paid" in response.content.decode()
    assert len(mail.outbox) == 1


def test_admin_mark_paid_sends_the_confirmation_too(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.mark_paid(order, provider="manual")
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_no_email_when_the_payment_does_not_commit(order, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.mark_paid(order)
    services.refund_order(order)
    for callback in callbacks:
        callback()
    assert mail.outbox == []


def test_free_order_gets_its_confirmation(conference, django_capture_on_commit_callbacks):
    free = make_ticket_type(conference, slug="free", price=0)
    with django_capture_on_commit_callbacks(execute=True):
        order = services.place_order(
            conference=conference, email="g@example.com", name="G", tickets={free: 1}
        )
    assert order.status == Order.Status.PAID
    assert len(mail.outbox) == 1


def test_manual_provider_shows_instructions_and_holds_the_order_for_the_transfer(client, order):
    page = client.get(order.get_absolute_url()).content.decode()
    assert "Bank transfer" in page
    assert f"quoting {order.reference}" in page
    response = client.post(pay_url(order), {"provider": "manual"})
    order.refresh_from_db()
    assert response.status_code == 302
    assert order.status == Order.Status.PENDING
    assert order.payment_provider == "manual"
    assert order.hold_expires_at > timezone.now() + timedelta(days=2)


@pytest.mark.parametrize("provider", ["", "stripe", "demo'; DROP TABLE"])
def test_unknown_provider_is_refused(client, order, provider):
    response = client.post(pay_url(order), {"provider": provider})
    order.refresh_from_db()
    assert response.status_code == 400
    assert "Choose one of the payment methods" in response.content.decode()
    assert order.status == Order.Status.PENDING


def test_provider_not_enabled_is_not_offered_nor_accepted(client, order, settings):
    settings.SEATKEEPER_PAYMENT_PROVIDERS = ["manual"]
    page = client.get(order.get_absolute_url()).content.decode()
    assert 'value="demo"' not in page
    assert client.post(pay_url(order), {"provider": "demo"}).status_code == 400
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_unknown_provider_in_settings_is_a_setup_error(settings):
    settings.SEATKEEPER_PAYMENT_PROVIDERS = ["demo", "paypal"]
    with pytest.raises(ImproperlyConfigured, match="paypal"):
        payments.enabled_providers()


def test_late_payment_succeeds_while_the_seats_are_still_free(client, order):
    lapse(order)
    response = client.post(pay_url(order), {"provider": "demo"})
    order.refresh_from_db()
    assert response.status_code == 302
    assert order.status == Order.Status.PAID


def test_late_payment_is_refused_with_a_clear_message_when_the_seats_are_gone(
    client, conference, regular, order
):
    lapse(order)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    response = client.post(pay_url(order), {"provider": "demo"})
    html = response.content.decode()
    order.refresh_from_db()
    assert response.status_code == 409
    assert f"The hold on order {order.reference} expired and its seats are no longer free." in html
    assert "Only 1 tickets remaining for PayConf." in html
    assert order.status == Order.Status.PENDING
    assert mail.outbox == []


def test_cancelled_order_cannot_be_paid(client, order):
    services.cancel_order(order)
    response = client.post(pay_url(order), {"provider": "demo"})
    order.refresh_from_db()
    assert response.status_code == 409
    assert "cancelled and cannot be paid" in response.content.decode()
    assert order.status == Order.Status.CANCELLED


def test_pay_needs_post(client, order):
    assert client.get(pay_url(order)).status_code == 405


def test_demo_provider_goes_through_mark_paid(order):
    transfer = payments.PROVIDERS["manual"].pay(order)
    assert transfer.status == Order.Status.PENDING and transfer.payment_provider == "manual"
    paid = payments.PROVIDERS["demo"].pay(order)
    assert paid.status == Order.Status.PAID and paid.payment_provider == "demo"


def test_confirmation_is_not_sent_for_an_unpaid_order(order):
    assert send_order_confirmation(order.pk) == 0
    assert mail.outbox == []
