"""Per-widget versions: each change moves the widgets that show it, and only those."""

import re

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from capacity import views
from capacity.models import BlockedSeats
from capacity.overrides import release_blocked_seats
from capacity.widgets import WIDGETS, widget_versions
from registration.models import Order, TicketType
from tests.factories import (
    grant,
    make_addon,
    make_conference,
    make_order,
    make_ticket_type,
    make_user,
)

pytestmark = pytest.mark.django_db

SEAT_WIDGETS = {"venue-gauge", "ticket-rows", "sales-stats", "projection", "sales-chart"}


@pytest.fixture
def sale():
    conference = make_conference(total_capacity=100)
    regular = make_ticket_type(conference, name="Regular", slug="regular", total_quantity=50)
    make_ticket_type(conference, name="Student", slug="student", total_quantity=20)
    make_addon(conference, name="Dinner", total_quantity=30)
    order = make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    # A hold lapsing before any new one: the next lapse stays the same.
    make_order(conference, Order.Status.PENDING, hold_minutes=1, tickets=[(regular, 1)])
    organizer = make_user()
    block = BlockedSeats.objects.create(
        conference=conference, ticket_type=regular, label="speakers", quantity=3
    )
    return conference, regular, order, block, organizer


def moved_by(conference, change):
    now = timezone.now()
    before = widget_versions(conference, now=now).versions
    change()
    conference.refresh_from_db()
    after = widget_versions(conference, now=now).versions
    return {widget for widget in WIDGETS if before[widget] != after[widget]}


def test_renaming_a_ticket_type_moves_its_rows_only(sale):
    conference, regular, *_ = sale

    def rename():
        # Same length: a version made of name lengths would miss it.
        TicketType.objects.filter(pk=regular.pk).update(name="Ordinar")

    assert moved_by(conference, rename) == {"ticket-rows"}


def test_deleting_a_paid_order_moves_what_shows_seats_and_orders(sale):
    conference, _, order, *_ = sale
    moved = moved_by(conference, order.delete)
    assert moved >= SEAT_WIDGETS | {"latest-orders"}
    assert not moved & {"addon-rows", "overrides-panel", "poller"}


def test_releasing_a_block_moves_the_gauge_and_rows_not_the_sales(sale):
    conference, _, _, block, organizer = sale

    def release():
        release_blocked_seats(block=block, reason="speaker cancelled", user=organizer)

    moved = moved_by(conference, release)
    assert {"venue-gauge", "ticket-rows", "projection"} <= moved
    assert not moved & {"sales-stats", "sales-chart", "latest-orders", "addon-rows"}


def test_a_new_order_leaves_the_add_ons_alone(sale):
    conference, regular, *_ = sale
    moved = moved_by(
        conference, lambda: make_order(conference, Order.Status.PENDING, tickets=[(regular, 1)])
    )
    assert moved >= SEAT_WIDGETS | {"latest-orders"}
    assert "addon-rows" not in moved


def test_an_add_on_sold_moves_the_add_on_rows(sale):
    conference, regular, *_ = sale
    dinner = conference.addons.get()
    moved = moved_by(
        conference,
        lambda: make_order(
            conference, Order.Status.PAID, tickets=[(regular, 1)], addons=[(dinner, 1)]
        ),
    )
    assert "addon-rows" in moved


def test_versions_are_one_statement_whatever_the_ticket_types(sale):
    conference, *_ = sale
    counts = []
    for extra in (0, 27):
        for _ in range(extra):
            make_ticket_type(conference)
        with CaptureQueriesContext(connection) as captured:
            widget_versions(conference)
        counts.append(len(captured))
    assert counts == [1, 1]


def swapped_in(html) -> set:
    return set(re.findall(r'id="([a-z0-9-]+)"[^>]*hx-swap-oob="true"', html))


def test_a_poll_draws_only_the_widgets_that_moved(client, sale):
    conference, regular, _, _, organizer = sale
    conference.organizers.add(organizer)
    client.force_login(organizer)
    url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
    first = client.get(url, headers={"HX-Request": "true"})
    TicketType.objects.filter(pk=regular.pk).update(name="Ordinar")

    response = client.get(url, headers={"HX-Request": "true", "If-None-Match": first["ETag"]})

    html = response.content.decode()
    assert response.status_code == 200
    # Of the ticket types, only the renamed row is drawn.
    assert swapped_in(html) == {"dashboard-updated", "ticket-type-regular"}
    assert "Ordinar" in html
    assert response["ETag"] != first["ETag"]
    again = client.get(url, headers={"HX-Request": "true", "If-None-Match": response["ETag"]})
    assert again.status_code == 304


