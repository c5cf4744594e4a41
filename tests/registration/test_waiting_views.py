"""The waiting list's public pages: the join forms on the ticket page, joining,
the entry's page with its place in line, leaving, and the order page of an offer."""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shop():
    """A conference of 10 seats: Regular (up to 5 per order), Student (4 seats) sold out."""
    conference = make_conference(name="Wait Conf", total_capacity=10, timezone="Europe/Berlin")
    regular = make_ticket_type(conference, name="Regular", slug="regular", max_per_order=5)
    student = make_ticket_type(conference, name="Student", slug="student", total_quantity=4)
    make_order(conference, Order.Status.PAID, tickets=[(student, 4)])
    return {"conference": conference, "regular": regular, "student": student}


def join_form(**fields):
    data = {"ticket_type": "student", "quantity": "2", "name": "Ada Lovelace"}
    data["email"] = "ada@example.com"
    data.update(fields)
    return data


def join_url(conference):
    return f"/{conference.slug}/waiting/"


def slot(html, key):
    """The waiting-list slot ``key`` ("any" or "ticket-<slug>") of a ticket page or poll."""
    match = re.search(
        rf'<div id="waiting-slot-{key}"[^>]*>(?:\s*<details.*?</details>\s*)?</div>', html, re.S
    )
    assert match, f"no waiting-list slot {key}"
    return match.group(0)


# --- the join forms on the ticket page ----------------------------------------------


def test_a_sold_out_ticket_type_shows_a_join_form_for_it(client, shop):
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    student = slot(html, "ticket-student")
    assert "Join the waiting list for Student" in student
    assert f'action="/{shop["conference"].slug}/waiting/"' in student
    assert 'name="ticket_type" value="student"' in student
    assert 'name="csrfmiddlewaretoken"' in student
    for field in ("quantity", "name", "email"):
        assert f'name="{field}"' in student
    assert "hx-preserve" in student
    # Regular is still on sale, and the venue is not sold out: no form for them.
    assert "<form" not in slot(html, "ticket-regular")
    assert "<form" not in slot(html, "any")


def test_a_sold_out_venue_shows_a_join_form_for_any_ticket_type(client, shop):
    make_order(shop["conference"], Order.Status.PAID, tickets=[(shop["regular"], 6)])
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    any_type = slot(html, "any")
    assert "Join the waiting list for any ticket type" in any_type
    assert 'name="ticket_type" value="any"' in any_type
    assert 'name="csrfmiddlewaretoken"' in any_type
    assert "Join the waiting list for Regular" in slot(html, "ticket-regular")


def test_no_join_form_when_the_waiting_list_is_disabled(client, shop):
    shop["conference"].waiting_list_enabled = False
    shop["conference"].save()
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    assert "Join the waiting list" not in html


def test_no_join_form_for_a_ticket_type_not_on_sale(client):
    conference = make_conference()
    make_ticket_type(
        conference,
        slug="later",
        total_quantity=1,
        available_from=timezone.now() + timedelta(days=1),
    )
    html = client.get(f"/{conference.slug}/").content.decode()
    assert "Join the waiting list" not in html


def test_the_poll_opens_a_slot_with_a_link_and_closes_it_when_seats_return(client):
    conference = make_conference(name="Poll Conf")
    regular = make_ticket_type(conference, name="Regular", slug="regular", total_quantity=2)
    url = f"/{conference.slug}/live/"
    assert "Join the waiting list" not in client.get(url, HTTP_HX_REQUEST="true").content.decode()

    order = make_order(conference, Order.Status.PENDING, tickets=[(regular, 2)])
    cache.clear()
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    regular_slot = slot(body, "ticket-regular")
    assert 'hx-swap-oob="true"' in regular_slot
    # The cached poll carries no CSRF token: a slot it opens links to the join page,
    # under the same id as the page's form, which hx-preserve keeps while it is open.
    assert 'id="join-ticket-regular"' in regular_slot and "hx-preserve" in regular_slot
    assert "csrfmiddlewaretoken" not in body
    assert f'href="/{conference.slug}/waiting/?ticket_type=regular"' in regular_slot

    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    cache.clear()
    body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert re.search(r'<div id="waiting-slot-ticket-regular" [^>]*hx-swap-oob="true"></div>', body)


# --- the join page and joining --------------------------------------------------------


