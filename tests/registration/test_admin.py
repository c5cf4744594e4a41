"""The Django admin, as a superuser uses it: seats on every list, statuses only via the services."""

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from capacity.models import BlockedSeats
from capacity.services import override_capacity
from registration.models import Order
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales():
    """A 50-seat conference with some sales, holds, blocks and an override on record."""
    conference = make_conference(name="AdminCon", total_capacity=50)
    ticket = make_ticket_type(conference, name="Regular", total_quantity=20)
    addon = make_addon(conference, name="Dinner", total_quantity=10)
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 5)], addons=[(addon, 2)])
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 3)])
    expired = make_order(conference, Order.Status.EXPIRED, hold_minutes=-5, tickets=[(ticket, 4)])
    BlockedSeats.objects.create(conference=conference, label="speakers", quantity=2)
    override_capacity(
        target=conference, total=60, reason="Balcony opened", user=make_user(is_staff=True)
    )
    conference.refresh_from_db()
    return {
        "conference": conference,
        "ticket": ticket,
        "addon": addon,
        "paid": paid,
        "pending": pending,
        "expired": expired,
    }


def changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def cell(name, value):
    return f'<td class="field-{name}">{value}</td>'


def run_action(client, action, *orders):
    return client.post(
        changelist(Order),
        {"action": action, "_selected_action": [order.pk for order in orders], "index": 0},
        follow=True,
    )


def messages_of(response):
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def test_every_registered_changelist_renders_with_data(admin_client, sales):
    failures = {}
    for model in admin.site._registry:
        response = admin_client.get(changelist(model))
        if response.status_code != 200:
            failures[model._meta.label] = response.status_code
    assert failures == {}
    assert len(admin.site._registry) >= 6


def test_every_foundation_object_has_a_change_page(admin_client, sales):
    for obj in [
        sales["conference"],
        sales["ticket"],
        sales["addon"],
        sales["paid"],
        BlockedSeats.objects.get(),
    ]:
        url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
        assert admin_client.get(url).status_code == 200, url


def test_conference_list_shows_venue_seats(admin_client, sales):
    content = admin_client.get(changelist(type(sales["conference"]))).content.decode()
    assert "AdminCon" in content
    assert cell("capacity_display", 60) in content
    assert cell("seats_sold", 5) in content
    assert cell("seats_held", 3) in content
    assert cell("seats_blocked", 2) in content
    assert cell("seats_remaining", 60 - 5 - 3 - 2) in content


def test_ticket_type_list_shows_its_seats(admin_client, sales):
    content = admin_client.get(changelist(type(sales["ticket"]))).content.decode()
    assert "Regular" in content
    assert cell("seats_sold", 5) in content
    assert cell("seats_held", 3) in content
    assert cell("seats_remaining", 12) in content


def test_addon_list_shows_its_units(admin_client, sales):
    content = admin_client.get(changelist(type(sales["addon"]))).content.decode()
    assert "Dinner" in content
    assert cell("seats_sold", 2) in content
    assert cell("seats_remaining", 8) in content


def test_seat_columns_outside_a_changelist_are_never_cached(admin_client, sales):
    ticket = sales["ticket"]
    ticket_admin = admin.site._registry[type(ticket)]
    assert admin_client.get(changelist(type(ticket))).status_code == 200
    assert ticket_admin.seats_sold(ticket) == 5
    make_order(sales["conference"], Order.Status.PAID, tickets=[(ticket, 2)])
    assert ticket_admin.seats_sold(ticket) == 7


def test_unlimited_items_say_so(admin_client):
    conference = make_conference(total_capacity=0)
    make_ticket_type(conference, total_quantity=0)
    content = admin_client.get(changelist(type(conference))).content.decode()
    assert cell("seats_remaining", "Unlimited") in content
    assert cell("capacity_display", "Unlimited") in content


def test_order_list_filters_and_searches(admin_client, sales):
    paid, pending = sales["paid"], sales["pending"]
    response = admin_client.get(changelist(Order), {"status__exact": "paid"})
    assert paid.reference in response.content.decode()
    assert pending.reference not in response.content.decode()
    response = admin_client.get(changelist(Order), {"q": pending.reference})
    assert list(response.context["cl"].result_list) == [pending]


def test_order_page_shows_its_lines(admin_client, sales):
    paid = sales["paid"]
    response = admin_client.get(reverse("admin:registration_order_change", args=[paid.pk]))
    content = response.content.decode()
    assert "Regular" in content
    assert "Dinner" in content


