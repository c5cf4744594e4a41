"""The admin shows a non-superuser only the conferences they organize and what
belongs to them: lists, change pages, foreign-key choices, filters and actions."""

import pytest
from django.urls import reverse

from capacity.models import BlockedSeats, CapacityChange
from capacity.services import block_seats
from conference.models import Conference
from registration.models import AddOn, Order, TicketType, WaitingListEntry
from tests.factories import (
    grant,
    make_addon,
    make_conference,
    make_entry,
    make_order,
    make_ticket_type,
    make_user,
)

pytestmark = pytest.mark.django_db

# Every admin permission there is on these models, and the order actions': scoping,
# not a missing permission, is what keeps another conference out of sight.
EVERY_PERMISSION = [
    f"{app}.{verb}_{model}"
    for app, models in {
        "conference": ["conference"],
        "registration": ["tickettype", "addon", "order", "orderlineitem", "waitinglistentry"],
        "capacity": ["blockedseats", "capacitychange"],
    }.items()
    for model in models
    for verb in ("view", "add", "change")
] + ["registration.manage_orders", "capacity.override_capacity"]

ADMINS = {
    Conference: "conference_conference",
    TicketType: "registration_tickettype",
    AddOn: "registration_addon",
    Order: "registration_order",
    WaitingListEntry: "registration_waitinglistentry",
    BlockedSeats: "capacity_blockedseats",
    CapacityChange: "capacity_capacitychange",
}


def staff_user(**fields):
    return grant(make_user(is_staff=True, **fields), *EVERY_PERMISSION)


@pytest.fixture
def world():
    """Two conferences, each with a ticket type, an add-on, an order, a waiting-list
    entry, blocked seats and a capacity change; Bea organizes B only."""
    rows = {}
    admin = make_user(is_superuser=True, is_staff=True)
    for name in ("A", "B"):
        conference = make_conference(name=f"Conf {name}", slug=f"conf-{name.lower()}")
        ticket = make_ticket_type(conference, name=f"Ticket {name}", slug=f"ticket-{name.lower()}")
        addon = make_addon(conference, name=f"Dinner {name}", slug=f"dinner-{name.lower()}")
        order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
        entry = make_entry(conference, ticket)
        block = block_seats(
            conference=conference, quantity=1, label=f"speakers {name}", reason="talks", user=admin
        )
        rows[name] = {
            Conference: conference,
            TicketType: ticket,
            AddOn: addon,
            Order: order,
            WaitingListEntry: entry,
            BlockedSeats: block,
            CapacityChange: CapacityChange.objects.get(conference=conference),
        }
    bea = staff_user(username="bea")
    rows["B"][Conference].organizers.add(bea)
    return rows, bea


def changelist(model):
    return reverse(f"admin:{ADMINS[model]}_changelist")


def change(model, obj):
    return reverse(f"admin:{ADMINS[model]}_change", args=[obj.pk])


@pytest.mark.parametrize("model", list(ADMINS), ids=lambda model: model.__name__)
def test_an_organizer_lists_and_opens_only_their_conference(client, world, model):
    rows, bea = world
    client.force_login(bea)

    listed = client.get(changelist(model))
    assert listed.status_code == 200
    shown = list(listed.context["cl"].result_list)
    assert shown == [rows["B"][model]]

    assert client.get(change(model, rows["B"][model])).status_code == 200
    # Another conference's row is "not found": a redirect to the admin's index.
    other = client.get(change(model, rows["A"][model]))
    assert other.status_code == 302
    assert other.url == reverse("admin:index")


@pytest.mark.parametrize("model", list(ADMINS), ids=lambda model: model.__name__)
def test_a_superuser_sees_every_conference(client, world, model):
    rows, _ = world
    client.force_login(make_user(is_superuser=True, is_staff=True))
    shown = set(client.get(changelist(model)).context["cl"].result_list)
    assert shown == {rows["A"][model], rows["B"][model]}


@pytest.mark.parametrize("model", list(ADMINS), ids=lambda model: model.__name__)
def test_staff_who_organize_nothing_see_nothing(client, world, model):
    rows, _ = world
    client.force_login(staff_user())
    assert list(client.get(changelist(model)).context["cl"].result_list) == []
    assert client.get(change(model, rows["A"][model])).status_code == 302


def test_anonymous_visitors_are_sent_to_the_admin_login(client, world):
    rows, _ = world
    for model in ADMINS:
        response = client.get(change(model, rows["A"][model]))
        assert response.status_code == 302
        assert response.url.startswith(reverse("admin:login"))


def test_an_organizer_without_permissions_sees_no_admin(client, world):
    rows, _ = world
    bare = make_user(is_staff=True)
    rows["B"][Conference].organizers.add(bare)
    client.force_login(bare)
    for model in ADMINS:
        assert client.get(changelist(model)).status_code == 403


def test_actions_cannot_reach_another_conference(client, world):
    rows, bea = world
    client.force_login(bea)
    theirs, mine = rows["A"][Order], rows["B"][Order]

    client.post(
        changelist(Order),
        {"action": "cancel", "_selected_action": [theirs.pk, mine.pk]},
    )

    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.status == Order.Status.PENDING
    assert mine.status == Order.Status.CANCELLED


def test_order_actions_need_the_manage_orders_permission(client, world):
    rows, _ = world
    viewer = grant(make_user(is_staff=True), "registration.view_order", "registration.change_order")
    rows["B"][Conference].organizers.add(viewer)
    client.force_login(viewer)

    page = client.get(changelist(Order))
    action_form = page.context["action_form"]  # None when no action is left
    offered = [] if action_form is None else [c[0] for c in action_form.fields["action"].choices]
    assert "cancel" not in offered
    client.post(changelist(Order), {"action": "cancel", "_selected_action": [rows["B"][Order].pk]})
    rows["B"][Order].refresh_from_db()
    assert rows["B"][Order].status == Order.Status.PENDING


def test_foreign_key_choices_offer_only_the_organizers_conferences(client, world):
    rows, bea = world
    client.force_login(bea)

    ticket_form = client.get(reverse("admin:registration_tickettype_add")).context["adminform"]
    assert list(ticket_form.form.fields["conference"].queryset) == [rows["B"][Conference]]

    block_form = client.get(reverse("admin:capacity_blockedseats_add")).context["adminform"]
    assert list(block_form.form.fields["conference"].queryset) == [rows["B"][Conference]]
    assert list(block_form.form.fields["ticket_type"].queryset) == [rows["B"][TicketType]]


def test_a_ticket_type_cannot_be_added_to_another_conference(client, world):
    rows, bea = world
    client.force_login(bea)
    response = client.post(
        reverse("admin:registration_tickettype_add"),
        {
            "conference": rows["A"][Conference].pk,
            "name": "Sneaky",
            "slug": "sneaky",
            "price": "0",
            "total_quantity": "5",
            "max_per_order": "10",
            "position": "0",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not TicketType.objects.filter(slug="sneaky").exists()


def test_list_filters_offer_only_the_organizers_conferences(client, world):
    rows, bea = world
    client.force_login(bea)
    html = client.get(changelist(Order)).content.decode()
    assert "Conf B" in html
    assert "Conf A" not in html
