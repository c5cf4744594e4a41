"""Admin for ticket types, add-ons and orders.

Order statuses change only through the actions below, which call
``registration.services``; the status field itself is read-only.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from capacity.admin import AvailabilityColumnsMixin, CapacityOverrideAdminMixin

from . import services
from .models import AddOn, Order, OrderLineItem, TicketType


class KeepSoldItemsMixin:
    """Ticket types and add-ons with sales are deactivated, never deleted."""

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.lines.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(TicketType)
class TicketTypeAdmin(
    KeepSoldItemsMixin, CapacityOverrideAdminMixin, AvailabilityColumnsMixin, admin.ModelAdmin
):
    list_display = [
        "name",
        "conference",
        "price",
        "capacity_display",
        "seats_sold",
        "seats_held",
        "seats_remaining",
        "is_active",
    ]
    list_filter = ["conference", "is_active"]
    search_fields = ["name", "slug", "conference__name"]
    list_select_related = ["conference"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="Quantity")
    def capacity_display(self, obj):
        return obj.total_quantity or "Unlimited"


@admin.register(AddOn)
class AddOnAdmin(
    KeepSoldItemsMixin, CapacityOverrideAdminMixin, AvailabilityColumnsMixin, admin.ModelAdmin
):
    list_display = [
        "name",
        "conference",
        "price",
        "capacity_display",
        "seats_sold",
        "seats_held",
        "seats_remaining",
        "is_active",
    ]
    list_filter = ["conference", "is_active"]
    search_fields = ["name", "slug", "conference__name"]
    list_select_related = ["conference"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="Quantity")
    def capacity_display(self, obj):
        return obj.total_quantity or "Unlimited"


class OrderLineItemInline(admin.TabularInline):
    model = OrderLineItem
    extra = 0
    can_delete = False
    fields = ["kind", "description", "ticket_type", "addon", "quantity", "unit_price", "line_total"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


def _run_on_orders(modeladmin, request, queryset, action, verb):
    done = 0
    for order in queryset:
        try:
            action(order)
        except ValidationError as error:
            modeladmin.message_user(
                request, f"{order.reference}: {' '.join(error.messages)}", messages.ERROR
            )
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{verb} {done} order(s).", messages.SUCCESS)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "conference",
        "name",
        "email",
        "status",
        "total",
        "created_at",
        "hold_expires_at",
        "is_comp",
    ]
    list_filter = ["status", "conference", "is_comp", "payment_provider"]
    search_fields = ["reference", "email", "name"]
    date_hierarchy = "created_at"
    list_select_related = ["conference"]
    inlines = [OrderLineItemInline]
    readonly_fields = [
        "conference",
        "reference",
        "status",
        "hold_expires_at",
        "total",
        "payment_provider",
        "is_comp",
        "created_at",
        "updated_at",
        "paid_at",
    ]
    fields = ["name", "email", *readonly_fields]
    actions = ["mark_paid", "extend_hold", "cancel", "refund", "refund_partially"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark selected orders as paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        _run_on_orders(
            self,
            request,
            queryset,
            lambda o: services.mark_paid(o, provider="manual"),
            "Marked paid",
        )

    @admin.action(description="Extend the hold of selected orders", permissions=["change"])
    def extend_hold(self, request, queryset):
        _run_on_orders(self, request, queryset, services.extend_hold, "Extended the hold of")

    @admin.action(description="Cancel selected orders", permissions=["change"])
    def cancel(self, request, queryset):
        _run_on_orders(self, request, queryset, services.cancel_order, "Cancelled")

    @admin.action(description="Refund selected orders in full", permissions=["change"])
    def refund(self, request, queryset):
        _run_on_orders(self, request, queryset, services.refund_order, "Refunded")

    @admin.action(description="Refund selected orders partially", permissions=["change"])
    def refund_partially(self, request, queryset):
        _run_on_orders(
            self,
            request,
            queryset,
            lambda o: services.refund_order(o, partial=True),
            "Partially refunded",
        )
