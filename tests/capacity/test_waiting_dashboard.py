"""The waiting list on the organizer dashboard: the numbers in the widgets, the
version that makes a poll redraw them, and a poll's cost."""

import re
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from capacity.widgets import LiveDashboard, widget_versions
from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

MINUTE = datetime(2027, 3, 1, 10, 0, 5, tzinfo=UTC)


def dashboard_version(conference, *, now):
    """Every widget's version at ``now``, as the ETag carries them."""
    return widget_versions(conference, now=now).versions


def sold_out_conference():
    """Five seats, all sold: four in one order, one in another."""
    conference = make_conference(total_capacity=5)
    ticket = make_ticket_type(conference, slug="regular", name="Regular")
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
    single = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    return conference, ticket, single


def join(conference, email, *, quantity=1, ticket_type=None):
    return services.join_waiting_list(
        conference=conference,
        email=email,
        name=email.split("@")[0].title(),
        quantity=quantity,
        ticket_type=ticket_type,
    )


@pytest.fixture
def organizer_client(client):
    organizer = make_user()
    client.force_login(organizer)
    client.organizer = organizer
    return client


@pytest.fixture
def line(organizer_client):
    """A sold-out conference: one offer open (1 seat), two waiting for the
    ticket type (2 + 1 seats) and one for any ticket type (1 seat)."""
    conference, ticket, single = sold_out_conference()
    conference.organizers.add(organizer_client.organizer)
    offered = join(conference, "ada@example.com", ticket_type=ticket)
    join(conference, "grace@example.com", quantity=2, ticket_type=ticket)
    join(conference, "alan@example.com", ticket_type=ticket)
    join(conference, "edsger@example.com")
    services.cancel_order(single)
    offered.refresh_from_db()
    assert offered.status == WaitingListEntry.Status.OFFERED
    return conference, ticket


def element(html, element_id):
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>.*?</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(0))).strip()


def test_the_summary_counts_people_seats_and_open_offers(line):
    conference, ticket = line
    dash = LiveDashboard(conference)
    row = next(row for row in dash.ticket_rows if row.item.pk == ticket.pk)
    assert (row.waiting.people, row.waiting.seats, row.waiting.offers) == (2, 3, 1)
    venue = dash.waiting.venue
    assert (venue.people, venue.seats, venue.offers) == (3, 4, 1)
    assert dash.waiting_for_any.people == 1


def test_the_dashboard_shows_who_waits_for_the_venue_and_each_ticket_type(organizer_client, line):
    conference, ticket = line
    html = organizer_client.get(
        reverse("capacity:dashboard", kwargs={"slug": conference.slug})
    ).content.decode()

    assert element(html, "venue-waiting") == (
        "Waiting list: 3 waiting for 4 seats (1 for any ticket type) · 1 offer open"
    )
    assert 'data-people="3" data-seats="4" data-offers="1"' in html
    row = re.search(r'<tr id="ticket-type-regular".*?</tr>', html, re.S).group(0)
    assert "Sold out" in row
    assert re.search(r'data-field="waiting-people">2 waiting</span>\s*for 3 seats', row)
    assert 'data-field="offers">1 offer open<' in row
    waiting_page = reverse("capacity:waiting-list", kwargs={"slug": conference.slug})
    assert f'href="{waiting_page}"' in html


def test_the_poll_redraws_the_waiting_numbers(organizer_client, line):
    conference, ticket = line
    poll = reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})
    before = organizer_client.get(poll, headers={"HX-Request": "true"})
    assert "3 waiting" in element(before.content.decode(), "venue-waiting")

    join(conference, "barbara@example.com", ticket_type=ticket)
    after = organizer_client.get(
        poll, headers={"HX-Request": "true", "If-None-Match": before["ETag"]}
    )

    assert after.status_code == 200
    html = after.content.decode()
    assert re.search(r'<p id="venue-waiting"[^>]*>', html)
    assert "4 waiting for 5 seats" in element(html, "venue-waiting")
    row = re.search(r'<tr id="ticket-type-regular".*?</tr>', html, re.S).group(0)
    assert ">3 waiting<" in row


def test_nobody_waiting_shows_zero_and_no_row_marker(organizer_client):
    conference = make_conference(total_capacity=10)
    make_ticket_type(conference, slug="regular")
    conference.organizers.add(organizer_client.organizer)
    html = organizer_client.get(
        reverse("capacity:dashboard", kwargs={"slug": conference.slug})
    ).content.decode()
    assert element(html, "venue-waiting") == "Waiting list: 0 waiting"
    assert 'data-field="waiting"' not in html


def test_the_version_moves_when_someone_joins_gets_an_offer_or_leaves():
    conference, ticket, single = sold_out_conference()
    versions = [dashboard_version(conference, now=MINUTE)]

    entry = join(conference, "ada@example.com", ticket_type=ticket)
    versions.append(dashboard_version(conference, now=MINUTE))
    other = join(conference, "grace@example.com", ticket_type=ticket)
    versions.append(dashboard_version(conference, now=MINUTE))

    services.cancel_order(single)  # frees a seat: offered to Ada
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.OFFERED
    versions.append(dashboard_version(conference, now=MINUTE))

    services.leave_waiting_list(other)
    versions.append(dashboard_version(conference, now=MINUTE))

    assert len({tuple(sorted(version.items())) for version in versions}) == len(versions)


def test_the_version_moves_on_a_status_change_alone_and_on_a_deletion():
    conference, ticket, _ = sold_out_conference()
    entry = join(conference, "ada@example.com", ticket_type=ticket)
    before = dashboard_version(conference, now=MINUTE)
    WaitingListEntry.objects.filter(pk=entry.pk).update(
        status=WaitingListEntry.Status.LEFT, updated_at=MINUTE
    )
    changed = dashboard_version(conference, now=MINUTE)
    assert changed != before
    WaitingListEntry.objects.filter(pk=entry.pk).delete()
    assert dashboard_version(conference, now=MINUTE) != changed


def test_another_conferences_waiting_list_does_not_move_the_version():
    conference, _, _ = sold_out_conference()
    other, other_ticket, _ = sold_out_conference()
    before = dashboard_version(conference, now=MINUTE)
    join(other, "ada@example.com", ticket_type=other_ticket)
    assert dashboard_version(conference, now=MINUTE) == before


def conference_with_waiting(organizer, ticket_types):
    conference = make_conference(total_capacity=10_000)
    conference.organizers.add(organizer)
    for n in range(ticket_types):
        ticket = make_ticket_type(conference, total_quantity=2)
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 2)])
        for m in range(2):
            join(conference, f"person{n}-{m}@example.com", quantity=1 + m, ticket_type=ticket)
    join(conference, "anyone@example.com", quantity=1)
    return conference


def test_waiting_numbers_cost_the_same_queries_for_3_or_30_ticket_types(organizer_client):
    small = conference_with_waiting(organizer_client.organizer, 3)
    large = conference_with_waiting(organizer_client.organizer, 30)
    for name in ("capacity:dashboard", "capacity:dashboard-poll"):
        counts = []
        for conference, people in ((small, 7), (large, 61)):
            url = reverse(name, kwargs={"slug": conference.slug})
            with CaptureQueriesContext(connection) as captured:
                response = organizer_client.get(url, headers={"HX-Request": "true"})
            assert f"{people} waiting" in element(response.content.decode(), "venue-waiting")
            counts.append(len(captured))
        assert counts[0] == counts[1], name