def test_a_poll_asks_the_viewers_permission_once_at_most(client, sale, monkeypatch):
    conference, _, order, _, organizer = sale
    conference.organizers.add(organizer)
    client.force_login(organizer)
    asked = []
    real = views.can_override
    monkeypatch.setattr(views, "can_override", lambda user: asked.append(user) or real(user))
    url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})

    response = client.get(url, headers={"HX-Request": "true"})  # every widget drawn

    assert response.status_code == 200
    assert 'id="overrides-panel"' in response.content.decode()
    assert len(asked) == 1


def polls(client, conference, organizer):
    """Poll after poll, each sending the ETag of the one before, as the page does."""
    conference.organizers.add(organizer)
    client.force_login(organizer)
    url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
    etag = client.get(reverse("capacity:dashboard", kwargs={"slug": conference.slug}))
    etag = re.search(r'data-etag="([^"]+)"', etag.content.decode()).group(1).replace("&quot;", '"')

    def poll():
        nonlocal etag
        response = client.get(url, headers={"HX-Request": "true", "If-None-Match": etag})
        etag = response.get("ETag", etag)
        return response

    return poll


def test_a_new_order_redraws_the_row_of_its_ticket_type_only(client, sale):
    conference, regular, _, _, organizer = sale
    poll = polls(client, conference, organizer)
    assert poll().status_code == 304  # the page's own ETag: nothing moved

    make_order(conference, Order.Status.PENDING, tickets=[(regular, 2)])
    response = poll()

    html = response.content.decode()
    assert response.status_code == 200
    drawn = swapped_in(html)
    assert "ticket-type-regular" in drawn
    assert "ticket-type-student" not in drawn
    assert "item-rows" not in drawn
    # A row swapped alone travels in a <template>, where a <tr> may stand.
    assert re.search(r'<template>\s*<tr id="ticket-type-regular" hx-swap-oob="true"', html)
    assert poll().status_code == 304


def test_a_ticket_type_added_redraws_the_whole_widget(client, sale):
    conference, _, _, _, organizer = sale
    poll = polls(client, conference, organizer)

    make_ticket_type(conference, name="Speaker", slug="speaker", total_quantity=5)
    html = poll().content.decode()

    assert "item-rows" in swapped_in(html)
    assert "Speaker" in html


def test_a_client_holding_no_row_versions_gets_the_whole_widget(client, sale):
    conference, regular, _, _, organizer = sale
    conference.organizers.add(organizer)
    client.force_login(organizer)
    url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
    etag = client.get(url, headers={"HX-Request": "true"})["ETag"]
    without_rows = etag.split("~")[0] + '"'

    TicketType.objects.filter(pk=regular.pk).update(name="Ordinar")
    response = client.get(url, headers={"HX-Request": "true", "If-None-Match": without_rows})

    assert "item-rows" in swapped_in(response.content.decode())


def test_a_change_of_the_viewers_override_permission_redraws_the_whole_table(client, sale):
    conference, regular, _, _, organizer = sale
    poll = polls(client, conference, organizer)
    grant(organizer, "capacity.override_capacity")

    make_order(conference, Order.Status.PENDING, tickets=[(regular, 1)])
    html = poll().content.decode()

    # The rows gain the controls' column: header and rows are drawn together.
    assert "item-rows" in swapped_in(html)


def test_no_row_or_table_can_share_an_id(client, sale):
    """A row's id is ticket-type-<slug> or addon-<slug>; the tables' and widgets' ids
    are out of reach of any slug."""
    conference, _, _, _, organizer = sale
    make_ticket_type(conference, name="Rows", slug="rows")
    make_addon(conference, name="Section", slug="section")
    conference.organizers.add(organizer)
    client.force_login(organizer)

    html = client.get(reverse("capacity:dashboard", kwargs={"slug": conference.slug}))
    ids = re.findall(r'\bid="([^"]+)"', html.content.decode())

    assert "ticket-type-rows" in ids and "addon-section" in ids
    assert len(ids) == len(set(ids))


def test_a_language_with_a_region_still_gets_a_304(client, sale):
    conference, _, _, _, organizer = sale
    conference.organizers.add(organizer)
    client.force_login(organizer)
    url = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
    with translation.override("pt-br"):
        request = RequestFactory().get(url)
        request.user = organizer
        viewer = views._viewer(request)
    versions = widget_versions(conference)
    etag = versions.etag(viewer, "hour")

    held = versions.held_by(etag, viewer, "hour")

    assert "-" not in viewer
    assert held is not None and not versions.moved(held)
