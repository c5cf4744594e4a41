"""What bench/sale_day.py reads off the pages it polls is still on those pages:
a reformatted template must not leave the benchmark reading nothing."""

import importlib.util
from pathlib import Path

import pytest
from django.urls import reverse

from registration.models import Order
from tests.factories import grant, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

BENCH = Path(__file__).resolve().parent.parent / "bench" / "sale_day.py"


@pytest.fixture(scope="module")
def sale_day():
    spec = importlib.util.spec_from_file_location("sale_day", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_organizers_reader_finds_the_seats_taken_on_the_dashboard(client, sale_day):
    conference = make_conference(total_capacity=40)
    regular = make_ticket_type(conference, total_quantity=40)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3)])
    organizer = grant(make_user(), "registration.manage_orders")
    conference.organizers.add(organizer)
    client.force_login(organizer)

    poll = client.get(
        reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug}),
        headers={"HX-Request": "true"},
    )

    assert sale_day.dashboard_taken(poll.content.decode(), 40, taken=-1) == 3
