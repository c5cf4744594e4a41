"""Capacity overrides in the Django admin: a reason, what is taken now, and the service."""

from datetime import date

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from capacity.models import BlockedSeats, CapacityChange
from capacity.services import block_seats, override_capacity
from conference.models import Conference
from registration.models import Order, TicketType
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

STAFF_PERMISSIONS = [
    "conference.view_conference",
    "conference.change_conference",
    "registration.view_tickettype",
    "registration.change_tickettype",
    "capacity.view_blockedseats",
    "capacity.add_blockedseats",
    "capacity.change_blockedseats",
    "capacity.view_capacitychange",
]


def staff(*, override):
    user = make_user(is_staff=True)
    names = STAFF_PERMISSIONS + (["capacity.override_capacity"] if override else [])
    for name in names:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


# Both organize the `conference` fixture: the admin shows staff only what they organize.
@pytest.fixture
def overrider(client, conference):
    user = staff(override=True)
    conference.organizers.add(user)
    client.force_login(user)
    return user


@pytest.fixture
def viewer(client, conference):
    user = staff(override=False)
    conference.organizers.add(user)
    client.force_login(user)
    return user


def conference_form(conference, **changes):
    data = {
        "name": conference.name,
        "slug": conference.slug,
        "start_date": conference.start_date.isoformat(),
        "end_date": conference.end_date.isoformat(),
        "timezone": conference.timezone,
        "total_capacity": conference.total_capacity,
        "hold_minutes": conference.hold_minutes,
        "low_stock_threshold": conference.low_stock_threshold,
        "max_held_seats_per_buyer": conference.max_held_seats_per_buyer,
        "bank_transfer_days": conference.bank_transfer_days,
        "waiting_list_enabled": "on" if conference.waiting_list_enabled else "",
        "waiting_list_offer_minutes": conference.waiting_list_offer_minutes,
        "capacity_reason": "",
        # As the browser sends it: the organizers selected now.
        "organizers": [user.pk for user in conference.organizers.all()] if conference.pk else [],
    }
    data.update(changes)
    return data


def change_url(obj):
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def test_the_change_form_shows_what_is_taken_and_asks_for_a_reason(client, overrider, conference):
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 7)])

    page = client.get(change_url(conference)).content.decode()

    assert "7 taken now (7 sold, 0 held)" in page
    assert 'name="capacity_reason"' in page
    assert 'name="capacity_force"' in page


def test_staff_with_the_permission_change_capacity_and_the_audit_row_appears(
    client, overrider, conference
):
    response = client.post(
        change_url(conference),
        conference_form(conference, total_capacity=140, capacity_reason="Balcony opened"),
    )

    assert response.status_code == 302
    assert Conference.objects.get(pk=conference.pk).total_capacity == 140
    change = CapacityChange.objects.get()
    assert (change.old_value, change.new_value, change.reason, change.user) == (
        100,
        140,
        "Balcony opened",
        overrider,
    )
    audit = client.get(reverse("admin:capacity_capacitychange_changelist")).content.decode()
    assert "Venue capacity 100 → 140" in audit
    assert "Balcony opened" in audit


def test_a_capacity_change_without_a_reason_is_refused(client, overrider, conference):
    response = client.post(change_url(conference), conference_form(conference, total_capacity=90))

    assert response.status_code == 200
    assert "Give a reason for this change" in response.content.decode()
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100
    assert not CapacityChange.objects.exists()


def test_other_fields_save_without_a_reason_and_without_a_record(client, overrider, conference):
    response = client.post(change_url(conference), conference_form(conference, name="Renamed"))

    assert response.status_code == 302
    assert Conference.objects.get(pk=conference.pk).name == "Renamed"
    assert not CapacityChange.objects.exists()


def test_lowering_below_taken_is_refused_in_the_form_unless_forced(client, overrider, conference):
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 30)])
    data = conference_form(conference, total_capacity=20, capacity_reason="Smaller hall")

    refused = client.post(change_url(conference), data)
    assert "30 seats are already taken; lower to 30 or more, or force" in refused.content.decode()
    assert Conference.objects.get(pk=conference.pk).total_capacity == 100

    forced = client.post(change_url(conference), {**data, "capacity_force": "on"})
    assert forced.status_code == 302
    assert Conference.objects.get(pk=conference.pk).total_capacity == 20
    assert CapacityChange.objects.get().forced is True
    assert Order.objects.get().status == Order.Status.PAID


def test_a_form_loaded_before_another_override_cannot_silently_undo_it(
    client, overrider, conference
):
    stale_form = conference_form(conference, name="Renamed")
    override_capacity(target=conference, total=150, reason="Elsewhere", user=None)

    response = client.post(change_url(conference), stale_form)

    assert response.status_code == 200
    assert "Give a reason" in response.content.decode()
    fresh = Conference.objects.get(pk=conference.pk)
    assert (fresh.total_capacity, fresh.name) == (150, conference.name)


