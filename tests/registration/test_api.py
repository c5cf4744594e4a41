"""GET /api/conferences/<slug>/availability: the availability snapshot as JSON."""

import pytest
from django.core.cache import cache

from capacity.models import BlockedSeats
from capacity.services import block_seats, override_capacity, release_blocked_seats
from registration import services
from registration.models import Order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def availability(client, slug):
    response = client.get(f"/api/conferences/{slug}/availability")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_answer_has_exactly_the_documented_shape_and_counts(client):
    conference = make_conference(total_capacity=50)
    regular = make_ticket_type(conference, slug="regular", total_quantity=30)
    open_ended = make_ticket_type(conference, slug="open-ended")
    dinner = make_addon(conference, slug="dinner", total_quantity=8)
    shirt = make_addon(conference, slug="shirt")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3)], addons=[(dinner, 2)])
    make_order(conference, Order.Status.PENDING, tickets=[(regular, 2), (open_ended, 1)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 9)])
    make_order(conference, Order.Status.CANCELLED, tickets=[(regular, 9)], addons=[(shirt, 1)])

    assert availability(client, conference.slug) == {
        "capacity": 50,
        "sold": 3,
        "held": 3,
        "remaining": 44,
        "sold_out": False,
        "waiting": 0,
        "ticket_types": [
            {
                "slug": "regular",
                "capacity": 30,
                "sold": 3,
                "held": 2,
                "remaining": 25,
                "sold_out": False,
                "waiting": 0,
            },
            {
                "slug": "open-ended",
                "capacity": None,
                "sold": 0,
                "held": 1,
                "remaining": 44,
                "sold_out": False,
                "waiting": 0,
            },
        ],
        "addons": [
            {
                "slug": "dinner",
                "capacity": 8,
                "sold": 2,
                "held": 0,
                "remaining": 6,
                "sold_out": False,
            },
            {
                "slug": "shirt",
                "capacity": None,
                "sold": 0,
                "held": 0,
                "remaining": None,
                "sold_out": False,
            },
        ],
    }


def test_ticket_type_remaining_is_the_smaller_of_its_own_and_the_venue(client):
    conference = make_conference(total_capacity=5)
    big = make_ticket_type(conference, slug="big", total_quantity=100)
    make_ticket_type(conference, slug="small", total_quantity=2)
    make_order(conference, tickets=[(big, 2)])
    data = availability(client, conference.slug)
    remaining = {item["slug"]: item["remaining"] for item in data["ticket_types"]}
    assert data["remaining"] == 3
    assert remaining == {"big": 3, "small": 2}


def test_unlimited_venue_and_type_give_null(client):
    conference = make_conference(total_capacity=0)
    make_ticket_type(conference, slug="any")
    make_ticket_type(conference, slug="few", total_quantity=4)
    data = availability(client, conference.slug)
    assert data["capacity"] is None and data["remaining"] is None
    assert data["sold_out"] is False
    assert [(t["slug"], t["capacity"], t["remaining"]) for t in data["ticket_types"]] == [
        ("any", None, None),
        ("few", 4, 4),
    ]


def test_sold_out_venue_sells_out_every_ticket_type(client):
    conference = make_conference(total_capacity=3)
    regular = make_ticket_type(conference, slug="regular")
    make_ticket_type(conference, slug="vip", total_quantity=10)
    make_order(conference, tickets=[(regular, 3)])
    data = availability(client, conference.slug)
    assert data["remaining"] == 0 and data["sold_out"] is True
    assert [(t["remaining"], t["sold_out"]) for t in data["ticket_types"]] == [(0, True), (0, True)]


def test_blocked_seats_count_as_taken(client):
    conference = make_conference(total_capacity=10)
    make_ticket_type(conference, slug="regular")
    BlockedSeats.objects.create(conference=conference, label="speakers", quantity=4)
    assert availability(client, conference.slug)["remaining"] == 6


def test_inactive_items_are_not_listed(client):
    conference = make_conference()
    make_ticket_type(conference, slug="on")
    make_ticket_type(conference, slug="off", is_active=False)
    make_addon(conference, slug="gone", is_active=False)
    data = availability(client, conference.slug)
    assert [t["slug"] for t in data["ticket_types"]] == ["on"]
    assert data["addons"] == []


def test_unknown_slug_is_a_json_404(client):
    response = client.get("/api/conferences/no-such-conf/availability")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "no-such-conf" in response.json()["error"]


def test_trailing_slash_works_too(client):
    conference = make_conference(total_capacity=7)
    response = client.get(f"/api/conferences/{conference.slug}/availability/")
    assert response.json()["capacity"] == 7


def test_post_is_not_allowed(client):
    conference = make_conference()
    assert client.post(f"/api/conferences/{conference.slug}/availability").status_code == 405


def test_cache_control_matches_the_cache_time(client, settings):
    conference = make_conference()
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    response = client.get(f"/api/conferences/{conference.slug}/availability")
    assert "max-age=2" in response["Cache-Control"]
    assert "public" in response["Cache-Control"]
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 0
    response = client.get(f"/api/conferences/{conference.slug}/availability")
    assert "no-cache" in response["Cache-Control"]


def test_a_cached_answer_costs_one_query_the_conference_with_its_version(
    client, settings, django_assert_num_queries
):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference = make_conference(total_capacity=9)
    first = availability(client, conference.slug)
    with django_assert_num_queries(1):
        assert availability(client, conference.slug) == first
    with django_assert_num_queries(1):
        assert client.get("/api/conferences/not-here/availability").status_code == 404


def test_an_unchanged_answer_is_a_304_for_its_etag(client, settings, django_assert_num_queries):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference = make_conference(total_capacity=9)
    url = f"/api/conferences/{conference.slug}/availability"
    etag = client.get(url)["ETag"]
    with django_assert_num_queries(1):
        assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    make_ticket_type(conference, slug="late")
    response = client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response["ETag"] != etag
    assert [t["slug"] for t in response.json()["ticket_types"]] == ["late"]


def test_a_new_order_is_seen_at_once_despite_the_cache(client, settings):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference = make_conference(total_capacity=9)
    regular = make_ticket_type(conference, slug="regular")
    assert availability(client, conference.slug)["sold"] == 0
    order = services.place_order(
        conference=conference, email="a@example.com", name="A", tickets={regular: 2}
    )
    assert availability(client, conference.slug)["held"] == 2
    services.mark_paid(order)
    data = availability(client, conference.slug)
    assert (data["sold"], data["held"], data["remaining"]) == (2, 0, 7)


def test_capacity_overrides_are_seen_at_once_despite_the_cache(client, settings):
    """Overrides write with ``QuerySet.update()``; their audit record moves the version."""
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 2
    conference = make_conference(total_capacity=4)
    regular = make_ticket_type(conference, slug="regular", total_quantity=4)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 4)])
    organizer = make_user()
    assert availability(client, conference.slug)["sold_out"] is True

    override_capacity(target=conference, total=6, reason="Fire marshal", user=organizer)
    override_capacity(target=regular, total=6, reason="More chairs", user=organizer)
    data = availability(client, conference.slug)
    assert (data["capacity"], data["remaining"], data["ticket_types"][0]["remaining"]) == (6, 2, 2)

    block = block_seats(
        conference=conference, quantity=2, label="speakers", reason="Talks", user=organizer
    )
    assert availability(client, conference.slug)["remaining"] == 0
    release_blocked_seats(block=block, quantity=1, reason="One fewer speaker", user=organizer)
    assert availability(client, conference.slug)["remaining"] == 1
