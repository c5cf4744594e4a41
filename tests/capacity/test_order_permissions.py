"""The dashboard's order actions need ``registration.manage_orders``, checked on the
server; the order page shows only the actions the user may run."""

import pytest
from django.urls import reverse

from capacity.views import ORDER_ACTIONS
from registration.models import Order
from registration.permissions import MANAGE_ORDERS_PERMISSION
from tests.factories import grant, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(conference):
    return make_order(conference, Order.Status.PENDING, tickets=[(make_ticket_type(conference), 1)])


def detail_url(order):
    return reverse(
        "capacity:order", kwargs={"slug": order.conference.slug, "reference": order.reference}
    )


def action_url(order, action):
    return reverse(
        "capacity:order-action",
        kwargs={"slug": order.conference.slug, "reference": order.reference, "action": action},
    )


def organizer_of(conference, *permissions):
    user = grant(make_user(), *permissions)
    conference.organizers.add(user)
    return user


def test_an_organizer_with_the_permission_sees_and_runs_the_actions(client, conference, order):
    client.force_login(organizer_of(conference, MANAGE_ORDERS_PERMISSION))
    page = client.get(detail_url(order)).content.decode()
    assert 'id="action-mark-paid"' in page
    assert 'id="action-cancel"' in page

    client.post(action_url(order, "cancel"))
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED


def test_a_superuser_holds_the_permission(client, order):
    client.force_login(make_user(is_superuser=True))
    assert 'id="action-mark-paid"' in client.get(detail_url(order)).content.decode()
    client.post(action_url(order, "mark-paid"))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_an_organizer_without_the_permission_sees_no_action(client, conference, order):
    client.force_login(organizer_of(conference))
    response = client.get(detail_url(order))
    assert response.status_code == 200
    assert response.context["actions"] == []
    page = response.content.decode()
    assert 'id="action-' not in page
    assert order.reference in page  # the order itself is still shown


@pytest.mark.parametrize("action", list(ORDER_ACTIONS))
def test_an_organizer_without_the_permission_is_refused_on_the_server(
    client, conference, order, action
):
    client.force_login(organizer_of(conference))
    assert client.get(action_url(order, action)).status_code == 403
    response = client.post(action_url(order, action), {"minutes": "60"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


@pytest.mark.parametrize("action", ["mark-paid", "cancel", "extend-hold", "refund"])
def test_others_are_refused_whatever_their_permissions(client, conference, order, action):
    other_conference = make_conference(slug="other-conf")
    hold = order.hold_expires_at
    # Anonymous: to the login page.
    response = client.post(action_url(order, action), {"minutes": "60"})
    assert response.status_code == 302
    assert reverse("login") in response.url
    # Not an organizer, and an organizer of another conference, both with the permission.
    for user in (
        grant(make_user(), MANAGE_ORDERS_PERMISSION),
        organizer_of(other_conference, MANAGE_ORDERS_PERMISSION),
    ):
        client.force_login(user)
        assert client.post(action_url(order, action), {"minutes": "60"}).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.hold_expires_at == hold
