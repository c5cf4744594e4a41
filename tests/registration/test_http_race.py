"""Many attendees submit the real order form at once for the last seats.

Each contender is an HTTP client of its own against the live server: it loads
the ticket page (getting a CSRF cookie and token like a browser), waits at a
barrier, then posts the form. With the conference lock exactly the seats left
are sold and every loser gets the sold-out page; the control run without the
lock must oversell, proving the requests really race.
"""

import re
import threading
from dataclasses import dataclass

import httpx
import pytest

from capacity.services import get_global_sold_count
from registration.models import Order
from tests.factories import make_conference, make_ticket_type

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

SEATS = 4
BUYERS = 12
PAUSE_AFTER_CHECK = 0.05


@dataclass
class Answer:
    status: int
    body: str
    location: str


def post_orders_at_once(base_url, slug, ticket_slug, buyers) -> list[Answer]:
    """Every buyer loads the page, then all post the order form together."""
    barrier = threading.Barrier(buyers)
    answers, failures = [], []
    record = threading.Lock()

    def buyer(index):
        with httpx.Client(base_url=base_url, timeout=60) as client:
            try:
                page = client.get(f"/{slug}/")
                token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
                assert page.status_code == 200 and token and client.cookies.get("csrftoken")
                barrier.wait(timeout=30)
                response = client.post(
                    f"/{slug}/",
                    data={
                        "csrfmiddlewaretoken": token.group(1),
                        f"ticket-{ticket_slug}": "1",
                        "name": f"Buyer {index}",
                        "email": f"buyer{index}@example.com",
                    },
                )
            except Exception as error:  # noqa: BLE001 - reported by the test
                with record:
                    failures.append(error)
                barrier.abort()
            else:
                with record:
                    answers.append(
                        Answer(
                            response.status_code,
                            response.text,
                            response.headers.get("location", ""),
                        )
                    )

    threads = [threading.Thread(target=buyer, args=(i,)) for i in range(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not any(thread.is_alive() for thread in threads), "a buyer hung"
    assert failures == []
    return answers


@pytest.fixture
def last_seats():
    """A venue with SEATS seats left and a ticket type with no cap of its own."""
    conference = make_conference(name="Race Conf", total_capacity=SEATS)
    return conference, make_ticket_type(conference, slug="regular")


def test_concurrent_form_posts_sell_exactly_the_seats_left(live_server, settings, last_seats):
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = PAUSE_AFTER_CHECK
    conference, ticket_type = last_seats

    answers = post_orders_at_once(live_server.url, conference.slug, ticket_type.slug, BUYERS)

    assert len(answers) == BUYERS
    assert [a.status for a in answers if a.status >= 500] == []
    winners = [a for a in answers if a.status == 302]
    losers = [a for a in answers if a.status != 302]
    assert len(winners) == SEATS
    assert all("/orders/" in a.location for a in winners)
    for loser in losers:
        assert loser.status == 400
        assert "Race Conf is sold out" in loser.body
        assert re.search(r'<input[^>]*name="ticket-regular"[^>]*disabled', loser.body)
    assert Order.objects.count() == SEATS
    assert get_global_sold_count(conference) == SEATS


def test_control_without_the_lock_oversells(live_server, settings, last_seats):
    settings.SEATKEEPER_SEAT_LOCK = False
    settings.SEATKEEPER_PAUSE_AFTER_CHECK = PAUSE_AFTER_CHECK
    conference, ticket_type = last_seats

    answers = post_orders_at_once(live_server.url, conference.slug, ticket_type.slug, BUYERS)

    assert [a.status for a in answers if a.status >= 500] == []
    assert get_global_sold_count(conference) > SEATS
