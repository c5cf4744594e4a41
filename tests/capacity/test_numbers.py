"""Quantities and capacities are plain ASCII digits: "３", "٣", "1_0" and "+2" are
refused everywhere with the same message as "abc"."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from capacity.models import BlockedSeats
from capacity.numbers import parse_whole_number
from capacity.services import block_seats, override_capacity
from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

NOT_ASCII_DIGITS = ["３", "٣", "1_0", "+2", "3.0", "²", "0x10", "1 0"]


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS + ["abc", "", "-", True, None, 2.0])
def test_anything_but_plain_digits_is_not_a_whole_number(typed):
    assert parse_whole_number(typed) is None


@pytest.mark.parametrize(("typed", "number"), [("3", 3), (" 12 ", 12), ("-1", -1), (7, 7)])
def test_plain_digits_are(typed, number):
    assert parse_whole_number(typed) == number


@pytest.fixture
def sold_out():
    conference = make_conference(slug="digits", total_capacity=2)
    ticket = make_ticket_type(conference, name="Regular", slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 2)])
    return conference, ticket


def posted_message(response, field_message):
    html = response.content.decode()
    assert response.status_code == 400
    return field_message in html


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_order_form_refuses_them_like_abc(client, typed):
    conference = make_conference(slug="shop")
    make_ticket_type(conference, name="Regular", slug="regular")
    data = {"name": "Ada", "email": "ada@example.com"}
    as_abc = client.post(f"/{conference.slug}/", {**data, "ticket-regular": "abc"})
    response = client.post(f"/{conference.slug}/", {**data, "ticket-regular": typed})
    message = "Enter a whole number for Regular, or leave it empty."
    assert posted_message(as_abc, message)
    assert posted_message(response, message)
    assert not Order.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_services_refuse_them_like_abc(sold_out, typed):
    conference, ticket = sold_out
    for quantity in ("abc", typed):
        with pytest.raises(ValidationError, match="must be a whole number"):
            services.place_order(
                conference=conference, email="a@example.com", name="A", tickets={ticket: quantity}
            )
        with pytest.raises(ValidationError, match="must be a whole number"):
            services.join_waiting_list(
                conference=conference,
                email="a@example.com",
                name="A",
                quantity=quantity,
                ticket_type=ticket,
            )
        with pytest.raises(ValidationError, match="must be a whole number"):
            override_capacity(target=conference, total=quantity, reason="r", user=None)
        with pytest.raises(ValidationError, match="must be a whole number"):
            block_seats(conference=conference, quantity=quantity, label="x", reason="r", user=None)


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_waiting_list_form_refuses_them_like_abc(client, sold_out, typed):
    conference, ticket = sold_out
    url = reverse("registration:join-waiting-list", kwargs={"slug": conference.slug})
    data = {"name": "Ada", "email": "ada@example.com", "ticket_type": ticket.slug}
    message = "Enter the number of seats as a whole number."
    assert posted_message(client.post(url, {**data, "quantity": "abc"}), message)
    assert posted_message(client.post(url, {**data, "quantity": typed}), message)
    assert not WaitingListEntry.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_capacity_dialogs_refuse_them_like_abc(client, sold_out, typed):
    conference, ticket = sold_out
    client.force_login(make_user(is_superuser=True))
    slug = {"slug": conference.slug}
    forms = [
        (reverse("capacity:override-adjust-venue", kwargs=slug), {"reason": "r"}, "total"),
        (
            reverse("capacity:override-block", kwargs=slug),
            {"label": "x", "reason": "r"},
            "quantity",
        ),
        (
            reverse("capacity:override-comp", kwargs=slug),
            {"name": "A", "email": "a@example.com", "reason": "r"},
            f"ticket-{ticket.slug}",
        ),
    ]
    for url, data, field in forms:
        as_abc = client.post(url, {**data, field: "abc"}).context["form"].errors[field]
        errors = client.post(url, {**data, field: typed}).context["form"].errors[field]
        assert errors == as_abc == ["Enter a whole number."]
    assert conference.__class__.objects.get(pk=conference.pk).total_capacity == 2
    assert not BlockedSeats.objects.exists()


@pytest.mark.parametrize("typed", NOT_ASCII_DIGITS)
def test_the_admins_capacity_field_refuses_them(client, sold_out, typed):
    conference, ticket = sold_out
    client.force_login(make_user(is_superuser=True, is_staff=True))
    url = reverse("admin:registration_tickettype_change", args=[ticket.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"total_quantity": typed, "capacity_reason": "r", "is_active": "on"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["total_quantity"] == ["Enter a whole number."]
