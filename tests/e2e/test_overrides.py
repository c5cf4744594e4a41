"""An organizer overrides capacity from the dashboard in Chromium; attendees see it live."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from capacity.models import BlockedSeats, CapacityChange
from conference.models import Conference
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 10_000  # ms; polls run every second under fast_polls
PASSWORD = "pw-for-tests-only"  # tests.factories.make_user


def overriding_organizer(conference):
    user = make_user("overrider")
    conference.organizers.add(user)
    user.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    return user


def settled(page):
    """Wait until htmx has no request in flight: after a change the dashboard's
    poll and the overrides summary redraw the block list, and a link redrawn a
    moment ago may not be wired to htmx yet."""
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")
    expect(page.locator("#override-summary")).not_to_contain_text("Loading")


def log_in(page, live_server, user, next_url):
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{next_url}")


def test_raising_the_cap_of_a_sold_out_conference_reopens_sales_on_the_attendee_page(
    live_server, browser, fast_polls
):
    conference = make_conference(name="Packed Conf", total_capacity=5)
    make_ticket_type(conference, name="Regular", slug="regular")
    regular = conference.ticket_types.get()
    make_order(conference, Order.Status.PAID, tickets=[(regular, 5)])
    organizer = overriding_organizer(conference)

    attendee = browser.new_context().new_page()
    attendee.goto(f"{live_server.url}/{conference.slug}/")
    expect(attendee.locator("#venue-banner")).to_have_text("Packed Conf is sold out")
    expect(attendee.locator("#status-ticket-regular")).to_have_text("Sold out")
    expect(attendee.locator('input[name="ticket-regular"]')).to_be_disabled()
    attendee.evaluate("window.loadedOnce = true")

    dashboard = browser.new_context().new_page()
    log_in(dashboard, live_server, organizer, f"/dashboard/{conference.slug}/")
    expect(dashboard.locator("#venue-remaining")).to_have_text("0")
    dashboard.locator("#venue-gauge").get_by_role("link", name="Adjust capacity").click()
    dialog = dashboard.locator("#override-dialog")
    expect(dialog).to_contain_text("5 taken now (5 sold, 0 held)")

    # A lower cap is refused with words a person understands; nothing changes.
    dialog.get_by_label("New capacity").fill("3")
    dialog.get_by_label("Reason").fill("Typo test")
    dialog.get_by_role("button", name="Save capacity").click()
    expect(dialog.get_by_role("alert")).to_have_text(
        "5 seats are already taken; lower to 5 or more, or force."
    )
    assert Conference.objects.get(pk=conference.pk).total_capacity == 5

    dialog.get_by_label("New capacity").fill("8")
    dialog.get_by_label("Reason").fill("Fire marshal allows three more chairs")
    dialog.get_by_role("button", name="Save capacity").click()
    expect(dialog.get_by_role("status")).to_have_text("Venue capacity changed from 5 to 8.")

    # The dashboard follows at once, without a reload, and the change is on the record.
    expect(dashboard.locator("#venue-remaining")).to_have_text("3", timeout=LIVE_TIMEOUT)
    expect(dashboard.locator("#venue-capacity")).to_have_text("8")
    expect(dashboard.locator("#override-summary")).to_contain_text(
        "Fire marshal allows three more chairs", timeout=LIVE_TIMEOUT
    )
    change = CapacityChange.objects.get()
    assert (change.old_value, change.new_value, change.user) == (5, 8, organizer)

    # The attendee's banner switches from "Sold out" to available without a reload.
    expect(attendee.locator("#venue-banner")).to_have_text(
        "Only 3 seats left for Packed Conf", timeout=LIVE_TIMEOUT
    )
    expect(attendee.locator("#status-ticket-regular")).to_have_text("Only 3 left")
    expect(attendee.locator('input[name="ticket-regular"]')).to_be_enabled()
    assert attendee.evaluate("window.loadedOnce") is True

    # And the reopened seat can really be bought.
    attendee.get_by_label("Quantity of Regular").fill("1")
    attendee.get_by_label("Your name").fill("Late Comer")
    attendee.get_by_label("Email").fill("late@example.com")
    attendee.get_by_role("button", name="Hold my seats").click()
    expect(attendee.get_by_role("heading", level=1)).to_contain_text("Order SK-")
    assert Order.objects.filter(name="Late Comer", status=Order.Status.PENDING).exists()
    attendee.context.close()
    dashboard.context.close()


def test_blocking_and_releasing_seats_from_the_dashboard(live_server, browser, fast_polls):
    conference = make_conference(name="Block Conf", total_capacity=10)
    make_ticket_type(conference, name="Regular", slug="regular")
    organizer = overriding_organizer(conference)

    page = browser.new_context().new_page()
    log_in(page, live_server, organizer, f"/dashboard/{conference.slug}/")
    page.locator("#overrides-panel").get_by_role("link", name="Block seats").click()
    dialog = page.locator("#override-dialog")
    dialog.get_by_label("Seats", exact=True).fill("4")
    dialog.get_by_label("Label").fill("speakers")
    dialog.get_by_label("Reason").fill("Keynote speakers")
    dialog.get_by_role("button", name="Block seats").click()
    expect(dialog.get_by_role("status")).to_have_text("4 seats blocked for speakers.")
    expect(page.locator("#venue-blocked")).to_have_text("4", timeout=LIVE_TIMEOUT)
    expect(page.locator("#venue-remaining")).to_have_text("6")

    block = BlockedSeats.objects.get()
    settled(page)
    page.locator(f"#block-{block.pk}").get_by_role("link", name="Release").click()
    expect(page.locator('#override-dialog[data-dialog="release"]')).to_be_visible()
    settled(page)
    seats, reason = dialog.get_by_label("Seats to release"), dialog.get_by_label("Reason")
    seats.fill("3")
    reason.fill("Three speakers cancelled")
    expect(seats).to_have_value("3")
    expect(reason).to_have_value("Three speakers cancelled")
    dialog.get_by_role("button", name="Release seats").click()
    expect(dialog.get_by_role("status")).to_contain_text("3 seats released from speakers")
    expect(page.locator("#venue-blocked")).to_have_text("1", timeout=LIVE_TIMEOUT)
    expect(page.locator("#venue-remaining")).to_have_text("9")
    expect(page.locator("#override-summary")).to_contain_text("Three speakers cancelled")
    page.context.close()


def test_organizers_without_the_permission_see_numbers_but_no_controls(live_server, page):
    conference = make_conference(name="Plain Conf", total_capacity=10)
    make_ticket_type(conference, name="Regular", slug="regular")
    organizer = make_user("plain-organizer")
    conference.organizers.add(organizer)

    log_in(page, live_server, organizer, f"/dashboard/{conference.slug}/")

    expect(page.locator("#venue-capacity")).to_have_text("10")
    expect(page.get_by_role("link", name="Adjust capacity")).to_have_count(0)
    expect(page.get_by_role("link", name="Block seats")).to_have_count(0)
    # Even a hand-made request with a valid CSRF token is refused on the server.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    response = page.request.post(
        f"{live_server.url}/dashboard/{conference.slug}/capacity/adjust/venue/",
        form={"total": "50", "reason": "sneaky"},
        headers={"X-CSRFToken": csrf, "Referer": live_server.url + "/"},
    )
    assert response.status == 403
    assert "CSRF" not in response.text()
    assert Conference.objects.get(pk=conference.pk).total_capacity == 10
