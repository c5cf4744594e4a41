"""The dashboard in German: words in the reader's language, numbers a browser reads
(SVG geometry, data attributes) written the same way in every language."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from registration.models import Order
from registration.permissions import MANAGE_ORDERS_PERMISSION
from tests.factories import grant, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

# Attributes of the dashboard's SVG that hold numbers.
SVG_NUMBERS = {"x", "y", "x1", "x2", "y1", "y2", "width", "height", "viewbox"}
# A number a browser reads: digits, a point, more digits; never a comma.
MACHINE_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@pytest.fixture
def conference():
    # Seven seats: a seat is 14.286 % of a bar, so bars have fractional widths.
    return make_conference(total_capacity=7)


@pytest.fixture
def german_client(client, conference):
    organizer = grant(make_user("organizer"), MANAGE_ORDERS_PERMISSION)
    conference.organizers.add(organizer)
    client.force_login(organizer)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "de"
    return client


@pytest.fixture
def sales(conference):
    """Three seats taken today (so chart bars have fractional heights) and
    1234.50 paid today."""
    regular = make_ticket_type(
        conference, slug="regular", name="Regular", total_quantity=7, price=Decimal("617.25")
    )
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    make_order(conference, Order.Status.PENDING, tickets=[(regular, 1)])
    return regular


def svg_numbers(html):
    """(element, attribute, value) of every numeric attribute of every SVG element."""
    found = []
    for svg in re.findall(r"<svg\b.*?</svg>", html, re.S):
        for tag, attributes in re.findall(r"<(\w+)\b([^>]*)>", svg):
            for name, value in re.findall(r'([\w:-]+)="([^"]*)"', attributes):
                if name.lower() in SVG_NUMBERS:
                    found.append((tag, name, value))
    return found


def assert_machine_numbers(html):
    numbers = svg_numbers(html)
    assert numbers, "no SVG numbers found"
    assert any("." in value for _, _, value in numbers), "expected fractional geometry"
    for tag, name, value in numbers:
        for part in value.split():
            assert MACHINE_NUMBER.fullmatch(part), f"<{tag} {name}={value!r}>"
    for name, value in re.findall(r'(data-[\w-]+)="([^"]*)"', html):
        assert not re.search(r"\d,\d", value), f"{name}={value!r}"


def test_the_dashboard_in_german_keeps_machine_numbers_and_writes_money_the_german_way(
    german_client, conference, sales
):
    response = german_client.get(reverse("capacity:dashboard", kwargs={"slug": conference.slug}))
    html = response.content.decode()

    assert response.status_code == 200
    assert response["Content-Language"] == "de"
    assert '<html lang="de"' in html
    assert_machine_numbers(html)
    revenue = re.search(r'id="revenue-today"[^>]*data-value="([^"]*)">([^<]*)<', html)
    assert Decimal(revenue.group(1)) == Decimal("1234.50")
    assert revenue.group(2).replace("\xa0", " ") == "1.234,50 €"
    latest = html[html.index('id="latest-orders"') :]
    assert '<span class="status status-paid">Bezahlt</span>' in latest
    assert '<span class="status status-pending">Unbezahlt</span>' in latest


def test_the_poll_in_german_keeps_machine_numbers(german_client, conference, sales):
    response = german_client.get(
        reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug}),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert 'id="sales-chart"' in html and 'id="venue-gauge"' in html
    assert_machine_numbers(html)
    assert "1.234,50" in html


def test_the_same_dashboard_in_english_writes_money_the_english_way(
    german_client, conference, sales
):
    german_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    html = german_client.get(
        reverse("capacity:dashboard", kwargs={"slug": conference.slug})
    ).content.decode()

    assert '<html lang="en"' in html
    assert_machine_numbers(html)
    assert re.search(r'id="revenue-today"[^>]*>€1,234.50<', html)


def test_the_csv_exports_stay_english_for_programs_whatever_the_page_language(
    german_client, conference, sales
):
    orders = german_client.get(
        reverse("capacity:orders", kwargs={"slug": conference.slug}), {"_export": "csv"}
    ).content.decode()
    waiting = german_client.get(
        reverse("capacity:waiting-list", kwargs={"slug": conference.slug}), {"_export": "csv"}
    ).content.decode()

    assert orders.splitlines()[0] == "Reference,Placed,Buyer,Email,Tickets,Total,Status,Paid"
    assert ",0.00,Paid," in orders and ",Pending payment," in orders
    assert waiting.splitlines()[0] == (
        "Place,Joined,Name,Email,Ticket type,Seats,Status,Offer,Offer until"
    )
