"""Model invariants the database enforces, and the ones set when a row is written."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from conference.models import Conference, validate_slug_not_reserved, validate_timezone
from registration.models import AddOn, Order, OrderLineItem, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def rejected_by_the_database():
    """Expect an IntegrityError; wrap the write in transaction.atomic so the test can go on."""
    return pytest.raises(IntegrityError)


class TestOrderConstraints:
    def test_a_pending_order_without_a_hold_is_rejected(self):
        conference = make_conference()
        with rejected_by_the_database(), transaction.atomic():
            Order.objects.create(
                conference=conference,
                status=Order.Status.PENDING,
                email="a@example.com",
                name="A",
                reference="NO-HOLD-0000000001",
                hold_expires_at=None,
            )
        assert not Order.objects.exists()

    def test_a_pending_order_cannot_lose_its_hold(self):
        order = make_order(make_conference(), Order.Status.PENDING)
        with rejected_by_the_database(), transaction.atomic():
            Order.objects.filter(pk=order.pk).update(hold_expires_at=None)

    @pytest.mark.parametrize(
        "status", [s for s in Order.Status.values if s != Order.Status.PENDING]
    )
    def test_other_statuses_need_no_hold(self, status):
        order = Order.objects.create(
            conference=make_conference(),
            status=status,
            email="a@example.com",
            name="A",
            reference=f"NO-HOLD-{status}"[:32],
            hold_expires_at=None,
        )
        assert order.pk

    def test_the_spec_way_of_building_an_order_works(self):
        order = Order.objects.create(
            conference=make_conference(),
            status=Order.Status.PENDING,
            email="a@example.com",
            name="A",
            reference="SPEC-REFERENCE-16CH",
            hold_expires_at=timezone.now(),
        )
        order.refresh_from_db()
        assert order.total == 0
        assert len(order.secret) >= 20
        assert order.reference == "SPEC-REFERENCE-16CH"

    def test_references_and_secrets_are_unique_by_default(self):
        conference = make_conference()
        orders = [
            Order.objects.create(
                conference=conference, status=Order.Status.PAID, email="a@example.com", name="A"
            )
            for _ in range(20)
        ]
        assert len({order.reference for order in orders}) == 20
        assert len({order.secret for order in orders}) == 20

    def test_a_duplicate_reference_is_rejected(self):
        first = make_order(make_conference())
        with rejected_by_the_database(), transaction.atomic():
            Order.objects.create(
                conference=first.conference,
                status=Order.Status.PAID,
                email="b@example.com",
                name="B",
                reference=first.reference,
            )

    def test_a_negative_total_is_rejected(self):
        with rejected_by_the_database(), transaction.atomic():
            Order.objects.create(
                conference=make_conference(),
                status=Order.Status.PAID,
                email="a@example.com",
                name="A",
                total=Decimal("-1"),
            )


class TestLineItems:
    def test_quantity_zero_is_rejected(self):
        conference = make_conference()
        order = make_order(conference)
        ticket = make_ticket_type(conference)
        with rejected_by_the_database(), transaction.atomic():
            OrderLineItem.objects.create(order=order, ticket_type=ticket, quantity=0)
        assert not order.lines.exists()

    def test_a_line_cannot_be_ticket_and_addon_at_once(self):
        conference = make_conference()
        with rejected_by_the_database(), transaction.atomic():
            OrderLineItem.objects.create(
                order=make_order(conference),
                ticket_type=make_ticket_type(conference),
                addon=make_addon(conference),
                quantity=1,
            )

    def test_kind_is_derived_on_create(self):
        conference = make_conference()
        ticket, addon = make_ticket_type(conference), make_addon(conference)
        order = make_order(conference)
        ticket_line = OrderLineItem.objects.create(
            order=order,
            ticket_type=ticket,
            quantity=3,
            unit_price=ticket.price,
            line_total=ticket.price * 3,
            description=ticket.name,
        )
        addon_line = OrderLineItem.objects.create(order=order, addon=addon, quantity=1)
        assert OrderLineItem.objects.get(pk=ticket_line.pk).kind == OrderLineItem.Kind.TICKET
        assert OrderLineItem.objects.get(pk=addon_line.pk).kind == OrderLineItem.Kind.ADDON

    def test_an_explicit_kind_is_kept(self):
        conference = make_conference()
        line = OrderLineItem.objects.create(
            order=make_order(conference), kind=OrderLineItem.Kind.TICKET, quantity=1
        )
        assert line.kind == OrderLineItem.Kind.TICKET

    def test_an_unknown_kind_is_rejected(self):
        with rejected_by_the_database(), transaction.atomic():
            OrderLineItem.objects.create(order=make_order(make_conference()), kind="x", quantity=1)

    @pytest.mark.parametrize(
        ("model", "kind"), [(TicketType, "ticket"), (AddOn, "addon")], ids=["ticket", "addon"]
    )
    def test_kind_is_unchanged_after_the_item_is_deleted(self, model, kind):
        conference = make_conference()
        item = (make_ticket_type if model is TicketType else make_addon)(conference)
        tickets = [(item, 2)] if model is TicketType else []
        addons = [(item, 2)] if model is AddOn else []
        order = make_order(conference, tickets=tickets, addons=addons)

        item.delete()

        line = order.lines.get()
        assert (line.ticket_type_id, line.addon_id) == (None, None)
        assert line.kind == kind
        line.quantity = 1
        line.save()
        assert OrderLineItem.objects.get(pk=line.pk).kind == kind


class TestSlugs:
    def test_a_duplicate_ticket_type_slug_in_one_conference_is_rejected(self):
        conference = make_conference()
        make_ticket_type(conference, slug="regular")
        with rejected_by_the_database(), transaction.atomic():
            make_ticket_type(conference, slug="regular")

    def test_a_duplicate_addon_slug_in_one_conference_is_rejected(self):
        conference = make_conference()
        make_addon(conference, slug="dinner")
        with rejected_by_the_database(), transaction.atomic():
            make_addon(conference, slug="dinner")

    def test_the_same_slug_in_two_conferences_is_fine(self):
        make_ticket_type(make_conference(), slug="regular")
        make_ticket_type(make_conference(), slug="regular")
        make_addon(make_conference(), slug="dinner")
        make_addon(make_conference(), slug="dinner")
        assert TicketType.objects.filter(slug="regular").count() == 2

    def test_a_duplicate_conference_slug_is_rejected(self):
        make_conference(slug="pycon")
        with rejected_by_the_database(), transaction.atomic():
            make_conference(slug="pycon")

    @pytest.mark.parametrize("slug", ["admin", "api", "dashboard", "static", "accounts"])
    def test_reserved_slugs_are_refused(self, slug):
        with pytest.raises(ValidationError, match="used by the site itself"):
            validate_slug_not_reserved(slug)
        conference = Conference(name="X", slug=slug, start_date="2027-01-01", end_date="2027-01-02")
        with pytest.raises(ValidationError) as caught:
            conference.full_clean()
        assert "slug" in caught.value.message_dict

    def test_an_ordinary_slug_is_accepted(self):
        validate_slug_not_reserved("pycon-2027")
        Conference(
            name="X", slug="pycon-2027", start_date="2027-01-01", end_date="2027-01-02"
        ).full_clean()


class TestConference:
    def test_ends_after_it_starts(self):
        with rejected_by_the_database(), transaction.atomic():
            make_conference(start_date="2027-06-03", end_date="2027-06-01")

    def test_a_hold_lasts_at_least_a_minute(self):
        with rejected_by_the_database(), transaction.atomic():
            make_conference(hold_minutes=0)

    def test_defaults(self):
        conference = make_conference()
        assert (conference.hold_minutes, conference.low_stock_threshold) == (15, 10)
        assert make_conference(total_capacity=0).is_unlimited

    def test_time_zones_are_iana_names(self):
        validate_timezone("Europe/Berlin")
        with pytest.raises(ValidationError, match="IANA"):
            validate_timezone("Mars/Olympus")

    def test_ticket_prices_are_not_negative(self):
        with rejected_by_the_database(), transaction.atomic():
            make_ticket_type(make_conference(), price=Decimal("-0.01"))
