"""place_order: every rule refuses with a clear message and writes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from capacity.models import BlockedSeats
from capacity.services import get_availability
from registration.models import Order, OrderLineItem
from registration.services import place_order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def order(conference, tickets, addons=None, **buyer):
    return place_order(
        conference=conference,
        email=buyer.get("email", "ada@example.com"),
        name=buyer.get("name", "Ada Lovelace"),
        tickets=tickets,
        addons=addons,
    )


def refused(conference, tickets, addons=None, *, match, **buyer):
    """Assert the order is refused with ``match`` and that nothing was written."""
    orders_before = Order.objects.count()
    lines_before = OrderLineItem.objects.count()
    with pytest.raises(ValidationError, match=match) as caught:
        order(conference, tickets, addons, **buyer)
    assert Order.objects.count() == orders_before
    assert OrderLineItem.objects.count() == lines_before
    return caught.value


@pytest.fixture
def conference():
    return make_conference(total_capacity=50, hold_minutes=20)


@pytest.fixture
def ticket(conference):
    return make_ticket_type(conference, price=Decimal("100.00"), max_per_order=5)


@pytest.fixture
def addon(conference):
    return make_addon(conference, price=Decimal("30.00"), total_quantity=3)


class TestSuccess:
    def test_creates_a_pending_order_holding_its_seats(self, conference, ticket, addon):
        before = timezone.now()
        placed = order(conference, {ticket: 2}, {addon: 1})
        after = timezone.now()

        placed.refresh_from_db()
        assert placed.status == Order.Status.PENDING
        assert placed.total == Decimal("230.00")
        assert placed.paid_at is None
        held = timedelta(minutes=20)
        assert before + held <= placed.hold_expires_at <= after + held
        assert placed.email == "ada@example.com"
        assert len(placed.reference) >= 8
        lines = {line.kind: line for line in placed.lines.all()}
        assert lines["ticket"].ticket_type == ticket
        assert (lines["ticket"].quantity, lines["ticket"].line_total) == (2, Decimal("200.00"))
        assert lines["addon"].addon == addon
        assert lines["addon"].unit_price == Decimal("30.00")

        availability = get_availability(conference)
        assert (availability.sold, availability.held, availability.remaining) == (0, 2, 48)
        assert availability.addon(addon.pk).held == 1

    def test_hold_length_follows_the_conference(self, ticket):
        conference = ticket.conference
        conference.hold_minutes = 3
        conference.save()
        placed = order(conference, {ticket: 1})
        remaining_hold = placed.hold_expires_at - timezone.now()
        assert timedelta(minutes=2, seconds=50) < remaining_hold <= timedelta(minutes=3)

    def test_keys_may_be_primary_keys(self, conference, ticket, addon):
        placed = order(conference, {ticket.pk: 1}, {str(addon.pk): 2})
        assert sorted(placed.lines.values_list("kind", "quantity")) == [("addon", 2), ("ticket", 1)]

    def test_quantities_may_be_digit_strings(self, conference, ticket):
        placed = order(conference, {ticket: " 3 "})
        assert placed.lines.get().quantity == 3

    def test_a_zero_total_order_is_paid_at_once(self, conference):
        free = make_ticket_type(conference, price=Decimal("0"))
        placed = order(conference, {free: 2})
        placed.refresh_from_db()
        assert placed.status == Order.Status.PAID
        assert placed.paid_at is not None
        assert placed.total == 0
        availability = get_availability(conference)
        assert (availability.sold, availability.held) == (2, 0)

    def test_exactly_the_last_seats_can_be_bought(self, conference, ticket):
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 47)])
        order(conference, {ticket: 3})
        assert get_availability(conference).sold_out

    def test_expired_holds_free_their_seats_for_others(self, conference, ticket):
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 45)])
        make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(ticket, 5)])
        order(conference, {ticket: 5})
        assert get_availability(conference).remaining == 0

    def test_the_buyer_is_cleaned(self, conference, ticket):
        placed = order(conference, {ticket: 1}, name="  Grace Hopper ", email=" g@example.com ")
        assert (placed.name, placed.email) == ("Grace Hopper", "g@example.com")


class TestSaleRules:
    def test_an_inactive_ticket_type(self, conference):
        retired = make_ticket_type(conference, name="Retired", is_active=False)
        refused(conference, {retired: 1}, match="Retired is not available")

    def test_before_available_from(self, conference):
        soon = make_ticket_type(
            conference, name="Late Bird", available_from=timezone.now() + timedelta(hours=2)
        )
        refused(conference, {soon: 1}, match="Late Bird is not on sale yet")

    def test_after_available_until(self, conference):
        gone = make_ticket_type(
            conference, name="Early Bird", available_until=timezone.now() - timedelta(seconds=1)
        )
        refused(conference, {gone: 1}, match="Sales of Early Bird have ended")

    def test_inside_the_window(self, conference):
        now = timezone.now()
        window = make_ticket_type(
            conference,
            available_from=now - timedelta(hours=1),
            available_until=now + timedelta(hours=1),
        )
        assert order(conference, {window: 1}).status == Order.Status.PENDING

    def test_an_inactive_addon(self, conference, ticket):
        shirt = make_addon(conference, name="Shirt", is_active=False)
        refused(conference, {ticket: 1}, {shirt: 1}, match="Shirt is not available")


class TestOwnership:
    def test_another_conferences_ticket_type(self, conference, ticket):
        elsewhere = make_conference(name="OtherCon")
        foreign = make_ticket_type(elsewhere, name="Foreign Pass")
        refused(conference, {foreign: 1}, match="Foreign Pass is not sold for")
        refused(conference, {foreign.pk: 1}, match="Foreign Pass is not sold for")
        refused(conference, {ticket: 1, foreign: 1}, match="Foreign Pass is not sold for")

    def test_another_conferences_addon(self, conference, ticket):
        foreign = make_addon(make_conference(), name="Foreign Dinner")
        refused(conference, {ticket: 1}, {foreign: 1}, match="Foreign Dinner is not sold for")

    @pytest.mark.parametrize("key", [999_999, -1, 0, "vip", None, 10**30, "1.5"])
    def test_an_unknown_ticket_type(self, conference, key):
        refused(conference, {key: 1}, match="Unknown ticket type")

    def test_an_unknown_addon(self, conference, ticket):
        refused(conference, {ticket: 1}, {"dinner": 1}, match="Unknown add-on")


class TestTicketsRequired:
    def test_an_addon_without_a_ticket(self, conference, addon):
        refused(conference, {}, {addon: 1}, match="together with at least one ticket")

    @pytest.mark.parametrize("tickets", [{}, None])
    def test_nothing_at_all(self, conference, tickets):
        refused(conference, tickets, match="Choose at least one ticket")


class TestQuantities:
    @pytest.mark.parametrize("quantity", [0, -1, "-3", "0"])
    def test_zero_or_negative(self, conference, ticket, quantity):
        refused(conference, {ticket: quantity}, match=f"Choose at least 1 of {ticket.name}")

    @pytest.mark.parametrize("quantity", [6, 10**6, 10**30, "99999999999999999999999"])
    def test_over_max_per_order_or_huge(self, conference, ticket, quantity):
        refused(conference, {ticket: quantity}, match=f"At most 5 of {ticket.name} per order")

    @pytest.mark.parametrize("quantity", ["abc", "", "2.5", 2.5, None, "1e3", True, [1]])
    def test_not_a_whole_number(self, conference, ticket, quantity):
        refused(conference, {ticket: quantity}, match="must be a whole number")

    def test_max_per_order_counts_a_type_given_twice(self, conference, ticket):
        refused(conference, {ticket: 3, ticket.pk: 3}, match="At most 5")

    def test_exactly_max_per_order_passes(self, conference, ticket):
        assert order(conference, {ticket: 5}).lines.get().quantity == 5

    @pytest.mark.parametrize("quantity", [0, -2, 11, "x"])
    def test_bad_addon_quantity(self, conference, ticket, addon, quantity, settings):
        settings.SEATKEEPER_ADDON_MAX_PER_ORDER = 10
        addon.total_quantity = 0
        addon.save()
        refused(conference, {ticket: 1}, {addon: quantity}, match=f"{addon.name}|whole number")


class TestStock:
    def test_per_type_stock(self, conference):
        limited = make_ticket_type(conference, name="Patron", total_quantity=4)
        make_order(conference, Order.Status.PAID, tickets=[(limited, 2)])
        make_order(conference, Order.Status.PENDING, tickets=[(limited, 1)])
        refused(conference, {limited: 2}, match="Only 1 tickets remaining for Patron")
        order(conference, {limited: 1})
        refused(conference, {limited: 1}, match="Patron is sold out")

    def test_per_type_blocked_seats(self, conference):
        limited = make_ticket_type(conference, name="Patron", total_quantity=4)
        BlockedSeats.objects.create(
            conference=conference, ticket_type=limited, label="sponsors", quantity=4
        )
        refused(conference, {limited: 1}, match="Patron is sold out")

    def test_addon_stock(self, conference, ticket, addon):
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)], addons=[(addon, 2)])
        refused(conference, {ticket: 1}, {addon: 2}, match=f"Only 1 left of {addon.name}")
        order(conference, {ticket: 1}, {addon: 1})
        refused(conference, {ticket: 1}, {addon: 1}, match=f"{addon.name} is sold out")

    def test_addons_do_not_use_venue_seats(self, ticket):
        conference = ticket.conference
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 49)])
        shirt = make_addon(conference, total_quantity=0)
        order(conference, {ticket: 1}, {shirt: 10})
        assert get_availability(conference).remaining == 0

    def test_venue_cap_one_over(self, conference, ticket):
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 48)])
        refused(conference, {ticket: 3}, match="Only 2 tickets remaining")

    def test_venue_cap_sums_all_ticket_types(self, conference, ticket):
        other = make_ticket_type(conference)
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 46)])
        refused(conference, {ticket: 3, other: 2}, match="Only 4 tickets remaining")

    def test_venue_sold_out(self, conference, ticket):
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 30)])
        make_order(conference, Order.Status.PENDING, tickets=[(ticket, 20)])
        error = refused(conference, {ticket: 1}, match="sold out")
        assert "50" in " ".join(error.messages)

    def test_venue_blocked_seats(self, conference, ticket):
        BlockedSeats.objects.create(conference=conference, label="speakers", quantity=49)
        refused(conference, {ticket: 2}, match="Only 1 tickets remaining")

    def test_every_problem_is_reported(self, conference, ticket, addon):
        retired = make_ticket_type(conference, name="Retired", is_active=False)
        error = refused(conference, {ticket: 9, retired: 1}, {addon: 4}, match="At most 5")
        assert len(error.messages) == 3


class TestBuyer:
    @pytest.mark.parametrize(
        ("name", "email", "match"),
        [
            ("", "ada@example.com", "Enter your name"),
            ("   ", "ada@example.com", "Enter your name"),
            ("x" * 201, "ada@example.com", "too long"),
            ("Ada", "not-an-email", "valid email"),
            ("Ada", "", "valid email"),
        ],
    )
    def test_bad_buyer(self, conference, ticket, name, email, match):
        refused(conference, {ticket: 1}, name=name, email=email, match=match)