class TestOrderActions:
    def test_mark_paid(self, admin_client, sales):
        response = run_action(admin_client, "mark_paid", sales["pending"])
        assert response.status_code == 200
        order = Order.objects.get(pk=sales["pending"].pk)
        assert order.status == Order.Status.PAID
        assert order.payment_provider == "manual"
        assert ("success", "Marked paid 1 order(s).") in messages_of(response)

    def test_a_late_payment_is_accepted_while_seats_remain(self, admin_client, sales):
        run_action(admin_client, "mark_paid", sales["expired"])
        assert Order.objects.get(pk=sales["expired"].pk).status == Order.Status.PAID

    def test_a_late_payment_whose_seats_are_gone_shows_an_error(self, admin_client, sales):
        conference, ticket = sales["conference"], sales["ticket"]
        make_order(conference, Order.Status.PAID, tickets=[(ticket, 12)])  # the type: 20 of 20
        expired = sales["expired"]

        response = run_action(admin_client, "mark_paid", expired)

        assert response.status_code == 200
        assert Order.objects.get(pk=expired.pk).status == Order.Status.EXPIRED
        [(level, text)] = messages_of(response)
        assert level == "error"
        assert expired.reference in text
        assert "no longer free" in text
        assert "Regular is sold out" in text

    def test_one_refusal_does_not_stop_the_others(self, admin_client, sales):
        cancelled = make_order(sales["conference"], Order.Status.CANCELLED, tickets=[])
        response = run_action(admin_client, "mark_paid", sales["pending"], cancelled)
        levels = sorted(level for level, _ in messages_of(response))
        assert levels == ["error", "success"]
        assert Order.objects.get(pk=sales["pending"].pk).status == Order.Status.PAID
        assert Order.objects.get(pk=cancelled.pk).status == Order.Status.CANCELLED

    def test_cancel(self, admin_client, sales):
        run_action(admin_client, "cancel", sales["pending"], sales["paid"])
        statuses = set(
            Order.objects.filter(pk__in=[sales["pending"].pk, sales["paid"].pk]).values_list(
                "status", flat=True
            )
        )
        assert statuses == {Order.Status.CANCELLED}

    def test_refund(self, admin_client, sales):
        response = run_action(admin_client, "refund", sales["paid"])
        assert Order.objects.get(pk=sales["paid"].pk).status == Order.Status.REFUNDED
        assert ("success", "Refunded 1 order(s).") in messages_of(response)

    def test_refund_partially(self, admin_client, sales):
        run_action(admin_client, "refund_partially", sales["paid"])
        assert Order.objects.get(pk=sales["paid"].pk).status == Order.Status.PARTIALLY_REFUNDED

    def test_refunding_an_unpaid_order_is_an_error(self, admin_client, sales):
        response = run_action(admin_client, "refund", sales["pending"])
        assert Order.objects.get(pk=sales["pending"].pk).status == Order.Status.PENDING
        [(level, text)] = messages_of(response)
        assert level == "error"
        assert "Only paid orders can be refunded" in text

    def test_extend_hold(self, admin_client, sales):
        before = sales["pending"].hold_expires_at
        run_action(admin_client, "extend_hold", sales["pending"])
        assert Order.objects.get(pk=sales["pending"].pk).hold_expires_at > before

    def test_staff_without_change_permission_cannot_run_actions(self, client, sales):
        viewer = make_user(is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
        client.force_login(viewer)
        response = client.get(changelist(Order))
        assert response.status_code == 200
        run_action(client, "mark_paid", sales["pending"])
        assert Order.objects.get(pk=sales["pending"].pk).status == Order.Status.PENDING


class TestOrderStatusIsReadOnly:
    def test_the_change_form_has_no_status_input(self, admin_client, sales):
        url = reverse("admin:registration_order_change", args=[sales["pending"].pk])
        response = admin_client.get(url)
        assert "status" not in response.context["adminform"].form.fields
        assert 'name="status"' not in response.content.decode()
        assert "Pending payment" in response.content.decode()

    def test_posting_a_status_changes_only_the_editable_fields(self, admin_client, sales):
        order = sales["pending"]
        url = reverse("admin:registration_order_change", args=[order.pk])
        data = {
            "name": "Renamed Buyer",
            "email": "renamed@example.com",
            "status": Order.Status.PAID,
            "lines-TOTAL_FORMS": 1,
            "lines-INITIAL_FORMS": 1,
            "lines-MIN_NUM_FORMS": 0,
            "lines-MAX_NUM_FORMS": 1000,
            "lines-0-id": order.lines.get().pk,
            "lines-0-order": order.pk,
        }
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        order.refresh_from_db()
        assert order.name == "Renamed Buyer"
        assert order.status == Order.Status.PENDING

    def test_orders_cannot_be_added_or_deleted_in_the_admin(self, admin_client, sales):
        assert admin_client.get(reverse("admin:registration_order_add")).status_code == 403
        url = reverse("admin:registration_order_delete", args=[sales["paid"].pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
        assert Order.objects.filter(pk=sales["paid"].pk).exists()


class TestItemsWithSalesAreKept:
    @pytest.mark.parametrize("item", ["ticket", "addon"])
    def test_an_item_with_sales_cannot_be_deleted(self, admin_client, sales, item):
        obj = sales[item]
        url = reverse(f"admin:registration_{obj._meta.model_name}_delete", args=[obj.pk])
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_an_item_without_sales_can_be_deleted(self, admin_client, sales):
        unsold = make_ticket_type(sales["conference"], price=Decimal("1"))
        url = reverse("admin:registration_tickettype_delete", args=[unsold.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
        assert not type(unsold).objects.filter(pk=unsold.pk).exists()

    @pytest.mark.parametrize("item", ["ticket", "addon"])
    def test_there_is_no_bulk_delete(self, admin_client, sales, item):
        model = type(sales[item])
        response = admin_client.get(changelist(model))
        action_form = response.context["action_form"]
        choices = [name for name, _ in action_form.fields["action"].choices] if action_form else []
        assert "delete_selected" not in choices
        response = admin_client.post(
            changelist(model),
            {"action": "delete_selected", "_selected_action": [sales[item].pk], "post": "yes"},
        )
        assert model.objects.filter(pk=sales[item].pk).exists()

    def test_an_item_with_sales_can_be_deactivated(self, admin_client, sales):
        ticket = sales["ticket"]
        url = reverse("admin:registration_tickettype_change", args=[ticket.pk])
        response = admin_client.get(url)
        form = response.context["adminform"].form
        data = {
            name: value
            for name, value in form.initial.items()
            if name in form.fields and value is not None
        }
        data.update(is_active="", conference=ticket.conference_id)
        for name in ("available_from", "available_until"):
            data.pop(name, None)
        response = admin_client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        ticket.refresh_from_db()
        assert ticket.is_active is False
        assert ticket.total_quantity == 20
