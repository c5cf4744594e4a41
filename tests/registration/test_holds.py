"""Holds that fit how people pay: the per-buyer limit, bank transfer and releasing seats."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from capacity.services import get_global_sold_count
from registration.models import Order
from registration.services import (
    choose_bank_transfer,
    extend_hold,
    mark_paid,
    place_order,
    release_order,
)
from tests.factories import make_conference, make_order, make_ticket_type
from tests.races import race

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale():
    conference = make_conference(total_capacity=100, max_held_seats_per_buyer=10)
    return conference, make_ticket_type(conference, slug="regular", max_per_order=10)


def buy(conference, ticket_type, quantity, email="ada@example.com"):
    return place_order(
        conference=conference, email=email, name="Ada", tickets={ticket_type: quantity}
    )


# --- the per-buyer limit ----------------------------------------------------------


def test_a_buyer_cannot_hold_more_than_the_limit_in_any_case_of_their_email(sale):
    conference, ticket_type = sale
    buy(conference, ticket_type, 6, email="Ada@Example.com")

    with pytest.raises(ValidationError, match="already holding 6 seats") as refused:
        buy(conference, ticket_type, 5, email="ada@EXAMPLE.com")

    assert "Ada@Example.com" not in str(refused.value)
    assert Order.objects.count() == 1
    assert buy(conference, ticket_type, 4).status == Order.Status.PENDING


def test_one_held_seat_is_named_in_the_singular(sale):
    conference, ticket_type = sale
    buy(conference, ticket_type, 1)

    with pytest.raises(ValidationError, match="already holding 1 seat for") as refused:
        buy(conference, ticket_type, 10)
    assert "release it first" in str(refused.value)


def test_paid_orders_and_lapsed_holds_do_not_count_towards_the_limit(sale):
    conference, ticket_type = sale
    make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 8)])
    Order.objects.update(email="ada@example.com")
    lapsed = make_order(
        conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket_type, 9)]
    )
    Order.objects.filter(pk=lapsed.pk).update(email="ada@example.com")

    assert buy(conference, ticket_type, 10).status == Order.Status.PENDING


def test_another_buyer_is_not_limited_by_someone_elses_holds(sale):
    conference, ticket_type = sale
    buy(conference, ticket_type, 10)

    assert buy(conference, ticket_type, 10, email="bob@example.com").status == "pending"


def test_a_limit_of_zero_means_no_limit(sale):
    conference, ticket_type = sale
    conference.max_held_seats_per_buyer = 0
    conference.save()
    buy(conference, ticket_type, 10)

    assert buy(conference, ticket_type, 10).status == Order.Status.PENDING


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locked", [True, False], ids=["locked", "control"])
def test_one_buyer_racing_never_holds_more_than_the_limit(settings, locked):
    settings.SEATKEEPER_SEAT_LOCK = locked
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = 0.05
    conference = make_conference(total_capacity=1000, max_held_seats_per_buyer=10)
    ticket_type = make_ticket_type(conference, max_per_order=10)

    # One buyer, the email typed in two ways.
    emails = ["ada@example.org", "ADA@example.org"]
    outcome = race(10, lambda i: buy(conference, ticket_type, 3, email=emails[i % 2]))

    held = get_global_sold_count(conference)
    if locked:
        assert held <= 10
        assert len(outcome.won) == 3
        assert all("already holding" in str(error) for error in outcome.refused)
    else:
        assert held > 10  # the harness really races


# --- bank transfer ------------------------------------------------------------------


def test_choosing_bank_transfer_records_it_and_holds_the_seats_for_days(sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 2)

    choose_bank_transfer(order)

    order.refresh_from_db()
    assert order.payment_provider == "manual"
    assert order.status == Order.Status.PENDING
    left = order.hold_expires_at - timezone.now()
    assert timedelta(days=3) - timedelta(minutes=1) < left <= timedelta(days=3)
    assert get_global_sold_count(conference) == 2
    mark_paid(order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_bank_transfer_on_a_lapsed_hold_retakes_free_seats_and_refuses_gone_ones(sale):
    conference, ticket_type = sale
    conference.total_capacity = 2
    conference.save()
    order = make_order(
        conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket_type, 2)]
    )

    choose_bank_transfer(order)
    assert Order.objects.get(pk=order.pk).hold_is_live()

    Order.objects.filter(pk=order.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    buy(conference, ticket_type, 2, email="bob@example.com")
    with pytest.raises(ValidationError, match="no longer free"):
        choose_bank_transfer(order)
    order.refresh_from_db()
    assert not order.hold_is_live()


def test_choosing_bank_transfer_again_moves_no_deadline(sale):
    """Choosing again every few days must not hold the seats for ever."""
    conference, ticket_type = sale
    order = choose_bank_transfer(buy(conference, ticket_type, 2))
    soon = timezone.now() + timedelta(hours=5)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=soon)

    choose_bank_transfer(order)

    assert Order.objects.get(pk=order.pk).hold_expires_at == soon


@pytest.mark.parametrize("revive", [choose_bank_transfer, extend_hold])
@pytest.mark.parametrize("status", [Order.Status.PENDING, Order.Status.EXPIRED])
def test_a_lapsed_hold_comes_back_only_within_the_buyers_limit(sale, revive, status):
    conference, ticket_type = sale
    lapsed = make_order(conference, status, hold_minutes=-1, tickets=[(ticket_type, 4)])
    Order.objects.filter(pk=lapsed.pk).update(email="ADA@example.com")
    buy(conference, ticket_type, 7)

    with pytest.raises(ValidationError, match="already holding 7 seats"):
        revive(lapsed)

    lapsed.refresh_from_db()
    assert (lapsed.status, lapsed.hold_is_live()) == (status, False)
    assert lapsed.payment_provider != "manual"
    buy(conference, ticket_type, 3)  # within the limit, the same buyer may hold more
    with pytest.raises(ValidationError, match="already holding 10 seats"):
        revive(lapsed)
    Order.objects.filter(email="ada@example.com").update(status=Order.Status.CANCELLED)
    assert revive(lapsed).hold_is_live()


def test_a_paid_order_cannot_choose_bank_transfer(sale):
    conference, ticket_type = sale
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 1)])

    with pytest.raises(ValidationError, match="nothing to transfer"):
        choose_bank_transfer(order)
    assert Order.objects.get(pk=order.pk).payment_provider == order.payment_provider


# --- releasing seats ------------------------------------------------------------------


def test_releasing_an_order_frees_its_seats_at_once(sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 4)

    release_order(order)

    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert get_global_sold_count(conference) == 0


def test_a_paid_order_cannot_be_released(sale):
    conference, ticket_type = sale
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 1)])

    with pytest.raises(ValidationError, match="only an unpaid order"):
        release_order(order)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


# --- through the pages ------------------------------------------------------------------


def order_url(order, name):
    kwargs = {"slug": order.conference.slug, "reference": order.reference, "secret": order.secret}
    return reverse(f"registration:{name}", kwargs=kwargs)


def test_the_order_page_offers_release_and_bank_transfer(client, sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 1)

    page = client.get(order_url(order, "order")).content.decode()

    assert "Release my seats" in page
    assert 'id="pay-manual"' in page


def test_release_needs_the_confirmation_and_then_frees_the_seats(client, sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 3)

    unconfirmed = client.post(order_url(order, "cancel"))
    assert unconfirmed.status_code == 400
    assert "Tick the box" in unconfirmed.content.decode()
    assert "<h3>Seats not released</h3>" in unconfirmed.content.decode()
    assert "Not paid" not in unconfirmed.content.decode()
    assert get_global_sold_count(conference) == 3

    confirmed = client.post(order_url(order, "cancel"), {"confirm": "1"})
    assert confirmed.status_code == 302
    assert Order.objects.get(pk=order.pk).status == Order.Status.CANCELLED
    assert get_global_sold_count(conference) == 0
    assert "This order was cancelled" in client.get(confirmed["Location"]).content.decode()


def test_release_with_a_wrong_secret_is_a_404_and_changes_nothing(client, sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 3)
    url = reverse(
        "registration:cancel",
        kwargs={"slug": conference.slug, "reference": order.reference, "secret": "x" * 32},
    )

    assert client.post(url, {"confirm": "1"}).status_code == 404
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_releasing_a_paid_order_is_refused_on_the_page(client, sale):
    conference, ticket_type = sale
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 1)])

    response = client.post(order_url(order, "cancel"), {"confirm": "1"})

    assert response.status_code == 409
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID


def test_paying_by_bank_transfer_on_the_page_shows_the_deadline(client, sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 1)

    response = client.post(order_url(order, "pay"), {"provider": "manual"}, follow=True)

    page = response.content.decode()
    assert "Bank transfer chosen" in page
    assert 'id="awaiting-transfer"' in page
    assert Order.objects.get(pk=order.pk).payment_provider == "manual"


def test_an_unknown_provider_writes_nothing(client, sale):
    conference, ticket_type = sale
    order = buy(conference, ticket_type, 1)
    expires = order.hold_expires_at

    response = client.post(order_url(order, "pay"), {"provider": "bitcoin"})

    assert response.status_code == 400
    assert "<h3>Not paid</h3>" in response.content.decode()
    order.refresh_from_db()
    assert (order.payment_provider, order.hold_expires_at) == ("", expires)
