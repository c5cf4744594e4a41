"""Instances loaded with statements built once (``capacity.rows``) equal the ORM's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from capacity.services import conference_by_slug, conference_catalogue
from registration.models import AddOn, TicketType
from tests.factories import make_addon, make_conference, make_ticket_type

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
