"""An attendee in Chromium: buying, paying, and watching the banners change without a reload."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from registration import services
from registration.models import Order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 10_000  # ms; polls run every second under fast_polls


def test_attendee_buys_two_tickets_and_an_addon_and_pays(live_server, page):
    conference = make_conference(name="Browser Conf", total_capacity=50)
    make_ticket_type(conference, name="Regular", slug="regular")
    make_addon(conference, name="Workshop", slug="workshop")

    page.goto(f"{live_server.url}/{conference.slug}/")
    page.get_by_label("Quantity of Regular").fill("2")
    page.get_by_label("Quantity of Workshop").fill("1")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_role("button", name="Hold my seats").click()

    expect(page).to_have_url(re.compile(r"/orders/SK-"))
    order = Order.objects.get()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order.reference}")
    lines = page.locator(".order-lines tbody tr")
    expect(lines).to_have_count(2)
    expect(lines.nth(0)).to_contain_text("Regular")
    expect(lines.nth(0)).to_contain_text("2")
    expect(lines.nth(1)).to_contain_text("Workshop")
    expect(page.locator(".order-total")).to_have_text("€220.00")
    expect(page.locator(".countdown")).to_have_text("15 minutes left")
    expect(page.get_by_text(f"quoting {order.reference}")).to_be_visible()

    page.get_by_role("button", name="with demo payment").click()

    expect(page.locator(".order-state")).to_contain_text("Paid on")
    expect(page.get_by_role("button", name="with demo payment")).to_have_count(0)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_provider == "demo"
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]


def test_refused_order_keeps_what_was_typed(live_server, page):
    conference = make_conference(name="Strict Conf")
    make_ticket_type(conference, name="Regular", slug="regular", max_per_order=2)

    page.goto(f"{live_server.url}/{conference.slug}/")
    page.get_by_label("Quantity of Regular").fill("3")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_role("button", name="Hold my seats").click()

    expect(page.get_by_role("alert")).to_contain_text("At most 2 of Regular per order.")
    expect(page.get_by_label("Quantity of Regular")).to_have_value("3")
    expect(page.get_by_label("Your name")).to_have_value("Grace Hopper")
    assert Order.objects.count() == 0


def test_banners_turn_sold_out_without_a_reload(live_server, browser, fast_polls):
    conference = make_conference(name="Live Conf", total_capacity=20, low_stock_threshold=5)
    student = make_ticket_type(conference, name="Student", slug="student", total_quantity=3)
    regular = make_ticket_type(conference, name="Regular", slug="regular", max_per_order=20)

    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{live_server.url}/{conference.slug}/")
    student_badge = page.locator("#status-ticket-student")
    expect(student_badge).to_have_text("Only 3 left")
    expect(page.locator("#venue-banner")).to_have_text("")
    page.evaluate("window.loadedOnce = true")
    page.get_by_label("Quantity of Regular").fill("2")
    page.get_by_label("Quantity of Student").fill("1")
    page.get_by_label("Your name").fill("Still Typing")
    expect(page.locator("#dropped-notice")).to_be_hidden()

    # Somebody else takes the last student tickets.
    services.place_order(
        conference=conference, email="other@example.com", name="Other", tickets={student: 3}
    )
    expect(student_badge).to_have_text("Sold out", timeout=LIVE_TIMEOUT)
    expect(page.locator('input[name="ticket-student"]')).to_be_disabled()
    # The Student ticket typed is gone from the order, and the page says so.
    expect(page.locator("#dropped-notice")).to_have_text(
        "Taken out of your order because they ran out while you were choosing: Student."
    )
    # Same page, nothing typed was lost.
    assert page.evaluate("window.loadedOnce") is True
    expect(page.get_by_label("Quantity of Regular")).to_have_value("2")
    expect(page.get_by_label("Quantity of Regular")).to_be_enabled()
    expect(page.get_by_label("Your name")).to_have_value("Still Typing")

    # The venue runs low, then out.
    make_order(conference, Order.Status.PAID, tickets=[(regular, 15)])
    expect(page.locator("#venue-banner")).to_have_text(
        "Only 2 seats left for Live Conf", timeout=LIVE_TIMEOUT
    )
    expect(page.locator("#status-ticket-regular")).to_have_text("Only 2 left")
    expect(page.get_by_label("Quantity of Regular")).to_have_value("2")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 2)])
    expect(page.locator("#venue-banner")).to_have_text(
        "Live Conf is sold out", timeout=LIVE_TIMEOUT
    )
    expect(page.locator('input[name="ticket-regular"]')).to_be_disabled()
    assert page.evaluate("window.loadedOnce") is True
    context.close()


def test_sold_out_ticket_type_cannot_be_chosen(live_server, page):
    conference = make_conference(name="Full Conf", total_capacity=100)
    student = make_ticket_type(conference, name="Student", slug="student", total_quantity=2)
    make_ticket_type(conference, name="Regular", slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(student, 2)])

    page.goto(f"{live_server.url}/{conference.slug}/")
    student_input = page.locator('input[name="ticket-student"]')
    expect(page.locator("#status-ticket-student")).to_have_text("Sold out")
    expect(student_input).to_be_disabled()
    expect(page.get_by_label("Quantity of Regular")).to_be_enabled()

    # Even a page tampered with to enable the input cannot buy one: the server decides.
    student_input.evaluate("input => { input.disabled = false; input.value = '1'; }")
    page.get_by_label("Your name").fill("Sneaky")
    page.get_by_label("Email").fill("sneaky@example.com")
    page.get_by_role("button", name="Hold my seats").click()
    expect(page.get_by_role("alert")).to_contain_text("Student is sold out.")
    assert Order.objects.filter(name="Sneaky").count() == 0


def test_ticket_page_fits_a_phone(live_server, page):
    conference = make_conference(name="A Conference With A Rather Long Name 2027")
    make_ticket_type(conference, name="Supporter ticket with a long name", slug="supporter")
    make_addon(conference, name="Workshop", slug="workshop")
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{live_server.url}/{conference.slug}/")
    expect(page.get_by_label("Quantity of Supporter ticket with a long name")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


def test_the_ticket_page_polls_fast_during_a_sale_and_slowly_when_quiet(
    live_server, page, fast_polls
):
    fast_polls.SEATKEEPER_QUIET_AFTER_SECONDS = 5
    fast_polls.SEATKEEPER_QUIET_POLL_SECONDS = 3
    conference = make_conference(total_capacity=50, low_stock_threshold=50)
    regular = make_ticket_type(conference, slug="regular", total_quantity=40)
    page.goto(f"{live_server.url}/{conference.slug}/")
    poller = page.locator("#live-poller")
    expect(poller).to_have_attribute("hx-trigger", re.compile(r"^every 1s"))

    expect(poller).to_have_attribute("hx-trigger", re.compile(r"^every 3s"), timeout=9000)

    services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 2}
    )

    expect(page.locator("#venue-banner")).to_contain_text("Only 48 seats left", timeout=5000)
    expect(poller).to_have_attribute("hx-trigger", re.compile(r"^every 1s"))
