"""The organizers' waiting-list page: who may see it, line order and places,
filters, the htmx partial and the CSV export."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.waiting import place_in_line, places_in_line
from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

Status = WaitingListEntry.Status


def url(conference, **params):
    base = reverse("capacity:waiting-list", kwargs={"slug": conference.slug})
    if params:
        base += "?" + "&".join(f"{key}={value}" for key, value in params.items())
    return base


def entry_ids(response):
    return [int(pk) for pk in re.findall(r'<tr[^>]*data-entry="(\d+)"', response.content.decode())]


def cells(response, entry):
    row = re.search(
        rf'<tr[^>]*data-entry="{entry.pk}"[^>]*>(.*?)</tr>', response.content.decode(), re.S
    ).group(1)
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", cell)).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def add_entry(conference, ticket_type=None, *, status=Status.WAITING, minutes_ago=0, **fields):
    """An entry written directly, joined ``minutes_ago`` minutes ago."""
    n = WaitingListEntry.objects.count() + 1
    values = {"email": f"person{n}@example.com", "name": f"Person {n}", "quantity": 1}
    values.update(fields)
    if status == Status.OFFERED and "order" not in values:
        values["order"] = make_order(conference, Order.Status.PENDING, hold_minutes=60)
    return WaitingListEntry.objects.create(
        conference=conference,
        ticket_type=ticket_type,
        status=status,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
        **values,
    )


@pytest.fixture
def ticket(conference):
    return make_ticket_type(conference, name="Regular", slug="regular")


@pytest.fixture
def organizer_client(client, conference):
    user = make_user()
    conference.organizers.add(user)
    client.force_login(user)
    return client


@pytest.fixture
def line(conference, ticket):
    """Oldest first: Regular ×1, any ×2, Regular ×1 (offered), Workshop ×1, Regular ×3."""
    workshop = make_ticket_type(conference, name="Workshop", slug="workshop")
    return {
        "first": add_entry(conference, ticket, minutes_ago=50),
        "any": add_entry(conference, None, minutes_ago=40, quantity=2),
        "offered": add_entry(conference, ticket, status=Status.OFFERED, minutes_ago=30),
        "workshop": add_entry(conference, workshop, minutes_ago=20),
        "last": add_entry(conference, ticket, minutes_ago=10, quantity=3),
        "workshop_type": workshop,
    }


# --- who may see it ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_login_page(client, conference):
    response = client.get(url(conference))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_someone_who_does_not_organize_the_conference_gets_403(client, conference, line):
    client.force_login(make_user(is_staff=True))
    response = client.get(url(conference))
    assert response.status_code == 403
    assert "Person" not in response.content.decode()
    assert client.get(url(conference, _export="csv")).status_code == 403


def test_the_page_is_private_and_never_stored(organizer_client, conference):
    response = organizer_client.get(url(conference))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert "HX-Request" in response["Vary"]
    export = organizer_client.get(url(conference, _export="csv"))
    assert "no-store" in export["Cache-Control"]


def test_an_unknown_conference_is_404(organizer_client):
    assert organizer_client.get("/dashboard/no-such-conf/waiting/").status_code == 404


# --- what it shows ----------------------------------------------------------------------


def test_entries_in_line_order_with_their_places(organizer_client, conference, line):
    response = organizer_client.get(url(conference))
    assert entry_ids(response) == [
        line[key].pk for key in ("first", "any", "offered", "workshop", "last")
    ]
    places = {key: cells(response, line[key])[0] for key in ("first", "any", "offered", "last")}
    # Regular: the first, then "any"; the offered entry has no place; the last is third.
    assert places == {"first": "1", "any": "2", "offered": "—", "last": "3"}
    assert cells(response, line["workshop"])[0] == "2"  # behind "any"
    assert cells(response, line["any"])[4] == "Any"
    assert 'id="waiting-count" data-value="5"' in response.content.decode()


def test_bulk_places_agree_with_place_in_line(conference, line):
    add_entry(conference, line["workshop_type"], minutes_ago=5)
    add_entry(conference, None, minutes_ago=1)
    add_entry(conference, None, status=Status.LEFT, minutes_ago=45)
    places = places_in_line(conference)
    for entry in WaitingListEntry.objects.filter(conference=conference):
        assert places.get(entry.pk) == place_in_line(entry), entry


def test_an_offer_links_to_the_order_and_shows_its_deadline(organizer_client, conference, line):
    offered = line["offered"]
    response = organizer_client.get(url(conference))
    order_url = reverse(
        "capacity:order", kwargs={"slug": conference.slug, "reference": offered.order.reference}
    )
    assert f'href="{order_url}"' in response.content.decode()
    row = cells(response, offered)
    assert row[6] == "Seats offered"
    assert row[7] == offered.order.reference
    deadline = timezone.localtime(offered.order.hold_expires_at)
    assert row[8] == deadline.strftime("%-d %b %Y, %H:%M")  # SHORT_DATETIME_FORMAT


def test_the_dashboard_links_to_the_waiting_list(organizer_client, conference):
    html = organizer_client.get(
        reverse("capacity:dashboard", kwargs={"slug": conference.slug})
    ).content.decode()
    assert f'href="{url(conference)}"' in html


def test_other_conferences_entries_are_not_listed(organizer_client, conference, line):
    other = make_conference()
    stranger = add_entry(other, make_ticket_type(other))
    ids = entry_ids(organizer_client.get(url(conference)))
    assert stranger.pk not in ids and len(ids) == 5


# --- filters, sorting, paging --------------------------------------------------------------


def test_filter_by_status_ticket_type_and_search(organizer_client, conference, line):
    def listed(**params):
        return entry_ids(organizer_client.get(url(conference, **params)))

    assert listed(status="offered") == [line["offered"].pk]
    assert listed(ticket_type="any") == [line["any"].pk]
    assert listed(ticket_type=line["workshop_type"].pk) == [line["workshop"].pk]
    assert listed(ticket_type=line["first"].ticket_type_id, status="waiting") == [
        line["first"].pk,
        line["last"].pk,
    ]
    assert listed(q=line["last"].email.upper()) == [line["last"].pk]
    assert listed(q="nobody-like-this") == []


def test_bad_filter_input_is_explained_and_filters_nothing(organizer_client, conference, line):
    other_type = make_ticket_type(make_conference())
    for params in (
        {"status": "bogus"},
        {"ticket_type": "abc"},
        {"ticket_type": other_type.pk},
        {"page": "abc", "per_page": "99999", "sort": "secret"},
    ):
        response = organizer_client.get(url(conference, **params))
        assert response.status_code == 200, params
        assert len(entry_ids(response)) == 5, params
    assert (
        "Select a valid choice"
        in organizer_client.get(url(conference, status="x")).content.decode()
    )


def test_sort_by_seats_and_page(organizer_client, conference, ticket):
    for n in range(30):
        add_entry(conference, ticket, minutes_ago=60 - n, quantity=1 + n % 3)
    first = organizer_client.get(url(conference))
    assert len(entry_ids(first)) == 25
    assert len(entry_ids(organizer_client.get(url(conference, page=2)))) == 5
    by_seats = organizer_client.get(url(conference, sort="-quantity", per_page=100))
    quantities = [WaitingListEntry.objects.get(pk=pk).quantity for pk in entry_ids(by_seats)]
    assert quantities == sorted(quantities, reverse=True)


def test_htmx_request_gets_only_the_table_partial(organizer_client, conference, line):
    response = organizer_client.get(url(conference, sort="name"), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="waiting-results"')
    assert "<html" not in html
    assert 'hx-target="#waiting-results"' in html


# --- CSV ----------------------------------------------------------------------------------


def test_csv_export_of_the_filtered_entries_is_spreadsheet_safe(organizer_client, conference, line):
    line["first"].name = "=HYPERLINK(1)"
    line["first"].email = "+cmd@example.com"
    line["first"].save()
    for _ in range(30):
        add_entry(conference, None, minutes_ago=5, status=Status.LEFT)

    response = organizer_client.get(url(conference, status="waiting", _export="csv", page=2))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="{conference.slug}-waiting-list.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == [
        "Place", "Joined", "Name", "Email", "Ticket type", "Seats", "Status", "Offer",
        "Offer until",
    ]  # fmt: skip
    assert len(rows) == 1 + 4  # every waiting entry, not one page
    first = rows[1]
    assert first[0] == "1"
    assert first[2] == "'=HYPERLINK(1)" and first[3] == "'+cmd@example.com"
    assert first[4] == "Regular" and first[5] == "1" and first[6] == "Waiting"
    assert rows[2][4] == "Any" and rows[2][5] == "2"
    assert {row[6] for row in rows[1:]} == {"Waiting"}


def test_csv_export_shows_the_offer(organizer_client, conference, line):
    offered = line["offered"]
    response = organizer_client.get(url(conference, status="offered", _export="csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    assert rows[1][0] == ""
    assert rows[1][7] == offered.order.reference
    deadline = timezone.localtime(offered.order.hold_expires_at).isoformat(timespec="seconds")
    assert rows[1][8] == deadline


def test_a_ticket_type_named_like_a_formula_is_exported_inert(organizer_client, conference):
    formula = make_ticket_type(conference, name="@SUM(A1)")
    add_entry(conference, formula)
    response = organizer_client.get(url(conference, _export="csv"))
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][4] == "'@SUM(A1)"


def test_export_in_another_format_is_refused_with_a_message(organizer_client, conference):
    response = organizer_client.get(url(conference, _export="xlsx"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "CSV only" in response.content.decode()


def test_people_who_joined_through_the_service_are_listed(organizer_client, conference, ticket):
    conference.total_capacity = 2
    conference.save()
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 2)])
    entry = services.join_waiting_list(
        conference=conference, email="ada@example.com", name="Ada", ticket_type=ticket
    )
    response = organizer_client.get(url(conference))
    assert entry_ids(response) == [entry.pk]
    assert cells(response, entry)[:7][2:] == ["Ada", "ada@example.com", "Regular", "1", "Waiting"]
