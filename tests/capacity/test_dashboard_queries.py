"""A dashboard page or poll costs the same number of queries whatever the size of the sale."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from capacity.models import BlockedSeats
from registration.models import Order, WaitingListEntry
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

STATUSES = [Order.Status.PAID, Order.Status.PENDING, Order.Status.CANCELLED, Order.Status.REFUNDED]


def conference_with(organizer, *, ticket_types, orders_per_type):
    conference = make_conference(total_capacity=10_000)
    conference.organizers.add(organizer)
    addons = [make_addon(conference) for _ in range(ticket_types // 3 + 1)]
    for n in range(ticket_types):
        ticket_type = make_ticket_type(conference, total_quantity=500)
        BlockedSeats.objects.create(
            conference=conference, ticket_type=ticket_type, label="speakers", quantity=1
        )
        WaitingListEntry.objects.create(
            conference=conference,
            ticket_type=ticket_type if n % 2 else None,
            email=f"waiting{n}@example.com",
            name=f"Waiting {n}",
            quantity=1 + n % 3,
        )
        for m in range(orders_per_type):
            make_order(
                conference,
                STATUSES[(n + m) % len(STATUSES)],
                tickets=[(ticket_type, 1 + m % 3)],
                addons=[(addons[n % len(addons)], 1)],
            )
    return conference


def queries_for(client, url, **headers):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    return response, len(captured)


@pytest.fixture
def organizer_client(client):
    organizer = make_user()
    client.force_login(organizer)
    client.organizer = organizer
    return client


@pytest.fixture
def small_and_large(organizer_client):
    small = conference_with(organizer_client.organizer, ticket_types=3, orders_per_type=2)
    large = conference_with(organizer_client.organizer, ticket_types=30, orders_per_type=6)
    return small, large


def test_dashboard_page_queries_do_not_grow_with_ticket_types(organizer_client, small_and_large):
    counts = []
    for conference in small_and_large:
        url = reverse("capacity:dashboard", kwargs={"slug": conference.slug})
        response, queries = queries_for(organizer_client, url)
        assert response.status_code == 200
        counts.append(queries)
    assert counts[0] == counts[1]


def test_poll_queries_do_not_grow_with_ticket_types(
    organizer_client, small_and_large, django_assert_max_num_queries
):
    counts = []
    for conference in small_and_large:
        url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
        response, queries = queries_for(organizer_client, url, HX_Request="true")
        assert response.status_code == 200
        assert response.content.count(b'hx-swap-oob="true"') >= 7
        counts.append(queries)
    assert counts[0] == counts[1]
    large_poll = reverse("capacity:dashboard-poll", kwargs={"slug": small_and_large[1].slug})
    with django_assert_max_num_queries(counts[0]):
        organizer_client.get(large_poll)


def test_unchanged_poll_is_cheap_and_renders_nothing(organizer_client, small_and_large):
    counts = []
    for conference in small_and_large:
        url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
        first = organizer_client.get(url)
        response, queries = queries_for(organizer_client, url, If_None_Match=first["ETag"])
        assert response.status_code == 304
        assert response.templates == []
        counts.append(queries)
    # Session, user, conference with the organizer check, the version: nothing else.
    assert counts[0] == counts[1] <= 4


def test_orders_table_queries_do_not_grow_with_orders(organizer_client, small_and_large):
    counts = []
    for conference in small_and_large:
        url = reverse("capacity:orders", kwargs={"slug": conference.slug})
        response, queries = queries_for(organizer_client, url)
        assert response.status_code == 200
        counts.append(queries)
    assert counts[0] == counts[1]


def test_poll_after_one_new_order_costs_the_same_for_3_or_30_ticket_types(
    organizer_client, small_and_large
):
    counts = []
    for conference in small_and_large:
        url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
        first = organizer_client.get(url, headers={"HX-Request": "true"})
        make_order(
            conference,
            Order.Status.PENDING,
            tickets=[(conference.ticket_types.first(), 1)],
        )
        response, queries = queries_for(
            organizer_client, url, HX_Request="true", If_None_Match=first["ETag"]
        )
        assert response.status_code == 200
        assert b'id="latest-orders"' in response.content
        counts.append(queries)
    assert counts[0] == counts[1]
