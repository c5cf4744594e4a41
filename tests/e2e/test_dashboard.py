"""The organizer dashboard in Chromium: live widgets, the htmx orders table, order actions."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from registration import services
from registration.models import Order, TicketType
from tests.factories import grant, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.e2e

MARKER = "window.__seatkeeperMarker"


@pytest.fixture
def sale(transactional_db):
    conference = make_conference(name="Live Conf", total_capacity=50, timezone="Europe/Berlin")
    regular = make_ticket_type(conference, slug="regular", name="Regular", total_quantity=20)
    organizer = grant(make_user("organizer"), "registration.manage_orders")
    conference.organizers.add(organizer)
    return conference, regular


def log_in(page, live_server, next_path):
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", "organizer")
    page.fill("input[name=password]", "pw-for-tests-only")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def mark_page(page):
    """Set a variable a full page load would wipe out."""
    page.evaluate(f"{MARKER} = 'no reload'")


def assert_not_reloaded(page):
    assert page.evaluate(MARKER) == "no reload"


def test_widgets_follow_a_sale_without_a_reload(live_server, page, fast_polls, sale):
    conference, regular = sale
    within_two_polls = 2 * fast_polls.SEATKEEPER_DASHBOARD_POLL_SECONDS * 1000 + 500
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    row = page.locator("#ticket-type-regular")
    expect(page.locator("#venue-held")).to_have_text("0")
    expect(row.locator("[data-field=remaining]")).to_have_text("20")
    mark_page(page)

    order = services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 3}
    )

    expect(page.locator("#venue-held")).to_have_text("3", timeout=within_two_polls)
    expect(page.locator("#venue-remaining")).to_have_text("47", timeout=within_two_polls)
    expect(row.locator("[data-field=held]")).to_have_text("3", timeout=within_two_polls)
    expect(row.locator("[data-field=remaining]")).to_have_text("17", timeout=within_two_polls)
    expect(page.locator(f"#latest-orders [data-reference='{order.reference}']")).to_be_visible(
        timeout=within_two_polls
    )
    expect(page.locator("#sales-last-hour")).to_have_text("3", timeout=within_two_polls)

    services.mark_paid(order, provider="manual")

    expect(page.locator("#venue-sold")).to_have_text("3", timeout=within_two_polls)
    expect(page.locator("#venue-held")).to_have_text("0", timeout=within_two_polls)
    expect(row.locator("[data-field=sold]")).to_have_text("3", timeout=within_two_polls)
    assert_not_reloaded(page)
    expect(page.locator("#dashboard-poll-error")).to_be_hidden()


def test_a_failed_poll_is_shown_and_clears_when_polls_work_again(
    live_server, page, fast_polls, sale
):
    conference, _ = sale
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    error = page.locator("#dashboard-poll-error")
    expect(error).to_be_hidden()

    page.route("**/poll/**", lambda route: route.fulfill(status=500, body="boom"))
    expect(error).to_be_visible(timeout=4000)
    expect(error).to_contain_text("Live updates failed")
    expect(page.locator("#dashboard")).to_have_class(re.compile(r"\bis-stale\b"))

    page.unroute("**/poll/**")
    expect(error).to_be_hidden(timeout=4000)


def test_orders_table_sorts_filters_and_pages_without_a_reload(live_server, page, sale):
    conference, regular = sale
    now = timezone.now()
    for n in range(30):
        order = make_order(conference, Order.Status.PAID, tickets=[(regular, 1 + n % 3)])
        Order.objects.filter(pk=order.pk).update(created_at=now - timedelta(minutes=n))
    hopper = make_order(conference, Order.Status.PENDING, tickets=[(regular, 1)])
    Order.objects.filter(pk=hopper.pk).update(name="Grace Hopper")
    log_in(page, live_server, f"/dashboard/{conference.slug}/orders/")
    rows = page.locator("#orders tbody tr")
    expect(rows).to_have_count(25)
    mark_page(page)

    page.click("#orders th a[data-sort=tickets]")
    page.wait_for_url(re.compile(r"sort=tickets"))
    expect(page.locator("#orders th[aria-sort=ascending]")).to_contain_text("Tickets")
    expect(rows.first.locator("td.num").first).to_have_text("1")

    page.click("#orders-results a[data-page='2']")
    page.wait_for_url(re.compile(r"page=2"))
    expect(rows).to_have_count(6)
    assert "sort=tickets" in page.url
    assert_not_reloaded(page)

    page.fill("#orders-filter input[name=q]", "hopper")
    page.wait_for_url(re.compile(r"q=hopper"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Grace Hopper")
    assert_not_reloaded(page)

    page.go_back()
    page.wait_for_url(re.compile(r"page=2"))
    expect(rows).to_have_count(6)


def test_mark_paid_from_the_order_page_with_confirmation(live_server, page, sale):
    conference, regular = sale
    order = make_order(conference, Order.Status.PENDING, tickets=[(regular, 2)])
    log_in(page, live_server, f"/dashboard/{conference.slug}/orders/{order.reference}/")
    page.click("#action-mark-paid")
    expect(page.locator(".confirm-question")).to_contain_text("Record a manual payment")
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING

    page.click("#confirm-action")

    expect(page.locator(".messages")).to_contain_text(f"Order {order.reference} is marked as paid")
    expect(page.locator("#order-status")).to_contain_text("Paid")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_poll_swaps_only_the_widgets_that_changed(live_server, page, fast_polls, sale):
    conference, regular = sale
    make_ticket_type(conference, slug="student", name="Student", total_quantity=10)
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    row_name = page.locator("#ticket-type-regular th")
    expect(row_name).to_contain_text("Regular")
    widgets = [
        "venue-gauge",
        "sales-chart",
        "overrides-panel",
        "item-rows",
        "ticket-type-regular",
        "ticket-type-student",
    ]
    for widget in widgets:
        page.evaluate(f"document.getElementById('{widget}').dataset.testMarker = 'kept'")

    TicketType.objects.filter(pk=regular.pk).update(name="Ordinary")

    expect(row_name).to_contain_text("Ordinary", timeout=4000)
    kept = {
        widget: page.evaluate(f"document.getElementById('{widget}').dataset.testMarker || ''")
        for widget in widgets
    }
    # Of the ticket types' table, only the renamed row was swapped.
    assert kept == {
        "venue-gauge": "kept",
        "sales-chart": "kept",
        "overrides-panel": "kept",
        "item-rows": "kept",
        "ticket-type-regular": "",
        "ticket-type-student": "kept",
    }


def test_a_sale_swaps_the_row_of_its_ticket_type_and_no_other(live_server, page, fast_polls, sale):
    conference, regular = sale
    make_ticket_type(conference, slug="student", name="Student", total_quantity=10)
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    rows = ["ticket-type-regular", "ticket-type-student"]
    for row in rows:
        page.evaluate(f"document.getElementById('{row}').dataset.testMarker = 'kept'")

    services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 2}
    )

    expect(page.locator("#ticket-type-regular [data-field=held]")).to_have_text("2", timeout=4000)
    expect(page.locator("#venue-held")).to_have_text("2")
    kept = {
        row: page.evaluate(f"document.getElementById('{row}').dataset.testMarker || ''")
        for row in rows
    }
    assert kept == {"ticket-type-regular": "", "ticket-type-student": "kept"}
    # The swapped row is a row of the table, not loose in the page.
    assert page.locator("#ticket-types-table tbody > tr#ticket-type-regular").count() == 1


def test_the_poll_speeds_up_while_seats_move_and_backs_off_when_quiet(
    live_server, page, fast_polls, sale
):
    conference, regular = sale
    fast_polls.SEATKEEPER_QUIET_AFTER_SECONDS = 5
    fast_polls.SEATKEEPER_QUIET_POLL_SECONDS = 3
    polls = []
    page.on("request", lambda request: "/poll/" in request.url and polls.append(request.url))
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    poller = page.locator("#dashboard-poller")
    expect(poller).to_have_attribute("data-poll-seconds", "1")

    # Nothing moves for longer than the quiet period: the server slows the poller down.
    expect(poller).to_have_attribute("data-poll-seconds", "3", timeout=9000)
    polls.clear()
    page.wait_for_timeout(2500)
    assert len(polls) <= 1

    services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 1}
    )

    expect(poller).to_have_attribute("data-poll-seconds", "1", timeout=5000)
    expect(page.locator("#venue-held")).to_have_text("1")
    polls.clear()
    page.wait_for_timeout(2500)
    assert len(polls) >= 2
