"""Pages with personal data are kept by no cache (``private, no-store``), and every
answer that differs for htmx says so (``Vary: HX-Request``)."""

import pytest
from django.urls import reverse

from registration.models import Order
from tests.factories import make_entry, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(conference):
    ticket = make_ticket_type(conference, total_quantity=1)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    entry = make_entry(conference, ticket)
    return conference, order, entry


def assert_private(response):
    assert response.status_code in (200, 400, 409), response.status_code
    cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache_control, response["Cache-Control"]


def assert_varies_on_htmx(response):
    assert "HX-Request" in response.get("Vary", ""), response.get("Vary")


def test_the_attendees_order_page_and_its_htmx_part(client, sale):
    _, order, _ = sale
    page = client.get(order.get_absolute_url())
    assert_private(page)
    assert_varies_on_htmx(page)
    part = client.get(order.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert_private(part)
    assert_varies_on_htmx(part)


def test_the_order_pages_answers_to_its_forms(client, sale):
    _, order, _ = sale
    assert_private(client.post(order.get_absolute_url() + "pay/", {"provider": "nothing"}))
    assert_private(client.post(order.get_absolute_url() + "cancel/", {}))


def test_the_waiting_list_entry_page_and_its_htmx_part(client, sale):
    _, _, entry = sale
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(entry.get_absolute_url(), **headers)
        assert_private(response)
        assert_varies_on_htmx(response)


@pytest.mark.parametrize(
    "name",
    ["dashboard", "orders", "orders-csv", "waiting-list", "waiting-list-csv", "order", "overrides"],
)
def test_the_organizers_pages(client, sale, name):
    conference, order, _ = sale
    client.force_login(make_user(is_superuser=True))
    slug = {"slug": conference.slug}
    url = {
        "dashboard": reverse("capacity:dashboard", kwargs=slug),
        "orders": reverse("capacity:orders", kwargs=slug),
        "orders-csv": reverse("capacity:orders", kwargs=slug) + "?_export=csv",
        "waiting-list": reverse("capacity:waiting-list", kwargs=slug),
        "waiting-list-csv": reverse("capacity:waiting-list", kwargs=slug) + "?_export=csv",
        "order": reverse("capacity:order", kwargs={**slug, "reference": order.reference}),
        "overrides": reverse("capacity:overrides", kwargs=slug),
    }[name]
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, **headers)
        assert_private(response)
        assert_varies_on_htmx(response)


def test_an_order_actions_confirmation_and_the_override_dialogs(client, sale):
    conference, order, _ = sale
    client.force_login(make_user(is_superuser=True))
    slug = {"slug": conference.slug}
    for url in (
        reverse(
            "capacity:order-action",
            kwargs={**slug, "reference": order.reference, "action": "cancel"},
        ),
        reverse("capacity:override-comp", kwargs=slug),
        reverse("capacity:override-audit", kwargs=slug),
    ):
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert_private(response)
        assert_varies_on_htmx(response)


def test_public_answers_stay_cacheable(client, sale, settings):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference, _, _ = sale
    response = client.get(reverse("api:availability", kwargs={"slug": conference.slug}))
    assert "public" in response["Cache-Control"]