def test_the_join_page_shows_the_form_for_a_ticket_type(client, shop):
    response = client.get(join_url(shop["conference"]) + "?ticket_type=student")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Join the waiting list for Student" in html
    assert 'name="ticket_type" value="student"' in html
    assert 'max="10"' in html
    assert (
        "Join the waiting list for any ticket type"
        in client.get(join_url(shop["conference"])).content.decode()
    )


@pytest.mark.parametrize("ticket_type", ["nope", "x" * 300, "a\x00b"])
def test_the_join_page_of_an_unknown_ticket_type_is_404(client, shop, ticket_type):
    response = client.get(join_url(shop["conference"]), {"ticket_type": ticket_type})
    assert response.status_code == 404


def test_the_join_page_of_an_unknown_conference_is_404(client):
    assert client.get("/nope/waiting/").status_code == 404
    assert client.post("/nope/waiting/", join_form()).status_code == 404
    assert WaitingListEntry.objects.count() == 0


def test_joining_redirects_to_the_entry_page(client, shop):
    response = client.post(join_url(shop["conference"]), join_form())
    entry = WaitingListEntry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == entry.get_absolute_url()
    assert (entry.ticket_type, entry.quantity) == (shop["student"], 2)
    assert (entry.name, entry.email) == ("Ada Lovelace", "ada@example.com")
    assert entry.status == WaitingListEntry.Status.WAITING


@pytest.mark.parametrize("value", ["any", ""])
def test_joining_for_any_ticket_type(client, shop, value):
    make_order(shop["conference"], Order.Status.PAID, tickets=[(shop["regular"], 6)])
    response = client.post(join_url(shop["conference"]), join_form(ticket_type=value))
    entry = WaitingListEntry.objects.get()
    assert response.status_code == 302
    assert entry.ticket_type is None and entry.quantity == 2


def _refused(client, conference, data, *, message):
    response = client.post(join_url(conference), data)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html, html
    assert 'role="alert"' in html
    assert WaitingListEntry.objects.count() == 0
    return html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"quantity": "0"}, "Enter how many seats you want: 1 or more."),
        ({"quantity": "-3"}, "Enter how many seats you want: 1 or more."),
        ({"quantity": ""}, "Enter how many seats you want: 1 or more."),
        ({"quantity": "two"}, "Enter the number of seats as a whole number."),
        ({"quantity": "1.5"}, "Enter the number of seats as a whole number."),
        ({"quantity": "9" * 5000}, "Enter the number of seats as a whole number."),
        ({"quantity": "99999999999999999999999"}, "far more than one person can wait for"),
        ({"name": ""}, "Enter your name."),
        ({"name": "   "}, "Enter your name."),
        ({"name": "x" * 201}, "Your name is too long"),
        ({"email": ""}, "Enter your email address."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"ticket_type": "nope"}, "There is no ticket type called “nope” at Wait Conf."),
        ({"ticket_type": "a\x00b"}, "Null characters are not allowed."),
    ],
)
def test_bad_input_is_refused_with_a_message_and_nothing_written(client, shop, fields, message):
    _refused(client, shop["conference"], join_form(**fields), message=message)


def test_a_ticket_type_of_another_conference_is_refused(client, shop):
    other = make_conference(name="Other Conf")
    make_ticket_type(other, slug="elsewhere", total_quantity=1)
    _refused(
        client,
        shop["conference"],
        join_form(ticket_type="elsewhere"),
        message="There is no ticket type called “elsewhere” at Wait Conf.",
    )


def test_more_than_one_order_may_hold_is_refused(client, shop):
    html = _refused(client, shop["conference"], join_form(quantity="11"), message="1 to 10")
    assert 'value="11"' in html


def test_tickets_that_can_be_bought_now_are_refused(client, shop):
    _refused(client, shop["conference"], join_form(ticket_type="regular"), message="available")


def test_a_disabled_waiting_list_refuses_to_join(client, shop):
    shop["conference"].waiting_list_enabled = False
    shop["conference"].save()
    html = _refused(client, shop["conference"], join_form(), message="waiting list")
    assert html.count("Wait Conf has no waiting list.") == 1


def test_a_second_live_entry_of_the_same_email_is_refused(client, shop):
    assert client.post(join_url(shop["conference"]), join_form()).status_code == 302
    response = client.post(join_url(shop["conference"]), join_form(email="ADA@example.com"))
    assert response.status_code == 400
    assert "already" in response.content.decode()
    assert WaitingListEntry.objects.count() == 1


