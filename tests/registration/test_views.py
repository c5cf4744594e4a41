"""The ticket page, its order form, its live banners, the embeddable banner and the order page."""

import re
import zoneinfo
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from capacity.services import override_capacity
from conference.models import Conference
from registration import services
from registration.models import Order, OrderLineItem, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shop():
    """A conference with 10 seats, one ticket type of 4 and one of its own, one add-on."""
    conference = make_conference(name="PyTest Conf", total_capacity=10, low_stock_threshold=5)
    return {
        "conference": conference,
        "regular": make_ticket_type(conference, name="Regular", slug="regular", max_per_order=5),
        "student": make_ticket_type(
            conference, name="Student", slug="student", total_quantity=4, price=Decimal("50.00")
        ),
        "workshop": make_addon(conference, name="Workshop", slug="workshop", total_quantity=3),
    }


def order_form(**quantities):
    data = {"name": "Ada Lovelace", "email": "ada@example.com"}
    data.update(quantities)
    return data


def input_tag(html, name):
    """The <input> whose name is ``name``."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html, re.S)
    assert match, f"no input named {name}"
    return match.group(0)


# --- the ticket page ------------------------------------------------------------


def test_ticket_page_lists_ticket_types_and_addons_with_prices(client, shop):
    response = client.get(f"/{shop['conference'].slug}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "PyTest Conf" in html
    assert "Regular" in html and "€100.00" in html
    assert "Student" in html and "€50.00" in html
    assert "Workshop" in html and "€20.00" in html
    for name in ("ticket-regular", "ticket-student", "addon-workshop", "name", "email"):
        assert "disabled" not in input_tag(html, name)
    assert "sold out" not in html.lower()


def test_ticket_page_shows_only_n_left_and_the_venue_banner(client, shop):
    make_order(shop["conference"], tickets=[(shop["student"], 2), (shop["regular"], 4)])
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    assert "Only 4 seats left for PyTest Conf" in html
    # Student: 2 of its own 4 left; Regular: limited by the venue's 4.
    assert re.search(r'id="status-ticket-student"[^>]*>.*?Only 2 left', html, re.S)
    assert re.search(r'id="status-ticket-regular"[^>]*>.*?Only 4 left', html, re.S)
    assert re.search(r'id="venue-banner"[^>]*role="status"', html)


def test_sold_out_ticket_type_cannot_be_selected(client, shop):
    make_order(shop["conference"], tickets=[(shop["student"], 4)])
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    assert re.search(r'id="status-ticket-student"[^>]*>.*?Sold out', html, re.S)
    assert " disabled" in input_tag(html, "ticket-student")
    assert " disabled" not in input_tag(html, "ticket-regular")


def test_venue_sold_out_banner_disables_every_ticket(client, shop):
    make_order(shop["conference"], tickets=[(shop["regular"], 10)])
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    assert "PyTest Conf is sold out" in html
    assert " disabled" in input_tag(html, "ticket-regular")
    assert " disabled" in input_tag(html, "ticket-student")


def test_sale_windows_show_on_sale_from_and_sales_ended(client):
    conference = make_conference(timezone="Europe/Berlin")
    soon = timezone.now() + timedelta(days=3)
    make_ticket_type(conference, name="Late", slug="late", available_from=soon)
    make_ticket_type(
        conference, name="Early", slug="early", available_until=timezone.now() - timedelta(days=1)
    )
    make_ticket_type(conference, name="Hidden", slug="hidden", is_active=False)
    html = client.get(f"/{conference.slug}/").content.decode()
    local = timezone.localtime(soon, timezone=zoneinfo.ZoneInfo("Europe/Berlin"))
    assert f"On sale from {local:%-d %b %Y, %H:%M}" in html
    assert "Sales ended" in html
    assert "Hidden" not in html
    assert " disabled" in input_tag(html, "ticket-late")
    assert " disabled" in input_tag(html, "ticket-early")


def test_unknown_conference_is_404(client):
    assert client.get("/no-such-conference/").status_code == 404
    assert client.post("/no-such-conference/", order_form()).status_code == 404
    assert Order.objects.count() == 0


def test_index_lists_upcoming_conferences(client, shop):
    html = client.get("/").content.decode()
    assert f'href="/{shop["conference"].slug}/"' in html


# --- placing an order -------------------------------------------------------------


def test_order_with_tickets_and_an_addon_redirects_to_the_order_page(client, shop):
    response = client.post(
        f"/{shop['conference'].slug}/",
        order_form(**{"ticket-regular": "2", "ticket-student": "", "addon-workshop": "1"}),
    )
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == order.get_absolute_url()
    assert order.status == Order.Status.PENDING
    assert (order.name, order.email) == ("Ada Lovelace", "ada@example.com")
    assert str(order.total) == "220.00"
    lines = {(line.kind, line.description, line.quantity) for line in order.lines.all()}
    assert lines == {("ticket", "Regular", 2), ("addon", "Workshop", 1)}


def _refused(client, shop, data, *, message):
    before = (Order.objects.count(), OrderLineItem.objects.count())
    response = client.post(f"/{shop['conference'].slug}/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert message in html, html
    assert (Order.objects.count(), OrderLineItem.objects.count()) == before
    return html


@pytest.mark.parametrize(
    ("quantities", "message"),
    [
        ({"ticket-regular": "-1"}, "The quantity for Regular cannot be negative."),
        ({"ticket-regular": "0", "ticket-student": ""}, "Choose at least one ticket."),
        ({}, "Choose at least one ticket."),
        ({"ticket-regular": "99999999999999999999999"}, "far more Regular than one order"),
        ({"ticket-regular": "9" * 5000}, "Enter a whole number for Regular"),
        ({"ticket-regular": "two"}, "Enter a whole number for Regular"),
        ({"ticket-regular": "1.5"}, "Enter a whole number for Regular"),
        ({"ticket-regular": "6"}, "At most 5 of Regular per order."),
        ({"ticket-student": "5"}, "Only 4 tickets remaining for Student."),
        ({"addon-workshop": "1"}, "Add-ons can only be ordered together with at least one ticket"),
        ({"ticket-regular": "1", "addon-workshop": "4"}, "Only 3 left of Workshop."),
        ({"ticket-regular": "1", "ticket-nope": "1"}, "There is no ticket type called “nope”"),
        ({"ticket-regular": "1", "addon-nope": "1"}, "There is no add-on called “nope”"),
    ],
)
def test_bad_quantities_are_refused_with_a_message_and_nothing_written(
    client, shop, quantities, message
):
    _refused(client, shop, order_form(**quantities), message=message)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-1", "The quantity for Student 50% off cannot be negative."),
        ("5000", "1000 is far more Student 50% off than one order can hold."),
        ("two", "Enter a whole number for Student 50% off, or leave it empty."),
    ],
)
def test_a_percent_sign_in_a_ticket_name_is_shown_in_its_message(client, shop, typed, message):
    TicketType.objects.filter(slug="student").update(name="Student 50% off")
    _refused(client, shop, order_form(**{"ticket-student": typed}), message=message)


def test_refused_form_keeps_what_was_typed(client, shop):
    data = order_form(**{"ticket-regular": "6", "addon-workshop": "2"})
    data["name"] = "Grace Hopper"
    html = _refused(client, shop, data, message="At most 5 of Regular per order.")
    assert 'value="6"' in input_tag(html, "ticket-regular")
    assert 'value="2"' in input_tag(html, "addon-workshop")
    assert 'value="Grace Hopper"' in input_tag(html, "name")
    assert 'value="ada@example.com"' in input_tag(html, "email")


@pytest.mark.parametrize(
    ("buyer", "message"),
    [
        ({"name": ""}, "Enter your name."),
        ({"name": "   "}, "Enter your name."),
        ({"email": ""}, "Enter your email address."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"name": "x" * 201}, "Your name is too long"),
    ],
)
def test_missing_or_bad_name_and_email_are_refused(client, shop, buyer, message):
    data = order_form(**{"ticket-regular": "1"})
    data.update(buyer)
    _refused(client, shop, data, message=message)


def test_another_conferences_ticket_type_cannot_be_ordered_here(client, shop):
    other = make_conference(name="Other Conf")
    make_ticket_type(other, name="Other ticket", slug="elsewhere")
    _refused(
        client,
        shop,
        order_form(**{"ticket-elsewhere": "1"}),
        message="There is no ticket type called “elsewhere” at PyTest Conf.",
    )


def test_sold_out_ticket_type_is_refused_even_when_posted(client, shop):
    make_order(shop["conference"], tickets=[(shop["student"], 4)])
    html = _refused(
        client, shop, order_form(**{"ticket-student": "1"}), message="Student is sold out."
    )
    assert " disabled" in input_tag(html, "ticket-student")


def test_venue_sold_out_refusal_names_the_capacity(client, shop):
    make_order(shop["conference"], tickets=[(shop["regular"], 10)])
    _refused(
        client,
        shop,
        order_form(**{"ticket-regular": "1"}),
        message="PyTest Conf is sold out: all 10 seats of the venue capacity are taken.",
    )


def test_ticket_not_on_sale_is_refused(client, shop):
    shop["regular"].available_from = timezone.now() + timedelta(days=1)
    shop["regular"].save()
    _refused(client, shop, order_form(**{"ticket-regular": "1"}), message="is not on sale yet")


def test_missing_csrf_token_is_403_and_writes_nothing(shop):
    client = Client(enforce_csrf_checks=True)
    response = client.post(f"/{shop['conference'].slug}/", order_form(**{"ticket-regular": "1"}))
    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_csrf_token_from_the_page_is_accepted(shop):
    client = Client(enforce_csrf_checks=True)
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    data = order_form(**{"ticket-regular": "1"}, csrfmiddlewaretoken=token)
    response = client.post(f"/{shop['conference'].slug}/", data)
    assert response.status_code == 302
    assert Order.objects.count() == 1


def test_free_order_is_paid_at_once(client):
    conference = make_conference()
    make_ticket_type(conference, slug="community", price=Decimal("0.00"))
    response = client.post(f"/{conference.slug}/", order_form(**{"ticket-community": "1"}))
    order = Order.objects.get()
    assert response.status_code == 302
    assert order.status == Order.Status.PAID


# --- live banners ---------------------------------------------------------------


def _version(html):
    return re.search(r"\?version=([0-9a-f]+)", html).group(1)


def test_poll_answers_204_while_nothing_changed(client, shop):
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    url = f"/{shop['conference'].slug}/live/?version={_version(html)}"
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response.content == b""
    # Outside htmx the fragment is always whole.
    assert 'id="venue-banner"' in client.get(url).content.decode()


def test_public_pages_answer_head(client, shop):
    slug = shop["conference"].slug
    for url in (f"/{slug}/", f"/{slug}/live/", f"/{slug}/embed/banner/"):
        assert client.head(url).status_code == 200
    assert client.head(f"/api/conferences/{slug}/availability").status_code == 200


def test_poll_swaps_banner_and_badges_when_seats_run_out(client, shop):
    html = client.get(f"/{shop['conference'].slug}/").content.decode()
    make_order(shop["conference"], tickets=[(shop["student"], 4), (shop["regular"], 5)])
    response = client.get(
        f"/{shop['conference'].slug}/live/?version={_version(html)}", HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert _version(body) != _version(html)
    assert re.search(r'id="venue-banner" hx-swap-oob="innerHTML">.*Only 1 seat left', body, re.S)
    assert re.search(r'id="status-ticket-student" hx-swap-oob="innerHTML">.*?Sold out', body, re.S)
    assert re.search(
        r'id="status-ticket-regular" hx-swap-oob="innerHTML">.*?Only 1 left', body, re.S
    )
    student = input_tag(body, "ticket-student")
    assert " disabled" in student and 'id="id_ticket-student-closed"' in student
    regular = input_tag(body, "ticket-regular")
    # Still open: the same id, so hx-preserve keeps what the attendee typed.
    assert 'id="id_ticket-regular"' in regular and " disabled" not in regular
    assert "hx-preserve" in regular


def test_a_refused_order_page_polls_afresh_first_then_on_from_the_version_it_hears(client, shop):
    """The seats a refused order's page shows were read under the lock, before any
    version could be: its first poll draws the live pieces whatever the version,
    so a sale committed in between cannot hide behind a 204."""
    make_order(shop["conference"], tickets=[(shop["student"], 4)])
    html = _refused(
        client, shop, order_form(**{"ticket-student": "1"}), message="Student is sold out."
    )
    slug = shop["conference"].slug
    first = client.get(f"/{slug}/live/?version={_version(html)}", HTTP_HX_REQUEST="true")
    assert first.status_code == 200
    body = first.content.decode()
    assert re.search(r'id="status-ticket-student" hx-swap-oob="innerHTML">.*?Sold out', body, re.S)
    url = f"/{slug}/live/?version={_version(body)}"
    assert client.get(url, HTTP_HX_REQUEST="true").status_code == 204
    make_order(shop["conference"], tickets=[(shop["regular"], 1)])
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert _version(response.content.decode()) != _version(body)


def test_polls_come_back_soon_while_seats_move_and_seldom_once_quiet(client, shop, settings):
    settings.SEATKEEPER_PUBLIC_POLL_SECONDS = 5
    settings.SEATKEEPER_QUIET_AFTER_SECONDS = 60
    settings.SEATKEEPER_QUIET_POLL_SECONDS = 30
    conference = shop["conference"]
    order = make_order(conference, tickets=[(shop["regular"], 1)])
    polls = (f"/{conference.slug}/live/", f"/{conference.slug}/embed/banner/")
    for url in polls:
        assert 'hx-trigger="every 5s"' in client.get(url, HTTP_HX_REQUEST="true").content.decode()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(updated_at=an_hour_ago)
    Conference.objects.filter(pk=conference.pk).update(updated_at=an_hour_ago)
    for url in polls:
        body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert 'hx-trigger="every 30s"' in body


def test_poll_of_unknown_conference_is_404(client):
    assert client.get("/nope/live/").status_code == 404


def test_poll_is_cached_per_conference_and_fresh_after_a_change(
    client, shop, settings, django_assert_num_queries
):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    url = f"/{shop['conference'].slug}/live/"
    first = client.get(url).content.decode()
    with django_assert_num_queries(1):  # the conference with its version
        assert client.get(url).content.decode() == first
    services.place_order(
        conference=shop["conference"],
        email="b@example.com",
        name="B",
        tickets={shop["student"]: 4},
    )
    fresh = client.get(url).content.decode()
    assert "Sold out" in fresh and _version(fresh) != _version(first)


def test_the_ticket_page_shows_a_capacity_override_at_once_despite_the_cache(
    client, shop, settings
):
    """An override writes with ``QuerySet.update()``; its audit record moves the version."""
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference = shop["conference"]
    make_order(conference, Order.Status.PAID, tickets=[(shop["regular"], 10)])
    assert "sold out" in client.get(f"/{conference.slug}/").content.decode()
    override_capacity(target=conference, total=12, reason="Bigger room", user=make_user())
    assert "Only 2 seats left" in client.get(f"/{conference.slug}/").content.decode()


# --- embeddable banner ----------------------------------------------------------


def test_embed_banner_is_a_framable_page_that_polls_itself(client, shop):
    make_order(shop["conference"], tickets=[(shop["regular"], 7)])
    response = client.get(f"/{shop['conference'].slug}/embed/banner/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers
    assert "Only 3 seats left for PyTest Conf" in html
    assert 'role="status"' in html and "hx-trigger=" in html
    assert f'href="/{shop["conference"].slug}/" target="_top"' in html


def test_embed_banner_fragment_for_htmx_and_sold_out(client, shop):
    make_order(shop["conference"], tickets=[(shop["regular"], 10)])
    response = client.get(f"/{shop['conference'].slug}/embed/banner/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.startswith('<div id="seatkeeper-banner"')
    assert "PyTest Conf is sold out" in html
    assert "HX-Request" in response["Vary"]
    assert client.get("/nope/embed/banner/").status_code == 404


# --- the order page ---------------------------------------------------------------


@pytest.fixture
def pending_order(shop):
    return services.place_order(
        conference=shop["conference"],
        email="ada@example.com",
        name="Ada Lovelace",
        tickets={shop["regular"]: 2},
        addons={shop["workshop"]: 1},
    )


def test_order_page_shows_lines_total_and_hold(client, pending_order):
    response = client.get(pending_order.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert pending_order.reference in html
    assert "Regular" in html and "Workshop" in html
    assert "€220.00" in html
    assert "15 minutes left" in html
    assert 'value="demo"' in html
    assert "Bank transfer" in html


def test_order_status_poll_renders_only_the_status(client, pending_order):
    response = client.get(pending_order.get_absolute_url(), HTTP_HX_REQUEST="true")
    html = response.content.decode().strip()
    assert html.startswith('<section id="order-status"')
    assert "<html" not in html


def test_order_page_shows_a_lapsed_hold(client, pending_order):
    Order.objects.filter(pk=pending_order.pk).update(
        hold_expires_at=timezone.now() - timedelta(minutes=1)
    )
    html = client.get(pending_order.get_absolute_url()).content.decode()
    assert "Your hold expired" in html
    # Paying late is refused while people wait for the seats: the page says so.
    assert "no one on the waiting list is owed them" in html


@pytest.mark.parametrize(
    "tamper",
    [
        lambda o: (
            o.conference.slug,
            o.reference,
            o.secret[:-1] + ("A" if o.secret[-1] != "A" else "B"),
        ),
        lambda o: (o.conference.slug, o.reference, "x"),
        lambda o: (o.conference.slug, o.reference, "é" * 10),
        lambda o: (o.conference.slug, "SK-NOPE-NOPE", o.secret),
        lambda o: ("other-conf", o.reference, o.secret),
    ],
)
def test_tampered_order_url_is_404(client, pending_order, tamper):
    make_conference(slug="other-conf")
    slug, reference, secret = tamper(pending_order)
    assert client.get(f"/{slug}/orders/{reference}/{secret}/").status_code == 404
    response = client.post(f"/{slug}/orders/{reference}/{secret}/pay/", {"provider": "demo"})
    assert response.status_code == 404
    pending_order.refresh_from_db()
    assert pending_order.status == Order.Status.PENDING
