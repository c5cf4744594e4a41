"""A German reader in Chromium: the ticket page speaks German, and switching to
English keeps what was typed in the order form."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.e2e


def test_a_german_browser_reads_german_and_switching_keeps_the_typed_order(live_server, browser):
    conference = make_conference(name="Sprachkonferenz", slug="sprache", total_capacity=100)
    regular = make_ticket_type(conference, name="Regular", slug="regular", total_quantity=2)
    make_ticket_type(conference, name="Student", slug="student", price=Decimal("149.00"))
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])

    context = browser.new_context(locale="de-DE")
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/sprache/")
        order_form = page.locator("#order-form")
        expect(page.locator("html")).to_have_attribute("lang", "de")
        expect(page.get_by_text("Ausverkauft").first).to_be_visible()
        expect(page.get_by_text(re.compile(r"149,00\s€")).first).to_be_visible()

        order_form.locator('input[name="ticket-student"]').fill("2")
        order_form.locator('input[name="name"]').fill("Ada Lovelace")
        order_form.locator('input[name="email"]').fill("ada@example.com")
        page.get_by_role("button", name="English").click()

        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_text("Sold out").first).to_be_visible()
        expect(page.get_by_text("€149.00").first).to_be_visible()
        expect(order_form.locator('input[name="ticket-student"]')).to_have_value("2")
        expect(order_form.locator('input[name="name"]')).to_have_value("Ada Lovelace")
        expect(order_form.locator('input[name="email"]')).to_have_value("ada@example.com")

        # The choice is kept: the next page stays English whatever the browser says.
        page.reload()
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert Order.objects.count() == 1  # switching placed no order
    finally:
        context.close()
