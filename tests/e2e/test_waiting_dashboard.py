"""The waiting list on the organizer dashboard in Chromium: the numbers follow
people joining and offers being made without a reload, and the capacity dialog
says whom a raise reaches as it is typed."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from registration import services
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.e2e

LIVE_TIMEOUT = 10_000  # ms; polls run every second under fast_polls


@pytest.fixture
def sold_out(transactional_db):
    conference = make_conference(name="Full Conf", total_capacity=4)
    regular = make_ticket_type(conference, slug="regular", name="Regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3)])
    single = make_order(conference, Order.Status.PAID, tickets=[(regular, 1)])
    organizer = make_user("organizer")
    conference.organizers.add(organizer)
    organizer.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    return conference, regular, single


def log_in(page, live_server, next_path):
    page.goto(f"{live_server.url}/accounts/login/?next={next_path}")
    page.fill("input[name=username]", "organizer")
    page.fill("input[name=password]", "pw-for-tests-only")
    page.click("main button[type=submit]")
    page.wait_for_url(f"**{next_path}")


def join(conference, email, ticket_type=None, quantity=1):
    return services.join_waiting_list(
        conference=conference,
        email=email,
        name="Waiting",
        quantity=quantity,
        ticket_type=ticket_type,
    )


def test_waiting_numbers_follow_joins_and_offers_without_a_reload(
    live_server, page, fast_polls, sold_out
):
    conference, regular, single = sold_out
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    people = page.locator("#venue-waiting-people")
    row = page.locator("#ticket-type-regular")
    expect(people).to_have_text("0 waiting")
    page.evaluate("window.__seatkeeperMarker = 'no reload'")

    join(conference, "ada@example.com", regular)
    join(conference, "grace@example.com", regular, quantity=2)

    expect(people).to_have_text("2 waiting", timeout=LIVE_TIMEOUT)
    expect(page.locator("#venue-waiting")).to_contain_text("for 3 seats")
    expect(row.locator("[data-field=waiting-people]")).to_have_text("2 waiting")

    services.cancel_order(single)  # one seat: offered to Ada

    expect(people).to_have_text("1 waiting", timeout=LIVE_TIMEOUT)
    expect(page.locator("#venue-offers")).to_have_text("1 offer open")
    expect(row.locator("[data-field=offers]")).to_have_text("1 offer open")
    assert page.evaluate("window.__seatkeeperMarker") == "no reload"
    expect(page.locator("#dashboard-poll-error")).to_be_hidden()


def test_the_capacity_dialog_says_whom_a_raise_reaches(live_server, page, fast_polls, sold_out):
    conference, regular, _ = sold_out
    for n in range(3):
        join(conference, f"person{n}@example.com", regular)
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    page.wait_for_function("() => document.querySelectorAll('.htmx-request').length === 0")
    page.locator("#venue-gauge").get_by_role("link", name="Adjust capacity").click()
    dialog = page.locator("#override-dialog")
    preview = dialog.locator("#adjust-raise-preview")
    expect(dialog).to_contain_text("4 taken now")
    # htmx wires the swapped-in input when the swap settles; a person types later.
    page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    expect(preview).to_be_attached()
    expect(preview).to_be_hidden()

    dialog.get_by_label("New capacity").fill("6")
    expect(preview).to_have_text("Raising to 6 offers seats to the next 2 people in line.")
    dialog.get_by_label("New capacity").fill("9")
    expect(preview).to_have_text("Raising to 9 offers seats to the next 3 people in line.")
    dialog.get_by_label("New capacity").fill("3")
    expect(preview).to_be_hidden()

    # What was typed stays; the dialog still saves as before.
    dialog.get_by_label("New capacity").fill("5")
    dialog.get_by_label("Reason").fill("One more chair")
    dialog.get_by_role("button", name="Save capacity").click()
    expect(dialog.get_by_role("status")).to_have_text("Venue capacity changed from 4 to 5.")
    expect(page.locator("#venue-offers")).to_have_text("1 offer open", timeout=LIVE_TIMEOUT)


def test_the_waiting_list_page_filters_without_a_reload(live_server, page, sold_out):
    conference, regular, single = sold_out
    join(conference, "ada@example.com", regular)
    join(conference, "grace@example.com", regular)
    join(conference, "alan@example.com")
    services.cancel_order(single)  # Ada gets the seat
    log_in(page, live_server, f"/dashboard/{conference.slug}/")
    page.get_by_role("link", name="Waiting list").first.click()
    page.wait_for_url(f"**/dashboard/{conference.slug}/waiting/")
    rows = page.locator("#waiting-entries tbody tr")
    expect(rows).to_have_count(3)
    page.evaluate("window.__seatkeeperMarker = 'no reload'")

    page.select_option("#waiting-filter select[name=status]", "offered")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada@example.com")
    expect(rows.first).to_contain_text("Seats offered")

    page.select_option("#waiting-filter select[name=status]", "")
    page.select_option("#waiting-filter select[name=ticket_type]", "any")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alan@example.com")

    page.select_option("#waiting-filter select[name=ticket_type]", "")
    page.fill("#waiting-filter input[name=q]", "grace")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text("1")
    assert "q=grace" in page.url
    assert page.evaluate("window.__seatkeeperMarker") == "no reload"
