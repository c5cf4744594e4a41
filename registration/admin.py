"""Admin for ticket types, add-ons, orders and the waiting list.

Order and waiting-list statuses change only through the actions below, which
call ``registration.services``; the status fields themselves are read-only. The
order actions need ``registration.manage_orders``. A non-superuser sees only
the conferences they organize (``conference.scoping``), and a ticket type's or
add-on's conference is fixed once it exists.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from capacity.admin import AvailabilityColumnsMixin, CapacityOverrideAdminMixin
from conference.scoping import OrganizerScopedAdminMixin, scoped_conference_filter

from . import services
from .models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry
from .permissions import can_manage_orders


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


class FixedConferenceMixin:
    """The conference of a ticket type or add-on is chosen when it is created and
    never changes (the database refuses it too): its sold seats belong to it."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and "conference" not in fields:
            fields.append("conference")
        return fields


@admin.register(TicketType)
class TicketTypeAdmin(
    OrganizerScopedAdminMixin,
    FixedConferenceMixin,
    KeepSoldItemsMixin,
    CapacityOverrideAdminMixin,
    AvailabilityColumnsMixin,
    admin.ModelAdmin,
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
    list_filter = [scoped_conference_filter(), "is_active"]
    search_fields = ["name", "slug", "conference__name"]
    list_select_related = ["conference"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="Quantity")
    def capacity_display(self, obj):
        return obj.total_quantity or "Unlimited"


@admin.register(AddOn)
class AddOnAdmin(
    OrganizerScopedAdminMixin,
    FixedConferenceMixin,
    KeepSoldItemsMixin,
    CapacityOverrideAdminMixin,
    AvailabilityColumnsMixin,
    admin.ModelAdmin,
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
    list_filter = [scoped_conference_filter(), "is_active"]
    search_fields = ["name", "slug", "conference__name"]
    list_select_related = ["conference"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="Quantity")
    def capacity_display(self, obj):
        return obj.total_quantity or "Unlimited"


class OrderLineItemInline(OrganizerScopedAdminMixin, admin.TabularInline):
    model = OrderLineItem
    conference_lookup = "order__conference"
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
class OrderAdmin(OrganizerScopedAdminMixin, admin.ModelAdmin):
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
    list_filter = ["status", scoped_conference_filter(), "is_comp", "payment_provider"]
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

    def has_manage_orders_permission(self, request):
        return can_manage_orders(request.user)

    @admin.action(description="Mark selected orders as paid", permissions=["manage_orders"])
    def mark_paid(self, request, queryset):
        _run_on_orders(
            self,
            request,
            queryset,
            lambda o: services.mark_paid(o, provider="manual"),
            "Marked paid",
        )

    @admin.action(description="Extend the hold of selected orders", permissions=["manage_orders"])
    def extend_hold(self, request, queryset):
        _run_on_orders(self, request, queryset, services.extend_hold, "Extended the hold of")

    @admin.action(description="Cancel selected orders", permissions=["manage_orders"])
    def cancel(self, request, queryset):
        _run_on_orders(self, request, queryset, services.cancel_order, "Cancelled")

    @admin.action(description="Refund selected orders in full", permissions=["manage_orders"])
    def refund(self, request, queryset):
        _run_on_orders(self, request, queryset, services.refund_order, "Refunded")

    @admin.action(description="Refund selected orders partially", permissions=["manage_orders"])
    def refund_partially(self, request, queryset):
        _run_on_orders(
            self,
            request,
            queryset,
            lambda o: services.refund_order(o, partial=True),
            "Partially refunded",
        )


@admin.register(WaitingListEntry)
class WaitingListEntryAdmin(OrganizerScopedAdminMixin, admin.ModelAdmin):
    """Read-mostly: entries are made by attendees joining; changes go through the services."""

    list_display = [
        "created_at",
        "name",
        "email",
        "conference",
        "ticket_type_display",
        "quantity",
        "status",
        "order",
        "offered_at",
    ]
    list_filter = ["status", scoped_conference_filter(), scoped_conference_filter("ticket_type")]
    search_fields = ["email", "name"]
    date_hierarchy = "created_at"
    list_select_related = ["conference", "ticket_type", "order"]
    ordering = ["created_at", "id"]
    fields = [
        "conference",
        "ticket_type",
        "name",
        "email",
        "quantity",
        "status",
        "order",
        "created_at",
        "offered_at",
        "updated_at",
    ]
    readonly_fields = fields
    actions = ["offer_freed_seats", "leave_waiting_list"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Ticket type", ordering="ticket_type__name")
    def ticket_type_display(self, obj):
        return obj.ticket_type.name if obj.ticket_type_id else "Any"

    @admin.action(
        description="Offer freed seats now (to the selected entries' conferences)",
        permissions=["change"],
    )
    def offer_freed_seats(self, request, queryset):
        conferences = {entry.conference_id: entry.conference for entry in queryset}
        offers = 0
        for conference in conferences.values():
            offers += len(services.offer_freed_seats(conference))
        if offers:
            self.message_user(
                request,
                f"Offered seats to {offers} waiting-list entr{'y' if offers == 1 else 'ies'}.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                "No offers made: no free seats fit anyone waiting.",
                messages.WARNING,
            )

    @admin.action(
        description="Remove the selected entries from the waiting list", permissions=["change"]
    )
    def leave_waiting_list(self, request, queryset):
        done = 0
        for entry in queryset:
            try:
                services.leave_waiting_list(entry)
            except ValidationError as error:
                self.message_user(
                    request, f"{entry.email}: {' '.join(error.messages)}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                f"Removed {done} entr{'y' if done == 1 else 'ies'} from the waiting list.",
                messages.SUCCESS,
            )
