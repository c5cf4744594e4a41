"""Order POSTs are limited per client address, through the real HTTP stack."""

import re

import httpx
import pytest
from django.core.cache import cache

from registration.models import Order
from tests.factories import make_conference, make_ticket_type

pytestmark = pytest.mark.django_db(transaction=True)

POSTS = 30
RATE = 20


def test_posts_beyond_the_rate_get_429_and_write_nothing(live_server, settings, rate_window_held):
    settings.SEATKEEPER_ORDER_RATE = f"{RATE}/m"
    cache.clear()
    conference = make_conference(total_capacity=1000, max_held_seats_per_buyer=0)
    make_ticket_type(conference, slug="regular")

    statuses, orders_after = [], []
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        page = client.get(f"/{conference.slug}/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        for index in range(POSTS):
            response = client.post(
                f"/{conference.slug}/",
                data={
                    "csrfmiddlewaretoken": token,
                    "ticket-regular": "1",
                    "name": f"Buyer {index}",
                    "email": f"buyer{index}@example.com",
                },
            )
            statuses.append(response.status_code)
            orders_after.append(Order.objects.count())
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) == 60
                assert "try again in 60 seconds" in response.text
        # Reading the ticket page is not limited.
        assert client.get(f"/{conference.slug}/").status_code == 200

    assert statuses[:RATE] == [302] * RATE
    assert statuses[RATE:] == [429] * (POSTS - RATE)
    # Every refused POST wrote nothing.
    assert orders_after[RATE:] == [RATE] * (POSTS - RATE)


def test_the_rate_is_per_address(rf, settings, rate_window_held):
    from registration.views import _too_many_orders

    settings.SEATKEEPER_ORDER_RATE = "1/m"
    cache.clear()
    first = rf.post("/x/", REMOTE_ADDR="192.0.2.1")
    second = rf.post("/x/", REMOTE_ADDR="192.0.2.1")
    other = rf.post("/x/", REMOTE_ADDR="192.0.2.2")

    assert _too_many_orders(first) is None
    assert _too_many_orders(second).status_code == 429
    assert _too_many_orders(other) is None


def test_behind_the_trusted_proxy_the_forwarded_address_counts(rf):
    from config.proxy import client_address

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7")

    assert client_address(request) == "198.51.100.7"
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.1")) == "10.0.0.1"
