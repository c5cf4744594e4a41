"""Small factory functions for building conferences, tickets and orders in tests."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from conference.models import Conference
from registration.models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry

_sequence = itertools.count(1)


def make_conference(**fields):
    n = next(_sequence)
    defaults = {
        "name": f"Conf {n}",
        "slug": f"conf-{n}",
        "start_date": date(2027, 6, 1),
        "end_date": date(2027, 6, 3),
        "total_capacity": 100,
    }
    defaults.update(fields)
    return Conference.objects.create(**defaults)


def make_ticket_type(conference, **fields):
    n = next(_sequence)
    defaults = {
        "name": f"Ticket {n}",
        "slug": f"ticket-{n}",
        "price": Decimal("100.00"),
        "total_quantity": 0,
    }
    defaults.update(fields)
    return TicketType.objects.create(conference=conference, **defaults)


def make_addon(conference, **fields):
    n = next(_sequence)
    defaults = {
        "name": f"Add-on {n}",
        "slug": f"addon-{n}",
        "price": Decimal("20.00"),
        "total_quantity": 0,
    }
    defaults.update(fields)
    return AddOn.objects.create(conference=conference, **defaults)


def make_order(conference, status=Order.Status.PAID, *, hold_minutes=15, tickets=(), addons=()):
    """An order built directly in the database, the way acceptance tests build states.

    ``tickets``/``addons``: iterables of (TicketType/AddOn, quantity). A PENDING
    order's hold ends ``hold_minutes`` from now (negative: already expired).
    """
    n = next(_sequence)
    order = Order.objects.create(
        conference=conference,
        status=status,
        email=f"buyer{n}@example.com",
        name=f"Buyer {n}",
        reference=f"TEST-{n:012d}",
        hold_expires_at=timezone.now() + timedelta(minutes=hold_minutes),
    )
    for ticket_type, quantity in tickets:
        OrderLineItem.objects.create(
            order=order,
            ticket_type=ticket_type,
            quantity=quantity,
            unit_price=ticket_type.price,
            line_total=ticket_type.price * quantity,
            description=ticket_type.name,
        )
    for addon, quantity in addons:
        OrderLineItem.objects.create(
            order=order,
            addon=addon,
            quantity=quantity,
            unit_price=addon.price,
            line_total=addon.price * quantity,
            description=addon.name,
        )
    return order


def make_user(username=None, **fields):
    username = username or f"user{next(_sequence)}"
    return get_user_model().objects.create_user(
        username=username, password="pw-for-tests-only", email=f"{username}@example.com", **fields
    )


def grant(user, *permissions):
    """Give ``user`` each permission named "app_label.codename"; returns the user."""
    from django.contrib.auth.models import Permission

    for name in permissions:
        app_label, codename = name.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


def make_entry(conference, ticket_type=None, quantity=1, *, email=None, **fields):
    """A WAITING waiting-list entry built directly in the database (no checks), for
    ``ticket_type`` (None: any ticket type). Later calls are later in line."""
    n = next(_sequence)
    return WaitingListEntry.objects.create(
        conference=conference,
        ticket_type=ticket_type,
        quantity=quantity,
        email=email or f"waiter{n}@example.com",
        name=f"Waiter {n}",
        **fields,
    )
