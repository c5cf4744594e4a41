"""Capacity overrides on the dashboard: permissions, htmx dialogs, refusals, the audit list."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from capacity.models import BlockedSeats, CapacityChange
from capacity.services import block_seats, override_capacity
from conference.models import Conference
from registration.models import Order, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def organizer(conference, *, override=True):
    user = make_user()
    conference.organizers.add(user)
    if override:
        user.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    return user


@pytest.fixture
def overrider(client, conference):
    user = organizer(conference)
    client.force_login(user)
    return user


def url(name, conference, *args):
    return reverse(f"capacity:{name}", args=[conference.slug, *args])


def adjust_venue_url(conference):
    return url("override-adjust-venue", conference)


# --- who may --------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, conference):
    response = client.get(url("overrides", conference))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("name", "args", "method"),
    [
        ("overrides", [], "get"),
        ("override-capacity-table", [], "get"),
        ("override-adjust-venue", [], "post"),
        ("override-block", [], "post"),
        ("override-comp", [], "post"),
        ("override-audit", [], "get"),
        ("override-summary", [], "get"),
    ],
)
def test_organizers_without_the_permission_get_403_and_nothing_changes(
    client, conference, name, args, method
):
    client.force_login(organizer(conference, override=False))
    data = {"total": 500, "reason": "x", "quantity": 1, "label": "x", "name": "N"}

    response = getattr(client, method)(url(name, conference, *args), data)

    assert response.status_code == 403
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100
    assert not CapacityChange.objects.exists()
    assert not BlockedSeats.objects.exists()


def test_staff_with_the_permission_but_not_organizing_get_403(client, conference):
    user = make_user(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    client.force_login(user)

    response = client.post(adjust_venue_url(conference), {"total": 500, "reason": "x"})

    assert response.status_code == 403
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100


def test_a_superuser_may_override_any_conference(client, conference):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    response = client.post(adjust_venue_url(conference), {"total": 120, "reason": "Bigger room"})
    assert response.status_code == 302
    assert Conference.objects.get(pk=conference.pk).total_capacity == 120


def test_the_dashboard_shows_controls_only_to_those_allowed(client, conference):
    make_ticket_type(conference, name="Regular")
    dashboard = url("dashboard", conference)
    client.force_login(organizer(conference, override=False))
    plain = client.get(dashboard).content.decode()
    assert "Adjust capacity" not in plain
    assert url("overrides", conference) not in plain

    client.force_login(organizer(conference))
    with_controls = client.get(dashboard).content.decode()
    assert with_controls.count("Adjust capacity<span") == 2  # the venue and the ticket type
    assert 'id="override-dialog-slot"' in with_controls
    assert url("overrides", conference) in with_controls


# --- adjusting a capacity --------------------------------------------------------------


def test_the_adjust_dialog_shows_the_capacity_and_what_is_taken(client, overrider, conference):
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 12)])
    make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])

    response = client.get(adjust_venue_url(conference), **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith("<dialog")
    assert "15 taken now (12 sold, 3 held)" in page
    assert 'name="force"' in page


def test_raising_the_capacity_over_htmx_confirms_and_fires_the_change_event(
    client, overrider, conference
):
    response = client.post(
        adjust_venue_url(conference), {"total": 150, "reason": "Balcony opened"}, **HTMX
    )

    assert response.status_code == 200
    assert "capacity-changed" in json.loads(response["HX-Trigger"])
    assert "Venue capacity changed from 100 to 150." in response.content.decode()
    change = CapacityChange.objects.get()
    assert (change.new_value, change.reason, change.user) == (150, "Balcony opened", overrider)


def test_lowering_below_taken_is_refused_with_clear_text_and_force_overrides(
    client, overrider, conference
):
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 40)])
    data = {"total": 30, "reason": "Smaller room"}

    refused = client.post(adjust_venue_url(conference), data, **HTMX)
    assert refused.status_code == 200
    assert "40 seats are already taken; lower to 40 or more, or force" in refused.content.decode()
    assert refused.content.decode().lstrip().startswith("<dialog")
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100

    forced = client.post(adjust_venue_url(conference), {**data, "force": "on"}, **HTMX)
    assert "changed from 100 to 30" in forced.content.decode()
    assert CapacityChange.objects.get().forced is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"total": -5, "reason": "r"}, "greater than or equal to 0"),
        ({"total": "lots", "reason": "r"}, "Enter a whole number"),
        ({"total": "", "reason": "r"}, "This field is required"),
        ({"total": 10**12, "reason": "r"}, "less than or equal to 1000000"),
        ({"total": 120, "reason": "   "}, "Give a reason"),
        ({"total": 100, "reason": "same"}, "already 100; nothing to change"),
    ],
)
def test_bad_input_is_answered_with_a_message_and_writes_nothing(
    client, overrider, conference, data, message
):
    response = client.post(adjust_venue_url(conference), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100
    assert not CapacityChange.objects.exists()


def test_ticket_type_and_addon_quantities_are_adjusted_per_row(client, overrider, conference):
    ticket = make_ticket_type(conference, name="Regular", total_quantity=10)
    addon = make_addon(conference, name="Dinner", total_quantity=5)

    client.post(
        url("override-adjust", conference, "ticket", ticket.pk), {"total": 12, "reason": "a"}
    )
    client.post(url("override-adjust", conference, "addon", addon.pk), {"total": 0, "reason": "b"})

    assert TicketType.objects.get(pk=ticket.pk).total_quantity == 12
    assert addon.__class__.objects.get(pk=addon.pk).total_quantity == 0
    assert [c.summary for c in CapacityChange.objects.order_by("pk")] == [
        "Ticket type Regular: quantity 10 → 12",
        "Add-on Dinner: quantity 5 → unlimited",
    ]


@pytest.mark.parametrize("kind", ["ticket", "addon", "venue", "bogus"])
def test_items_of_another_conference_or_unknown_kinds_are_404(client, overrider, conference, kind):
    other = make_conference()
    item = make_addon(other) if kind == "addon" else make_ticket_type(other)
    response = client.post(
        url("override-adjust", conference, kind, item.pk), {"total": 1, "reason": "x"}
    )
    assert response.status_code == 404
    assert not CapacityChange.objects.exists()


def test_the_post_needs_a_csrf_token(overrider, conference):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(overrider)
    response = client.post(adjust_venue_url(conference), {"total": 150, "reason": "x"})
    assert response.status_code == 403
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100


# --- blocked seats ------------------------------------------------------------------------


def test_block_and_release_from_the_dashboard(client, overrider):
    conference = make_conference(total_capacity=10, slug="small")
    conference.organizers.add(overrider)
    ticket = make_ticket_type(conference, name="Regular")
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 6)])

    refused = client.post(
        url("override-block", conference),
        {"quantity": 5, "label": "speakers", "reason": "Keynotes"},
        **HTMX,
    )
    assert "Only 4 seats are free; block 4 or fewer, or force" in refused.content.decode()

    done = client.post(
        url("override-block", conference),
        {"quantity": 4, "label": "speakers", "ticket_type": ticket.pk, "reason": "Keynotes"},
        **HTMX,
    )
    assert "4 seats of Regular blocked for speakers." in done.content.decode()
    block = BlockedSeats.objects.get()
    panel = client.get(url("override-blocks", conference), **HTMX).content.decode()
    assert f'id="block-{block.pk}"' in panel

    release_url = url("override-release", conference, block.pk)
    too_many = client.post(release_url, {"quantity": 9, "reason": "x"}, **HTMX)
    assert "Only 4 seats are blocked for speakers" in too_many.content.decode()
    client.post(release_url, {"quantity": 1, "reason": "One speaker cancelled"}, **HTMX)
    client.post(release_url, {"quantity": "", "reason": "Conference over"}, **HTMX)

    assert BlockedSeats.objects.get().quantity == 0
    assert [c.summary for c in CapacityChange.objects.order_by("pk")] == [
        "Blocked 4 seats for speakers (Regular)",
        "Released 1 of 4 seats blocked for speakers (Regular)",
        "Released 3 of 3 seats blocked for speakers (Regular)",
    ]


def test_blocking_with_a_foreign_ticket_type_is_refused(client, overrider, conference):
    foreign = make_ticket_type(make_conference())
    response = client.post(
        url("override-block", conference),
        {"quantity": 1, "label": "x", "ticket_type": foreign.pk, "reason": "x"},
    )
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not BlockedSeats.objects.exists()


def test_a_block_of_another_conference_cannot_be_released(client, overrider, conference):
    other = make_conference()
    block = block_seats(conference=other, quantity=2, label="x", reason="r", user=None)
    response = client.post(url("override-release", conference, block.pk), {"reason": "x"})
    assert response.status_code == 404
    assert BlockedSeats.objects.get().quantity == 2


# --- comp tickets ---------------------------------------------------------------------------


def test_a_comp_over_capacity_is_issued_and_shown(client, overrider):
    conference = make_conference(total_capacity=5, slug="tiny")
    conference.organizers.add(overrider)
    ticket = make_ticket_type(conference, name="Speaker")
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 5)])

    response = client.post(
        url("override-comp", conference),
        {
            "name": "Keynote",
            "email": "keynote@example.com",
            f"ticket-{ticket.slug}": 2,
            "reason": "Keynote and guest",
        },
        **HTMX,
    )

    page = response.content.decode()
    assert "The venue is now 2 seats over capacity." in page
    order = Order.objects.get(is_comp=True)
    assert (order.status, order.total) == (Order.Status.PAID, 0)
    dashboard = client.get(url("dashboard", conference)).content.decode()
    assert "2 seats over capacity by override" in dashboard


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "A", "email": "a@example.com", "reason": "r"}, "at least one ticket"),
        ({"name": "A", "email": "nope", "reason": "r", "qty": 1}, "valid email"),
        ({"name": "A", "email": "a@example.com", "reason": "", "qty": 1}, "Give a reason"),
        ({"name": "A", "email": "a@example.com", "reason": "r", "qty": -1}, "greater than"),
        ({"name": "A", "email": "a@example.com", "reason": "r", "qty": 101}, "less than"),
    ],
)
def test_comp_bad_input_writes_nothing(client, overrider, conference, data, message):
    ticket = make_ticket_type(conference)
    if "qty" in data:
        data[f"ticket-{ticket.slug}"] = data.pop("qty")
    response = client.post(url("override-comp", conference), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()


# --- the audit list -------------------------------------------------------------------------


def test_every_override_is_in_the_audit_list_with_its_reason(client, overrider, conference):
    ticket = make_ticket_type(conference, name="Regular")
    override_capacity(target=conference, total=120, reason="Balcony", user=overrider)
    block_seats(conference=conference, quantity=3, label="press", reason="Press row", user=None)
    override_capacity(target=ticket, total=50, reason="Cap regular", user=overrider)

    page = client.get(url("override-audit", conference), **HTMX).content.decode()

    for text in ["Venue capacity 100 → 120", "Balcony", "Blocked 3 seats for press", "Press row"]:
        assert text in page
    assert page.index("Cap regular") < page.index("Balcony")  # newest first
    assert overrider.username in page
    assert "system" in page


def test_the_audit_list_is_paginated(client, overrider, conference):
    for total in range(101, 131):
        override_capacity(target=conference, total=total, reason=f"step {total}", user=None)
    first = client.get(url("override-audit", conference), **HTMX).content.decode()
    second = client.get(url("override-audit", conference) + "?page=2", **HTMX).content.decode()
    assert "step 130" in first and "step 105" not in first
    assert "step 105" in second and "Page 2 of 2" in second


def test_the_overrides_page_renders_every_panel(client, overrider, conference):
    make_ticket_type(conference, name="Regular")
    make_addon(conference, name="Dinner")
    block_seats(conference=conference, quantity=2, label="crew", reason="r", user=None)

    page = client.get(url("overrides", conference)).content.decode()

    for marker in ['id="capacity-table"', 'id="blocked-seats"', 'id="audit-list"', "Dinner"]:
        assert marker in page
    assert page.count("Adjust capacity<span") == 3


def test_without_htmx_a_dialog_opens_on_the_page_and_success_redirects(
    client, overrider, conference
):
    page = client.get(adjust_venue_url(conference)).content.decode()
    assert "<dialog" in page and 'id="capacity-table"' in page

    response = client.post(adjust_venue_url(conference), {"total": 90, "reason": "Rows removed"})
    assert response.status_code == 302
    assert response["Location"] == url("overrides", conference)
    follow = client.get(response["Location"]).content.decode()
    assert "Venue capacity changed from 100 to 90." in follow
