"""The management commands: seed_demo and expire_holds."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command

from capacity.services import get_availability
from conference.models import Conference
from registration.models import Order
from tests.factories import make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def run(command, *args):
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


class TestSeedDemo:
    def test_creates_a_demo_conference_with_a_realistic_mix(self):
        output = run("seed_demo")

        conference = Conference.objects.get(slug="pyseat-2027")
        assert conference.ticket_types.count() == 4
        assert conference.addons.count() == 3
        statuses = set(conference.orders.values_list("status", flat=True))
        assert statuses == set(Order.Status.values)
        live = conference.orders.filter(status=Order.Status.PENDING)
        assert all(order.hold_is_live() for order in live)
        assert conference.orders.filter(status=Order.Status.PAID).count() >= 40

        availability = get_availability(conference)
        assert 0 < availability.sold
        assert availability.held > 0
        assert availability.sold + availability.held <= availability.capacity
        for item in availability.ticket_types + availability.addons:
            assert item.capacity is None or item.sold + item.held <= item.capacity
        assert f"{availability.sold} sold" in output

    def test_prints_a_login_that_works(self):
        output = run("seed_demo")

        assert "Login:        admin / seatkeeper-demo" in output
        user = authenticate(username="admin", password="seatkeeper-demo")
        assert user is not None
        assert user.is_superuser and user.is_staff
        assert Conference.objects.get(slug="pyseat-2027").is_organized_by(user)

    def test_is_idempotent(self):
        run("seed_demo")
        orders = set(Order.objects.values_list("reference", "status"))

        output = run("seed_demo")

        assert Conference.objects.filter(slug="pyseat-2027").count() == 1
        assert get_user_model().objects.filter(username="admin").count() == 1
        assert set(Order.objects.values_list("reference", "status")) == orders
        assert "admin / seatkeeper-demo" in output

    def test_restores_the_admin_login(self):
        run("seed_demo")
        admin = get_user_model().objects.get(username="admin")
        admin.set_password("forgotten")
        admin.is_active = False
        admin.save()

        run("seed_demo")

        assert authenticate(username="admin", password="seatkeeper-demo") is not None


class TestExpireHolds:
    def test_expires_lapsed_holds_and_says_how_many(self):
        conference = make_conference()
        ticket = make_ticket_type(conference)
        first = make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket, 1)])
        second = make_order(
            conference, Order.Status.PENDING, hold_minutes=-9, tickets=[(ticket, 2)]
        )
        live = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])

        assert run("expire_holds").strip() == "Expired 2 order(s)."

        assert Order.objects.get(pk=first.pk).status == Order.Status.EXPIRED
        assert Order.objects.get(pk=second.pk).status == Order.Status.EXPIRED
        assert Order.objects.get(pk=live.pk).status == Order.Status.PENDING
        assert run("expire_holds").strip() == "Expired 0 order(s)."
