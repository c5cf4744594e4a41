"""An attendee in Chromium gives seats back, and another's ticket page sees them free again."""

import re

import pytest
from playwright.sync_api import expect

from registration.models import Order
from tests.factories import make_conference, make_ticket_type

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 10_000  # ms; polls run every second under fast_polls


def test_releasing_seats_puts_them_back_on_the_ticket_page(live_server, browser, fast_polls):
    conference = make_conference(name="Release Conf", total_capacity=100, low_stock_threshold=10)
    make_ticket_type(conference, name="Regular", slug="regular", total_quantity=5)
    buyer = browser.new_page()
    watcher = browser.new_page()

    buyer.goto(f"{live_server.url}/{conference.slug}/")
    buyer.get_by_label("Quantity of Regular").fill("3")
    buyer.get_by_label("Your name").fill("Ada Lovelace")
    buyer.get_by_label("Email").fill("ada@example.com")
    buyer.get_by_role("button", name="Hold my seats").click()
    expect(buyer).to_have_url(re.compile(r"/orders/SK-"))

    watcher.goto(f"{live_server.url}/{conference.slug}/")
    expect(watcher.locator("#status-ticket-regular")).to_have_text("Only 2 left")

    buyer.get_by_label("Yes, give these seats back").check()
    buyer.get_by_role("button", name="Release my seats").click()

    expect(buyer.locator(".order-state")).to_contain_text("This order was cancelled")
    expect(buyer.get_by_role("button", name="Release my seats")).to_have_count(0)
    assert Order.objects.get().status == Order.Status.CANCELLED
    expect(watcher.locator("#status-ticket-regular")).to_have_text(
        "Only 5 left", timeout=LIVE_TIMEOUT
    )


def test_choosing_bank_transfer_shows_the_deadline(live_server, page):
    conference = make_conference(name="Transfer Conf", bank_transfer_days=3)
    make_ticket_type(conference, name="Regular", slug="regular")

    page.goto(f"{live_server.url}/{conference.slug}/")
    page.get_by_label("Quantity of Regular").fill("1")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_role("button", name="Hold my seats").click()
    page.get_by_role("button", name="Pay by bank transfer").click()

    expect(page.locator("#awaiting-transfer")).to_contain_text("Awaiting your bank transfer")
    expect(page.get_by_text("Bank transfer chosen")).to_be_visible()
    order = Order.objects.get()
    assert order.payment_provider == "manual" and order.status == Order.Status.PENDING