def test_a_refused_join_keeps_what_was_typed(client, shop):
    html = _refused(
        client,
        shop["conference"],
        join_form(quantity="0", name="Grace Hopper", email="grace@example.com"),
        message="1 or more",
    )
    assert "Join the waiting list for Student" in html
    assert 'value="0"' in html
    assert 'value="Grace Hopper"' in html
    assert 'value="grace@example.com"' in html
    assert 'name="ticket_type" value="student"' in html


def test_joining_without_a_csrf_token_is_403_and_writes_nothing(shop):
    client = Client(enforce_csrf_checks=True)
    response = client.post(join_url(shop["conference"]), join_form())
    assert response.status_code == 403
    assert WaitingListEntry.objects.count() == 0


def test_the_csrf_token_of_the_ticket_pages_form_is_accepted(shop):
    client = Client(enforce_csrf_checks=True)
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    token = re.search(
        r'id="join-form-ticket-student".*?name="csrfmiddlewaretoken" value="([^"]+)"', html, re.S
    ).group(1)
    response = client.post(join_url(shop["conference"]), join_form(csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert WaitingListEntry.objects.count() == 1


def test_joins_are_rate_limited_like_orders(client, shop, settings, rate_window_held):
    settings.SEATKEEPER_ORDER_RATE = "1/m"
    assert client.post(join_url(shop["conference"]), join_form()).status_code == 302
    response = client.post(join_url(shop["conference"]), join_form(email="b@example.com"))
    assert response.status_code == 429
    assert response["Retry-After"] == "60"
    assert WaitingListEntry.objects.count() == 1
    # Reading the pages is not limited.
    assert client.get(join_url(shop["conference"])).status_code == 200


# --- the entry's page -----------------------------------------------------------------


def test_the_entry_page_shows_what_is_waited_for_and_the_place_in_line(client, shop):
    first = make_entry(shop["conference"], shop["student"], quantity=2)
    second = make_entry(shop["conference"], None, email="later@example.com")
    response = client.get(first.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "2 seats of Student" in html
    assert re.search(r'id="place-in-line">You are number <strong class="place">1</strong>', html)
    assert f'hx-get="{first.get_absolute_url()}"' in html
    assert "Leave the waiting list" in html

    html = client.get(second.get_absolute_url()).content.decode()
    assert "1 seat of any ticket type" in html
    assert re.search(r'You are number <strong class="place">2</strong>', html)


def test_the_entry_page_is_private_and_varies_on_htmx(client, shop):
    entry = make_entry(shop["conference"], shop["student"])
    response = client.get(entry.get_absolute_url())
    assert "HX-Request" in response["Vary"]
    assert "private" in response["Cache-Control"] and "no-store" in response["Cache-Control"]


def test_the_entry_poll_renders_only_the_status(client, shop):
    entry = make_entry(shop["conference"], shop["student"])
    make_entry(shop["conference"], shop["student"], email="second@example.com")
    response = client.get(entry.get_absolute_url(), HTTP_HX_REQUEST="true")
    html = response.content.decode().strip()
    assert response.status_code == 200
    assert html.startswith('<section id="entry-status"')
    assert "<html" not in html
    assert '<strong class="place">1</strong>' in html
    assert "HX-Request" in response["Vary"]
    assert "no-store" in response["Cache-Control"]


def test_an_offer_shows_its_deadline_in_the_conference_time_zone(client, shop):
    offer = make_order(shop["conference"], Order.Status.PENDING, hold_minutes=600)
    entry = make_entry(
        shop["conference"], shop["student"], status=WaitingListEntry.Status.OFFERED, order=offer
    )
    html = client.get(entry.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    local = timezone.localtime(offer.hold_expires_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert re.search(
        rf"Seats offered — pay by\s*<time[^>]*>{local:%-d %b %Y, %H:%M} CES?T</time>", html
    ), html
    assert f'href="{offer.get_absolute_url()}"' in html
    assert "place-in-line" not in html
    # Still live: the page goes on polling, and the person may still leave.
    assert "hx-get=" in html and "Leave the waiting list" in html


def test_an_offer_whose_hold_lapsed_says_so_before_the_job_marks_it(client, shop):
    offer = make_order(shop["conference"], Order.Status.PENDING, hold_minutes=-1)
    entry = make_entry(
        shop["conference"], shop["student"], status=WaitingListEntry.Status.OFFERED, order=offer
    )
    html = client.get(entry.get_absolute_url()).content.decode()
    assert "were not paid in time" in html
    assert "Seats offered" not in html and "Pay for your seats" not in html


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (WaitingListEntry.Status.ACCEPTED, "You took the seats offered to you"),
        (WaitingListEntry.Status.EXPIRED, "were not paid in time"),
        (WaitingListEntry.Status.LEFT, "You are no longer on the waiting list."),
    ],
)
def test_finished_entries_say_so_and_stop_polling(client, shop, status, text):
    order = make_order(shop["conference"], Order.Status.PAID) if status == "accepted" else None
    entry = make_entry(shop["conference"], shop["student"], status=status, order=order)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert text in html
    assert "hx-get=" not in html.split('id="entry-status"')[1].split(">")[0]
    assert "Leave the waiting list" not in html


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: (e.conference.slug, e.pk, e.secret[:-1] + ("A" if e.secret[-1] != "A" else "B")),
        lambda e: (e.conference.slug, e.pk, "x"),
        lambda e: (e.conference.slug, e.pk, "é" * 10),
        lambda e: (e.conference.slug, e.pk + 1000, e.secret),
        lambda e: ("other-conf", e.pk, e.secret),
    ],
)
def test_a_tampered_entry_url_is_404(client, shop, tamper):
    make_conference(slug="other-conf")
    entry = make_entry(shop["conference"], shop["student"])
    slug, pk, secret = tamper(entry)
    assert client.get(f"/{slug}/waiting/{pk}/{secret}/").status_code == 404
    response = client.post(f"/{slug}/waiting/{pk}/{secret}/leave/", {"confirm": "1"})
    assert response.status_code == 404
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.WAITING


# --- leaving ----------------------------------------------------------------------------


def leave_url(entry):
    return entry.get_absolute_url() + "leave/"


def test_leaving_needs_the_box_ticked(client, shop):
    entry = make_entry(shop["conference"], shop["student"])
    response = client.post(leave_url(entry))
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.WAITING


def test_leaving_takes_the_person_off_the_list(client, shop):
    entry = make_entry(shop["conference"], shop["student"])
    behind = make_entry(shop["conference"], shop["student"], email="behind@example.com")
    response = client.post(leave_url(entry), {"confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == entry.get_absolute_url()
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.LEFT
    html = client.get(entry.get_absolute_url()).content.decode()
    assert "You left the waiting list for Wait Conf." in html
    assert (
        '<strong class="place">1</strong>' in client.get(behind.get_absolute_url()).content.decode()
    )


def test_leaving_an_offer_cancels_its_order(client, shop):
    offer = make_order(shop["conference"], Order.Status.PENDING, tickets=[(shop["regular"], 1)])
    entry = make_entry(
        shop["conference"], shop["student"], status=WaitingListEntry.Status.OFFERED, order=offer
    )
    assert client.post(leave_url(entry), {"confirm": "1"}).status_code == 302
    entry.refresh_from_db()
    offer.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.LEFT
    assert offer.status == Order.Status.CANCELLED


def test_leaving_is_a_post_with_a_csrf_token(shop):
    entry = make_entry(shop["conference"], shop["student"])
    client = Client(enforce_csrf_checks=True)
    assert client.get(leave_url(entry)).status_code == 405
    assert client.post(leave_url(entry), {"confirm": "1"}).status_code == 403
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.WAITING


# --- the order page of an offer ---------------------------------------------------------


def test_the_order_page_of_an_offer_says_it_came_from_the_waiting_list(client, shop):
    offer = make_order(shop["conference"], Order.Status.PENDING, hold_minutes=1440)
    make_entry(
        shop["conference"], shop["student"], status=WaitingListEntry.Status.OFFERED, order=offer
    )
    html = client.get(offer.get_absolute_url()).content.decode()
    local = timezone.localtime(offer.hold_expires_at, zoneinfo.ZoneInfo("Europe/Berlin"))
    assert re.search(
        rf"Offered to you from the waiting list — pay by\s*<time[^>]*>{local:%-d %b %Y, %H:%M}",
        html,
    )
    assert "minutes left" not in html
    plain = make_order(shop["conference"], Order.Status.PENDING)
    assert "from the waiting list" not in client.get(plain.get_absolute_url()).content.decode()
