"""An attendee in Chromium joins the waiting list of a sold-out conference; an
organizer raises the cap in the dashboard, and the attendee's entry page turns
into an offer without a reload."""

import re
import zoneinfo

import pytest
from playwright.sync_api import expect

from registration.models import Order, WaitingListEntry
from tests.e2e.test_overrides import log_in, overriding_organizer
from tests.factories import make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 10_000  # ms; polls run every second under fast_polls


def test_joining_the_waiting_list_and_getting_an_offer_when_the_cap_is_raised(
    live_server, browser, fast_polls
):
    conference = make_conference(name="Full Conf", total_capacity=5, timezone="Europe/Berlin")
    regular = make_ticket_type(conference, name="Regular", slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 5)])
    organizer = overriding_organizer(conference)

    attendee = browser.new_context().new_page()
    attendee.goto(f"{live_server.url}/{conference.slug}/")
    expect(attendee.locator("#status-ticket-regular")).to_have_text("Sold out")
    expect(attendee.locator("#venue-banner")).to_have_text("Full Conf is sold out")

    join = attendee.locator("#join-ticket-regular")
    join.get_by_text("Join the waiting list for Regular").click()
    join.get_by_label("Seats").fill("2")
    join.get_by_label("Name").fill("Wai Ting")
    join.get_by_label("Send the offer to").fill("wai@example.com")
    # A poll or two go by: what was typed stays.
    attendee.wait_for_timeout(2_500)
    expect(join.get_by_label("Name")).to_have_value("Wai Ting")
    join.get_by_role("button", name="Join the waiting list").click()

    expect(attendee).to_have_url(re.compile(r"/waiting/\d+/[\w-]+/$"))
    expect(attendee.locator("#waiting-for")).to_have_text("2 seats of Regular")
    expect(attendee.locator("#place-in-line")).to_have_text("You are number 1 in line.")
    entry = WaitingListEntry.objects.get()
    assert (entry.email, entry.quantity, entry.status) == ("wai@example.com", 2, "waiting")
    attendee.evaluate("window.loadedOnce = true")

    dashboard = browser.new_context().new_page()
    log_in(dashboard, live_server, organizer, f"/dashboard/{conference.slug}/")
    dashboard.locator("#venue-gauge").get_by_role("link", name="Adjust capacity").click()
    dialog = dashboard.locator("#override-dialog")
    dialog.get_by_label("New capacity").fill("7")
    dialog.get_by_label("Reason").fill("Two more chairs for the waiting list")
    dialog.get_by_role("button", name="Save capacity").click()
    expect(dialog.get_by_role("status")).to_contain_text("Venue capacity changed from 5 to 7")

    # The attendee's page shows the offer by itself, with its deadline.
    offered = attendee.locator("#seats-offered")
    expect(offered).to_contain_text("Seats offered — pay by", timeout=LIVE_TIMEOUT)
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.OFFERED
    deadline = entry.order.hold_expires_at.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    expect(offered).to_contain_text(f"{deadline:%-d %b %Y, %H:%M}")
    expect(attendee.locator("#place-in-line")).to_have_count(0)
    assert attendee.evaluate("window.loadedOnce") is True

    attendee.get_by_role("link", name="Pay for your seats").click()
    expect(attendee.locator("#waiting-list-offer")).to_contain_text(
        "Offered to you from the waiting list — pay by"
    )
    expect(attendee.locator(".order-lines tbody tr")).to_contain_text("Regular")
    attendee.context.close()
    dashboard.context.close()
