"""The waiting list in the Django admin: read-mostly, changed only through the services."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db

Status = WaitingListEntry.Status
CHANGELIST = "admin:registration_waitinglistentry_changelist"


@pytest.fixture
def sold_out():
    """Three seats, sold in a 2-seat and a 1-seat order; Ada waits for Regular, Alan for any."""
    conference = make_conference(name="WaitCon", total_capacity=3)
    regular = make_ticket_type(conference, name="Regular", slug="regular")
    pair = make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    single = make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    ada = services.join_waiting_list(
        conference=conference, email="ada@example.com", name="Ada", ticket_type=regular
    )
    alan = services.join_waiting_list(conference=conference, email="alan@example.com", name="Alan")
    return {
        "conference": conference,
        "regular": regular,
        "pair": pair,
        "single": single,
        "ada": ada,
        "alan": alan,
    }


def run_action(client, action, *entries):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [entry.pk for entry in entries], "index": 0},
        follow=True,
    )


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def test_the_list_shows_entries_with_filters_and_search(admin_client, sold_out):
    make_conference(name="OtherCon")  # a filter with one choice is not shown
    response = admin_client.get(reverse(CHANGELIST))
    html = response.content.decode()
    assert response.status_code == 200
    assert "ada@example.com" in html and "alan@example.com" in html
    assert '<td class="field-ticket_type_display">Any</td>' in html
    assert '<td class="field-ticket_type_display">Regular</td>' in html
    for parameter in ("status__exact", "conference__id__exact", "ticket_type__id__exact"):
        assert parameter in html
    found = admin_client.get(reverse(CHANGELIST), {"q": "ALAN"}).content.decode()
    assert "alan@example.com" in found and "ada@example.com" not in found
    offered = admin_client.get(reverse(CHANGELIST), {"status__exact": "offered"})
    assert "ada@example.com" not in offered.content.decode()


def test_entries_cannot_be_added_deleted_or_edited(admin_client, sold_out):
    ada = sold_out["ada"]
    assert admin_client.get(reverse("admin:registration_waitinglistentry_add")).status_code == 403
    delete = reverse("admin:registration_waitinglistentry_delete", args=[ada.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:registration_waitinglistentry_change", args=[ada.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="email"' not in page and 'name="status"' not in page
    admin_client.post(change, {"email": "evil@example.com", "status": "accepted", "quantity": 9})
    ada.refresh_from_db()
    assert (ada.email, ada.status, ada.quantity) == ("ada@example.com", Status.WAITING, 1)


def test_remove_from_the_waiting_list_goes_through_the_service(admin_client, sold_out):
    response = run_action(admin_client, "leave_waiting_list", sold_out["ada"], sold_out["alan"])
    assert ("success", "Removed 2 entries from the waiting list.") in messages_of(response)
    statuses = set(WaitingListEntry.objects.values_list("status", flat=True))
    assert statuses == {Status.LEFT}


def test_removing_an_offered_entry_cancels_its_offer_and_offers_the_seat_on(admin_client, sold_out):
    services.cancel_order(sold_out["single"])
    ada, alan = sold_out["ada"], sold_out["alan"]
    ada.refresh_from_db()
    assert ada.status == Status.OFFERED

    run_action(admin_client, "leave_waiting_list", ada)

    ada.refresh_from_db()
    alan.refresh_from_db()
    assert ada.status == Status.LEFT
    assert ada.order.status == Order.Status.CANCELLED
    assert alan.status == Status.OFFERED  # the seat went on to the next in line


def test_removing_an_entry_that_already_ended_is_refused_with_a_message(admin_client, sold_out):
    ada = sold_out["ada"]
    services.leave_waiting_list(ada)
    response = run_action(admin_client, "leave_waiting_list", ada)
    level, text = messages_of(response)[0]
    assert level == "error" and text.startswith("ada@example.com: ")
    ada.refresh_from_db()
    assert ada.status == Status.LEFT


def test_offer_freed_seats_now_offers_what_is_free(admin_client, sold_out):
    # Seats freed without the services' own offer (an admin edit, a lapsed hold).
    Order.objects.filter(pk=sold_out["pair"].pk).update(status=Order.Status.CANCELLED)
    ada, alan = sold_out["ada"], sold_out["alan"]

    response = run_action(admin_client, "offer_freed_seats", alan)

    assert ("success", "Offered seats to 2 waiting-list entries.") in messages_of(response)
    for entry in (ada, alan):
        entry.refresh_from_db()
        assert entry.status == Status.OFFERED
        assert entry.order.status == Order.Status.PENDING
        assert entry.order.email == entry.email


def test_offer_freed_seats_with_nothing_free_says_so(admin_client, sold_out):
    response = run_action(admin_client, "offer_freed_seats", sold_out["ada"])
    assert messages_of(response)[0][0] == "warning"
    assert set(WaitingListEntry.objects.values_list("status", flat=True)) == {Status.WAITING}
