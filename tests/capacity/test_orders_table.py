"""The organizers' orders table: sorting, paging, filtering, htmx partials and CSV export."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.tables import spreadsheet_safe
from registration import services
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizer_client(client, conference):
    user = make_user()
    conference.organizers.add(user)
    client.force_login(user)
    return client


@pytest.fixture
def ticket(conference):
    return make_ticket_type(conference)


def url(conference, **params):
    base = reverse("capacity:orders", kwargs={"slug": conference.slug})
    if params:
        base += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return base


def references(response):
    return re.findall(r'<tr[^>]*data-reference="([^"]+)"', response.content.decode())


def orders_placed(conference, ticket, count, **kwargs):
    """``count`` orders, the first placed longest ago."""
    now = timezone.now()
    orders = []
    for n in range(count):
        order = make_order(conference, tickets=[(ticket, 1 + n % 4)], **kwargs)
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=count - n))
        orders.append(order)
    return orders


def test_newest_first_25_per_page(organizer_client, conference, ticket):
    orders = orders_placed(conference, ticket, 30)
    first = organizer_client.get(url(conference))
    assert first.status_code == 200
    assert references(first) == [o.reference for o in reversed(orders)][:25]
    second = organizer_client.get(url(conference, page=2))
    assert references(second) == [o.reference for o in reversed(orders)][25:]
    assert 'id="orders-count" data-value="30"' in first.content.decode()


def test_sort_by_tickets_both_ways(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 8)
    ascending = organizer_client.get(url(conference, sort="tickets"))
    quantities = [
        int(q) for q in re.findall(r'<td class="num">(\d+)</td>', ascending.content.decode())
    ]
    assert quantities == sorted(quantities) and len(set(quantities)) == 4
    descending = organizer_client.get(url(conference, sort="-tickets"))
    assert references(descending) == list(reversed(references(ascending)))


def test_sort_ties_page_without_duplicates(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 60)
    seen = []
    for page in (1, 2, 3):
        seen += references(organizer_client.get(url(conference, sort="status", page=page)))
    assert len(seen) == len(set(seen)) == 60


def test_status_filter_and_search(organizer_client, conference, ticket):
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    Order.objects.filter(pk=pending.pk).update(name="Grace Hopper", email="grace@navy.example")
    assert references(organizer_client.get(url(conference, status="paid"))) == [paid.reference]
    assert references(organizer_client.get(url(conference, q="hopper"))) == [pending.reference]
    assert references(organizer_client.get(url(conference, q="NAVY.example"))) == [
        pending.reference
    ]
    assert references(organizer_client.get(url(conference, q=paid.reference.lower()))) == [
        paid.reference
    ]
    assert references(organizer_client.get(url(conference, q="hopper", status="paid"))) == []


def test_bad_filter_input_is_explained_and_ignored(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 3)
    response = organizer_client.get(url(conference, status="bogus", page="abc", per_page="99999"))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert len(references(response)) == 3
    huge_page = organizer_client.get(url(conference, page="999"))
    assert len(references(huge_page)) == 3
    unknown_sort = organizer_client.get(url(conference, sort="secret"))
    assert unknown_sort.status_code == 200


def test_per_page_is_capped(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 120)
    response = organizer_client.get(url(conference, per_page=1000))
    assert len(references(response)) == 100


def test_htmx_request_gets_only_the_table_partial(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 30)
    response = organizer_client.get(url(conference, sort="tickets"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="orders-results"')
    assert "<html" not in html
    assert 'hx-push-url="true"' in html and 'hx-target="#orders-results"' in html
    assert "HX-Request" in response["Vary"]
    history = organizer_client.get(
        url(conference), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in history.content.decode()


def test_sort_and_page_links_keep_the_filters(organizer_client, conference, ticket):
    orders_placed(conference, ticket, 30, status=Order.Status.PAID)
    html = organizer_client.get(url(conference, status="paid", sort="tickets")).content.decode()
    page_two = re.search(r'hx-get="([^"]*page=2[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "status=paid" in page_two and "sort=tickets" in page_two
    sort_link = re.search(r'hx-get="([^"]*)"[^>]*data-sort="name"', html).group(1)
    assert "status=paid" in sort_link.replace("&amp;", "&") and "page=" not in sort_link


def test_totals_are_written_as_money_on_the_page(organizer_client, conference, ticket):
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    Order.objects.filter(pk=paid.pk).update(total="1300.00")

    html = organizer_client.get(url(conference)).content.decode()

    assert ">€1,300.00<" in html


def test_csv_export_of_the_filtered_orders(organizer_client, conference, ticket):
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 3)])
    Order.objects.filter(pk=paid.pk).update(name="=HYPERLINK(1)", total="300.00")
    make_order(conference, Order.Status.CANCELLED, tickets=[(ticket, 1)])
    orders_placed(conference, ticket, 30, status=Order.Status.PAID)

    response = organizer_client.get(url(conference, status="paid", _export="csv", page=2))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{conference.slug}-orders.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Reference", "Placed", "Buyer", "Email", "Tickets", "Total", "Status", "Paid"
    ]  # fmt: skip
    assert len(rows) == 1 + 31  # every paid order, not one page
    row = next(row for row in rows if row[0] == paid.reference)
    assert row[2] == "'=HYPERLINK(1)"
    assert row[4] == "3" and row[5] == "300.00" and row[6] == "Paid"
    assert {r[6] for r in rows[1:]} == {"Paid"}


def test_export_in_another_format_is_refused_with_a_message(organizer_client, conference):
    response = organizer_client.get(url(conference, _export="xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "CSV only" in response.content.decode()


def test_other_conferences_orders_are_not_listed(organizer_client, conference, ticket):
    mine = make_order(conference, tickets=[(ticket, 1)])
    other = make_conference()
    make_order(other, tickets=[(make_ticket_type(other), 1)])
    assert references(organizer_client.get(url(conference))) == [mine.reference]


def test_spreadsheet_safe():
    assert spreadsheet_safe("=1+1") == "'=1+1"
    assert spreadsheet_safe("@SUM") == "'@SUM"
    assert spreadsheet_safe("Ada") == "Ada"
    assert spreadsheet_safe(None) == ""


# --- bank transfers ---------------------------------------------------------------------


@pytest.fixture
def transfers(conference, ticket):
    """A pending bank transfer, a plain pending order, and a paid bank transfer."""
    awaiting = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 2)])
    services.choose_bank_transfer(awaiting)
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    received = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    services.choose_bank_transfer(received)
    services.mark_paid(received, provider="manual")
    return {"awaiting": awaiting, "pending": pending, "received": received}


def marked_awaiting(html):
    rows = re.findall(r'<tr[^>]*data-reference="([^"]+)"[^>]*>(.*?)</tr>', html, re.S)
    return [reference for reference, row in rows if "awaiting transfer" in row]


def test_pending_bank_transfers_are_marked_in_the_table(organizer_client, conference, transfers):
    html = organizer_client.get(url(conference)).content.decode()
    assert marked_awaiting(html) == [transfers["awaiting"].reference]
    assert 'data-field="awaiting-transfer"' in html


def test_the_status_filter_finds_pending_bank_transfers(organizer_client, conference, transfers):
    response = organizer_client.get(url(conference, status="awaiting_transfer"))
    assert references(response) == [transfers["awaiting"].reference]
    assert '<option value="awaiting_transfer" selected>Awaiting transfer</option>' in (
        response.content.decode()
    )
    pending = references(organizer_client.get(url(conference, status="pending")))
    assert set(pending) == {transfers["awaiting"].reference, transfers["pending"].reference}


def test_the_csv_export_says_awaiting_transfer(organizer_client, conference, transfers):
    response = organizer_client.get(url(conference, status="awaiting_transfer", _export="csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == [transfers["awaiting"].reference]
    assert rows[1][6] == "Pending payment (awaiting transfer)"


def test_latest_orders_mark_pending_bank_transfers(organizer_client, conference, transfers):
    html = organizer_client.get(
        reverse("capacity:dashboard", kwargs={"slug": conference.slug})
    ).content.decode()
    latest = re.search(r'<section id="latest-orders".*?</section>', html, re.S).group(0)
    assert marked_awaiting(latest) == [transfers["awaiting"].reference]
