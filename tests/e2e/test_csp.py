"""Under the Content-Security-Policy nothing breaks: the dashboard polls and pauses
while hidden, its dialogs open, the orders filter searches as you type, the order
form and the order page work, and the browser reports no violation anywhere."""

import pytest
from playwright.sync_api import expect

from registration import services
from registration.models import Order
from tests.factories import grant, make_conference, make_ticket_type, make_user

pytestmark = pytest.mark.e2e

PASSWORD = "pw-for-tests-only"
# Every violation the page reports, kept where the test can read it.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@pytest.fixture
def shop(transactional_db):
    conference = make_conference(name="Strict Conf", total_capacity=30)
    regular = make_ticket_type(conference, slug="regular", name="Regular", total_quantity=20)
    organizer = grant(make_user("organizer"), "capacity.override_capacity")
    conference.organizers.add(organizer)
    return conference, regular


def watched_page(browser):
    page = browser.new_context().new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    console = []
    page.on(
        "console",
        lambda message: console.append(message.text) if message.type == "error" else None,
    )
    return page, console


def set_visibility(page, state):
    """Make the page believe its tab was hidden or shown again."""
    page.evaluate(
        """(state) => {
          Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def assert_no_violation(page, console):
    assert page.evaluate("window.cspViolations") == []
    assert not [text for text in console if "Content Security Policy" in text], console


def test_the_dashboard_polls_and_its_dialogs_open(live_server, browser, fast_polls, shop):
    conference, regular = shop
    page, console = watched_page(browser)
    next_url = f"/dashboard/{conference.slug}/"
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill("organizer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{next_url}")
    page.evaluate("window.notReloaded = true")

    services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={regular: 2}
    )
    expect(page.locator("#venue-held")).to_have_text("2", timeout=5000)
    # The script that sends the ETag back runs: an unchanged poll is a 304.
    with page.expect_response(
        lambda response: "/poll/" in response.url and response.status == 304, timeout=5000
    ):
        pass

    page.locator("#venue-gauge").get_by_role("link", name="Adjust capacity").click()
    dialog = page.locator("#override-dialog")
    expect(dialog).to_contain_text("2 taken now (0 sold, 2 held)")
    dialog.get_by_label("New capacity").fill("40")
    dialog.get_by_label("Reason").fill("More chairs")
    dialog.get_by_role("button", name="Save capacity").click()
    expect(dialog.get_by_role("status")).to_have_text("Venue capacity changed from 30 to 40.")
    expect(page.locator("#venue-remaining")).to_have_text("38", timeout=5000)

    page.goto(f"{live_server.url}/dashboard/{conference.slug}/orders/")
    page.fill("#orders-filter input[name=q]", "nobody-by-that-name")
    expect(page.locator("#orders-count")).to_have_text("0", timeout=5000)
    assert_no_violation(page, console)


def test_a_hidden_dashboard_stops_polling(live_server, browser, fast_polls, shop):
    conference, _ = shop
    page, console = watched_page(browser)
    next_url = f"/dashboard/{conference.slug}/"
    page.goto(f"{live_server.url}/accounts/login/?next={next_url}")
    page.get_by_label("Username").fill("organizer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server.url}{next_url}")
    polls = []
    page.on("request", lambda request: polls.append(1) if "/poll/" in request.url else None)
    set_visibility(page, "hidden")
    page.wait_for_timeout(300)
    polls.clear()
    page.wait_for_timeout(2500)
    assert polls == []
    set_visibility(page, "visible")
    page.wait_for_timeout(500)
    assert polls  # polled at once on showing again
    assert_no_violation(page, console)


def test_the_order_form_and_the_order_page_work(live_server, browser, fast_polls, shop):
    conference, _ = shop
    page, console = watched_page(browser)
    page.goto(f"{live_server.url}/{conference.slug}/")
    page.get_by_label("Quantity of Regular").fill("2")
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_role("button", name="Hold my seats").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Order SK-")
    order = Order.objects.get(name="Grace Hopper")
    assert order.status == Order.Status.PENDING

    page.click("#pay-demo")
    expect(page.get_by_role("status").first).to_contain_text("is paid")
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert_no_violation(page, console)


def test_the_embeddable_banner_polls_inside_another_sites_frame(live_server, browser, shop):
    conference, regular = shop
    page, console = watched_page(browser)
    banner_url = f"{live_server.url}/{conference.slug}/embed/banner/"
    page.goto(f"{live_server.url}/{conference.slug}/")
    page.set_content(f'<iframe id="embed" src="{banner_url}"></iframe>')
    frame = page.frame_locator("#embed")
    expect(frame.locator("#seatkeeper-banner")).to_contain_text("Tickets are on sale")
    assert frame.locator("script[src$='seatkeeper.js']").count() == 1
    assert not [text for text in console if "Content Security Policy" in text], console
