"""A ticket type's or add-on's conference never changes, in the admin or anywhere
else; ``check_seats`` catches a move made behind the database's back."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from capacity.services import get_availability
from registration.fixed_conference import (
    drop_fixed_conference_triggers,
    find_cross_conference_rows,
    fixed_conference_triggers_installed,
)
from registration.models import AddOn, Order, TicketType
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def two():
    a = make_conference(name="Conf A", slug="conf-a", total_capacity=10)
    b = make_conference(name="Conf B", slug="conf-b", total_capacity=10)
    ticket = make_ticket_type(a, name="Regular", slug="regular", total_quantity=5)
    addon = make_addon(a, name="Dinner", slug="dinner", total_quantity=5)
    make_order(a, Order.Status.PAID, tickets=[(ticket, 4)], addons=[(addon, 2)])
    return a, b, ticket, addon


def check_seats(*args):
    out = StringIO()
    call_command("check_seats", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_triggers_are_installed_by_migrate():
    assert fixed_conference_triggers_installed()


@pytest.mark.parametrize("model", [TicketType, AddOn])
def test_the_database_refuses_a_move_by_queryset_update(two, model):
    a, b, ticket, addon = two
    item = ticket if model is TicketType else addon
    with pytest.raises(IntegrityError, match="cannot move to another conference"):
        with transaction.atomic():
            model.objects.filter(pk=item.pk).update(conference=b)
    item.refresh_from_db()
    assert item.conference_id == a.pk


def test_the_database_refuses_a_move_by_save(two):
    a, b, ticket, _ = two
    ticket.conference = b
    with pytest.raises(IntegrityError):
        with transaction.atomic():
            ticket.save()
    assert TicketType.objects.get(pk=ticket.pk).conference_id == a.pk
    # Every other field still saves.
    fresh = TicketType.objects.get(pk=ticket.pk)
    fresh.name = "Regular (renamed)"
    fresh.save()
    assert TicketType.objects.get(pk=ticket.pk).name == "Regular (renamed)"


def test_the_database_refuses_a_move_by_raw_sql(two):
    a, b, ticket, _ = two
    with pytest.raises(IntegrityError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE registration_tickettype SET conference_id = %s WHERE id = %s",
                [b.pk, ticket.pk],
            )


@pytest.mark.parametrize("model_name", ["tickettype", "addon"])
def test_the_admin_shows_the_conference_read_only_once_it_exists(client, two, model_name):
    a, b, ticket, addon = two
    item = ticket if model_name == "tickettype" else addon
    client.force_login(make_user(is_superuser=True, is_staff=True))
    url = reverse(f"admin:registration_{model_name}_change", args=[item.pk])

    form = client.get(url).context["adminform"].form
    assert "conference" not in form.fields

    data = {
        "name": item.name,
        "slug": item.slug,
        "price": str(item.price),
        "total_quantity": str(item.total_quantity),
        "max_per_order": "10",
        "position": "0",
        "is_active": "on",
        "conference": b.pk,
    }
    response = client.post(url, data)
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.conference_id == a.pk
    add_form = client.get(reverse(f"admin:registration_{model_name}_add")).context["adminform"]
    assert "conference" in add_form.form.fields


def test_check_seats_passes_when_every_row_agrees(two):
    assert find_cross_conference_rows() == []
    assert "All seat counters match their lines" in check_seats()


@pytest.mark.parametrize("model_name", ["tickettype", "addon"])
def test_check_seats_catches_a_move_made_behind_its_back(two, model_name):
    a, b, ticket, addon = two
    item = ticket if model_name == "tickettype" else addon
    drop_fixed_conference_triggers()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE registration_{model_name} SET conference_id = %s WHERE id = %s",
            [b.pk, item.pk],
        )

    # The counters still match their lines, each keyed by the order's conference:
    # only the check across conferences sees what happened.
    crossed = find_cross_conference_rows()
    assert any(f"(id {item.pk}), which belongs to conference {b.pk}" in row for row in crossed)
    assert any("seat counter" in row for row in crossed)
    with pytest.raises(CommandError, match="disagree across conferences") as refused:
        check_seats("--fix")
    assert refused.value.returncode == 1
    # --fix puts the triggers back, but the moved rows are for a person to settle.
    assert fixed_conference_triggers_installed()
    with pytest.raises(CommandError, match="disagree across conferences"):
        check_seats()


def test_check_seats_for_one_conference_sees_rows_pointing_into_it(two):
    a, b, ticket, _ = two
    drop_fixed_conference_triggers()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registration_tickettype SET conference_id = %s WHERE id = %s",
            [b.pk, ticket.pk],
        )
    assert find_cross_conference_rows(a)
    assert find_cross_conference_rows(b)
    c = make_conference(name="Conf C", slug="conf-c")
    assert find_cross_conference_rows(c) == []


def test_missing_triggers_are_reported(two):
    drop_fixed_conference_triggers()
    with pytest.raises(CommandError, match="triggers are missing"):
        check_seats()
    # The seats of the old conference are still its own while nothing moved.
    assert get_availability(two[0]).sold == 4
