"""Rows read and written with statements built once (``capacity.rows``) equal the ORM's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from capacity.rows import insert_rows, insert_with_children, run_together
from capacity.services import conference_by_slug, conference_catalogue
from registration.models import AddOn, Order, OrderLineItem, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


def field_values(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_catalogue_equals_the_orm_field_by_field_in_listing_order():
    conference = make_conference()
    other = make_conference(slug="other-conf")
    now = timezone.now().replace(microsecond=123456)
    make_ticket_type(conference, slug="late", position=2, price=Decimal("5.50"))
    make_ticket_type(
        conference,
        slug="window",
        position=1,
        price=Decimal("120.25"),
        available_from=now,
        available_until=now + timedelta(days=3),
        is_active=False,
    )
    make_ticket_type(other, slug="elsewhere")
    make_addon(conference, slug="dinner", position=1, price=Decimal("30.00"))
    make_addon(conference, slug="shirt", position=0, price=Decimal("0.00"), is_active=False)

    ticket_types, addons = conference_catalogue(conference)

    expected_types = TicketType.objects.filter(conference=conference).order_by(
        "position", "price", "name"
    )
    expected_addons = AddOn.objects.filter(conference=conference).order_by(
        "position", "price", "name"
    )
    assert [field_values(t) for t in ticket_types] == [field_values(t) for t in expected_types]
    assert [field_values(a) for a in addons] == [field_values(a) for a in expected_addons]
    assert [t.slug for t in ticket_types] == ["window", "late"]
    assert [a.slug for a in addons] == ["shirt", "dinner"]
    window = ticket_types[0]
    # Python values, not what SQLite stores: aware datetimes, decimals, booleans.
    assert window.available_from == now and timezone.is_aware(window.available_from)
    assert isinstance(window.price, Decimal) and window.is_active is False
    assert all(isinstance(row, TicketType) and not row._state.adding for row in ticket_types)
    assert all(isinstance(row, AddOn) for row in addons)


def test_a_conference_with_nothing_on_sale_has_an_empty_catalogue():
    assert conference_catalogue(make_conference()) == ([], [])


def test_conference_lookups_equal_the_orm():
    conference = make_conference(total_capacity=40)
    assert field_values(conference_by_slug(conference.slug)) == field_values(conference)
    assert conference_by_slug("no-such-conference") is None


def two_lines(order, ticket_type, addon):
    """Two ticket seats at list price and a free add-on, for ``order``."""
    return [
        OrderLineItem(
            order=order,
            kind="ticket",
            ticket_type=ticket_type,
            quantity=2,
            unit_price=ticket_type.price,
            line_total=Decimal("39.98"),
            description="T",
        ),
        OrderLineItem(
            order=order,
            kind="addon",
            addon=addon,
            quantity=1,
            unit_price=Decimal("0"),
            line_total=Decimal("0"),
            description="A",
        ),
    ]


def test_inserted_rows_read_back_as_the_orm_writes_them():
    conference = make_conference()
    ticket_type = make_ticket_type(conference, price=Decimal("19.99"))
    addon = make_addon(conference)
    hold = timezone.now().replace(microsecond=654321) + timedelta(minutes=15)
    order = Order(conference=conference, email="a@example.com", name="Ada", hold_expires_at=hold)
    order.total = Decimal("39.98")
    insert_rows(Order, [order])
    lines = two_lines(order, ticket_type, addon)
    insert_rows(OrderLineItem, lines)

    stored = Order.objects.get(pk=order.pk)
    assert field_values(stored) == field_values(order)
    assert stored.updated_at is not None and stored.hold_expires_at == hold
    assert stored.reference and stored.secret and stored.status == "pending"
    assert not order._state.adding
    assert sorted(line.pk for line in lines) == sorted(stored.lines.values_list("pk", flat=True))
    assert [field_values(line) for line in lines] == [
        field_values(line) for line in stored.lines.order_by("pk")
    ]


def test_an_order_inserted_with_its_lines_reads_back_as_the_orm_writes_them():
    conference = make_conference()
    ticket_type = make_ticket_type(conference, price=Decimal("19.99"))
    addon = make_addon(conference)
    # Another order first, so the lines' key cannot be right by chance.
    make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 1)])
    order = Order(conference=conference, email="a@example.com", name="Ada", status="paid")
    order.total = Decimal("39.98")
    lines = two_lines(order, ticket_type, addon)
    insert_with_children(order, lines, "order")

    stored = Order.objects.get(pk=order.pk)
    assert field_values(stored) == field_values(order)
    assert all(line.order_id == order.pk and not line._state.adding for line in lines)
    assert [field_values(line) for line in lines] == [
        field_values(line) for line in stored.lines.order_by("pk")
    ]


def test_inserting_nothing_runs_no_statement(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_rows(Order, [])


def test_statements_run_together_answer_each_with_its_own_rows_in_order():
    conference = make_conference(total_capacity=40)
    make_ticket_type(conference, slug="a")
    make_ticket_type(conference, slug="b")
    table = TicketType._meta.db_table
    empty, slugs, count = run_together(
        [
            (f"SELECT slug FROM {table} WHERE conference_id = %s", [0]),
            (f"SELECT slug FROM {table} WHERE conference_id = %s ORDER BY slug", [conference.pk]),
            (f"SELECT COUNT(*) FROM {table} WHERE slug = %s", ["b"]),
        ]
    )
    assert (empty, slugs, count) == ([], [("a",), ("b",)], [(1,)])
