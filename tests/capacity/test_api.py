"""Public answers are cached at the conference's live version: every edit is seen
by the next request, whoever made it, and an unchanged poll stays cheap."""

import re
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from capacity.models import BlockedSeats
from capacity.services import release_blocked_seats
from registration.models import Order, TicketType
from tests.factories import (
    make_addon,
    make_conference,
    make_entry,
    make_order,
    make_ticket_type,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _long_cache(settings):
    # Far longer than any test: only the version can make an answer fresh.
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def conference():
    conference = make_conference(name="Same Conf", total_capacity=20)
    make_ticket_type(conference, name="Regular", slug="regular", total_quantity=5)
    make_addon(conference, name="Dinner", slug="dinner", total_quantity=5)
    return conference


class Watcher:
    """What an attendee's browser holds: the API's answer and ETag, the poll's version."""

    def __init__(self, conference):
        self.client = Client()
        self.slug = conference.slug
        self.api()
        self.poll()

    def api(self):
        response = self.client.get(f"/api/conferences/{self.slug}/availability")
        assert response.status_code == 200
        self.answer, self.etag = response.json(), response["ETag"]
        return self.answer

    def poll(self):
        response = self.client.get(f"/{self.slug}/live/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        self.version = re.search(r"\?version=([0-9a-f]+)", response.content.decode()).group(1)
        return response.content.decode()

    def poll_is_unchanged(self):
        url = f"/{self.slug}/live/?version={self.version}"
        return self.client.get(url, HTTP_HX_REQUEST="true").status_code == 204

    def api_is_unchanged(self):
        url = f"/api/conferences/{self.slug}/availability"
        return self.client.get(url, HTTP_IF_NONE_MATCH=self.etag).status_code == 304

    def sees_change(self):
        """Both the API and the live poll answer afresh at once; fetch them again."""
        changed = not self.api_is_unchanged() and not self.poll_is_unchanged()
        self.api()
        self.poll()
        return changed


def test_an_unchanged_poll_and_api_answer_cost_one_query(conference, django_assert_num_queries):
    watcher = Watcher(conference)
    with django_assert_num_queries(1):
        assert watcher.poll_is_unchanged()
    with django_assert_num_queries(1):
        assert watcher.api_is_unchanged()


@pytest.mark.parametrize("how", ["save", "update"])
def test_a_same_length_rename_is_seen_at_once(conference, how):
    watcher = Watcher(conference)
    ticket_type = conference.ticket_types.get()
    if how == "save":
        ticket_type.name, ticket_type.slug = "Regulax", "regulax"
        ticket_type.save()
    else:
        TicketType.objects.filter(pk=ticket_type.pk).update(name="Regulax", slug="regulax")
    assert watcher.sees_change()
    assert [item["slug"] for item in watcher.answer["ticket_types"]] == ["regulax"]


@pytest.mark.parametrize("how", ["save", "update"])
def test_a_same_length_rename_of_the_conference_is_seen_at_once(conference, how):
    client = Client()
    url = f"/{conference.slug}/embed/banner/"
    assert "Same Conf" in client.get(url).content.decode()
    if how == "save":
        conference.name = "Sane Conf"
        conference.save()
    else:
        type(conference).objects.filter(pk=conference.pk).update(name="Sane Conf")
    assert "Sane Conf" in client.get(url).content.decode()


def test_a_renamed_or_deleted_conference_is_not_answered_from_the_cache(conference):
    watcher = Watcher(conference)
    type(conference).objects.filter(pk=conference.pk).update(slug="moved")
    assert watcher.client.get(f"/api/conferences/{watcher.slug}/availability").status_code == 404
    assert watcher.client.get("/api/conferences/moved/availability").status_code == 200
    type(conference).objects.filter(pk=conference.pk).delete()
    assert watcher.client.get("/moved/live/").status_code == 404
    assert watcher.client.get("/moved/").status_code == 404


def test_a_deleted_order_is_seen_at_once(conference):
    ticket_type = conference.ticket_types.get()
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 3)])
    watcher = Watcher(conference)
    assert watcher.answer["sold"] == 3
    Order.objects.filter(pk=order.pk).delete()
    assert watcher.sees_change()
    assert watcher.answer["sold"] == 0


@pytest.mark.parametrize("how", ["service", "update"])
def test_released_blocked_seats_are_seen_at_once(conference, how):
    block = BlockedSeats.objects.create(conference=conference, label="speakers", quantity=4)
    watcher = Watcher(conference)
    assert watcher.answer["remaining"] == 16
    if how == "service":
        release_blocked_seats(block=block, reason="Speakers confirmed", user=make_user())
    else:
        BlockedSeats.objects.filter(pk=block.pk).update(quantity=0)
    assert watcher.sees_change()
    assert watcher.answer["remaining"] == 20


def test_joining_the_waiting_list_is_seen_at_once(conference):
    ticket_type = conference.ticket_types.get()
    watcher = Watcher(conference)
    make_entry(conference, ticket_type, 2)
    assert watcher.sees_change()
    assert watcher.answer["waiting"] == 2


def test_a_hold_that_lapses_is_seen_at_once(conference):
    """Time alone changes nothing in the database: the version names the next lapse."""
    ticket_type = conference.ticket_types.get()
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket_type, 2)])
    lapse = timezone.now() + timedelta(seconds=1)
    Order.objects.filter(pk=order.pk).update(hold_expires_at=lapse)
    watcher = Watcher(conference)
    assert watcher.answer["held"] == 2
    assert watcher.poll_is_unchanged()
    time.sleep(max(0.0, (lapse - timezone.now()).total_seconds()) + 0.05)
    assert watcher.sees_change()
    assert watcher.answer["held"] == 0


def test_a_ticket_type_renamed_after_the_page_was_opened_can_be_ordered_at_once(conference):
    client = Client()
    assert client.get(f"/{conference.slug}/").status_code == 200  # caches the form's catalogue
    TicketType.objects.filter(conference=conference).update(slug="regulax")
    data = {"name": "Ada", "email": "ada@example.com", "ticket-regulax": "2"}
    response = client.post(f"/{conference.slug}/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    order = Order.objects.get(conference=conference)
    assert [line.ticket_type.slug for line in order.lines.all()] == ["regulax"]