def test_staff_without_the_permission_cannot_change_capacity(client, viewer, conference):
    page = client.get(change_url(conference)).content.decode()
    assert 'name="total_capacity"' not in page
    assert 'name="capacity_reason"' not in page

    response = client.post(
        change_url(conference),
        conference_form(conference, name="Renamed", total_capacity=500, capacity_reason="Sneaky"),
    )

    assert response.status_code == 302
    fresh = Conference.objects.get(pk=conference.pk)
    assert (fresh.name, fresh.total_capacity) == ("Renamed", 100)
    assert not CapacityChange.objects.exists()


def test_creating_a_conference_sets_its_capacity_directly(client, viewer):
    viewer.user_permissions.add(Permission.objects.get(codename="add_conference"))
    data = conference_form(
        Conference(
            name="New", slug="new-conf", start_date=date(2027, 1, 1), end_date=date(2027, 1, 2)
        ),
        total_capacity=250,
    )

    response = client.post(reverse("admin:conference_conference_add"), data)

    assert response.status_code == 302
    created = Conference.objects.get(slug="new-conf")
    assert created.total_capacity == 250
    assert list(created.organizers.all()) == [viewer]  # its creator organizes it
    assert not CapacityChange.objects.exists()


def test_ticket_type_quantity_changes_through_the_service(client, overrider, conference):
    ticket = make_ticket_type(conference, name="Regular", total_quantity=50)
    data = {
        "conference": conference.pk,
        "name": ticket.name,
        "slug": ticket.slug,
        "description": "",
        "price": "100.00",
        "total_quantity": 60,
        "max_per_order": 10,
        "is_active": "on",
        "position": 0,
        "capacity_reason": "Sponsor bought a table",
    }

    response = client.post(change_url(ticket), data)

    assert response.status_code == 302
    assert TicketType.objects.get(pk=ticket.pk).total_quantity == 60
    assert CapacityChange.objects.get().summary == "Ticket type Regular: quantity 50 → 60"


def test_audit_records_are_read_only(client, overrider, conference):
    override_capacity(target=conference, total=120, reason="More", user=overrider)
    change = CapacityChange.objects.get()

    assert client.get(reverse("admin:capacity_capacitychange_add")).status_code == 403
    detail = client.get(change_url(change))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    delete_url = reverse("admin:capacity_capacitychange_delete", args=[change.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert CapacityChange.objects.filter(pk=change.pk).exists()


def test_blocking_seats_in_the_admin_goes_through_the_service(client, overrider):
    conference = make_conference(total_capacity=10)
    conference.organizers.add(overrider)
    ticket = make_ticket_type(conference)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 8)])
    add_url = reverse("admin:capacity_blockedseats_add")
    data = {"conference": conference.pk, "label": "speakers", "quantity": 3, "reason": "Keynotes"}

    refused = client.post(add_url, data)
    assert "Only 2 seats are free; block 2 or fewer, or force" in refused.content.decode()
    assert not BlockedSeats.objects.exists()

    response = client.post(add_url, {**data, "quantity": 2})
    assert response.status_code == 302
    block = BlockedSeats.objects.get()
    assert (block.quantity, block.created_by) == (2, overrider)
    assert CapacityChange.objects.get().summary == "Blocked 2 seats for speakers"


def test_lowering_a_block_in_the_admin_releases_seats_on_the_record(client, overrider, conference):
    block = block_seats(conference=conference, quantity=5, label="crew", reason="r", user=None)
    url = change_url(block)

    more = client.post(url, {"label": "crew", "quantity": 9, "reason": "more"})
    assert "Blocks only shrink" in more.content.decode()
    no_reason = client.post(url, {"label": "crew", "quantity": 2})
    assert "Give a reason" in no_reason.content.decode()
    assert BlockedSeats.objects.get().quantity == 5

    response = client.post(url, {"label": "stage crew", "quantity": 2, "reason": "Fewer crew"})

    assert response.status_code == 302
    block.refresh_from_db()
    assert (block.label, block.quantity) == ("stage crew", 2)
    assert CapacityChange.objects.first().summary == "Released 3 of 5 seats blocked for stage crew"


def test_staff_without_the_permission_cannot_block_seats(client, viewer, conference):
    block_seats(conference=conference, quantity=5, label="crew", reason="r", user=None)
    block = BlockedSeats.objects.get()

    assert client.get(reverse("admin:capacity_blockedseats_add")).status_code == 403
    client.post(change_url(block), {"label": "crew", "quantity": 0, "reason": "x"})

    assert BlockedSeats.objects.get().quantity == 5
