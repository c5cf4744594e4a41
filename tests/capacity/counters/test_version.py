"""``conference_version`` moves with every edit: seats, what is sold, blocked seats,
the waiting list, a same-length rename included; and with nothing else."""

import pytest

from capacity.counters import conference_version
from capacity.models import BlockedSeats
from registration import services
from registration.models import Order, TicketType, WaitingListEntry
from tests.factories import make_addon, make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db


@pytest.fixture
def conference():
    conference = make_conference(total_capacity=50)
    make_ticket_type(conference, name="Early bird")
    make_addon(conference)
    return conference


def moves(conference, change):
    before = conference_version(conference)
    change()
    return conference_version(conference) != before


def test_the_version_stays_when_nothing_changes(conference):
    assert conference_version(conference) == conference_version(conference)
    assert not moves(conference, lambda: make_ticket_type(make_conference()))


def test_a_same_length_rename_moves_it(conference):
    ticket_type = conference.ticket_types.get()

    def rename():
        ticket_type.name = "Early Bird"
        ticket_type.save()

    assert moves(conference, rename)
    assert moves(
        conference,
        lambda: TicketType.objects.filter(pk=ticket_type.pk).update(name="Early BIRD"),
    )
    addon = conference.addons.get()
    assert moves(conference, lambda: conference.addons.filter(pk=addon.pk).update(name="X" * 7))


def test_orders_placed_paid_and_deleted_move_it(conference):
    ticket_type = conference.ticket_types.get()
    order = services.place_order(
        conference=conference, email="ada@example.com", name="Ada", tickets={ticket_type: 2}
    )
    assert moves(conference, lambda: services.mark_paid(order))
    assert moves(conference, lambda: Order.objects.filter(pk=order.pk).delete())
    cancelled = make_order(conference, Order.Status.CANCELLED, tickets=[(ticket_type, 1)])
    assert moves(conference, cancelled.delete)


def test_blocked_seats_blocked_and_released_move_it(conference):
    blocks = []
    assert moves(
        conference,
        lambda: blocks.append(
            BlockedSeats.objects.create(conference=conference, label="speakers", quantity=4)
        ),
    )
    assert moves(
        conference, lambda: BlockedSeats.objects.filter(pk=blocks[0].pk).update(quantity=0)
    )
    assert moves(conference, blocks[0].delete)


def test_joining_and_leaving_the_waiting_list_move_it(conference):
    ticket_type = conference.ticket_types.get()
    entries = []
    assert moves(conference, lambda: entries.append(make_entry(conference, ticket_type, 2)))
    assert moves(
        conference,
        lambda: WaitingListEntry.objects.filter(pk=entries[0].pk).update(
            status=WaitingListEntry.Status.LEFT
        ),
    )


def test_an_edit_of_the_conference_moves_it(conference):
    def raise_capacity():
        conference.total_capacity = 60
        conference.save()

    assert moves(conference, raise_capacity)


def catalogue_version(conference):
    conference.refresh_from_db()
    return conference.catalogue_version


def test_the_catalogue_version_moves_with_ticket_types_and_add_ons_not_with_sales(conference):
    ticket_type = conference.ticket_types.get()
    before = catalogue_version(conference)

    make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 2)])
    BlockedSeats.objects.create(conference=conference, label="speakers", quantity=1)
    assert catalogue_version(conference) == before

    TicketType.objects.filter(pk=ticket_type.pk).update(name="Early Bire")
    assert catalogue_version(conference) == before + 1
    conference.addons.update(price=5)
    assert catalogue_version(conference) == before + 2
    make_ticket_type(conference)
    conference.ticket_types.filter(slug=ticket_type.slug).delete()
    assert catalogue_version(conference) == before + 4
