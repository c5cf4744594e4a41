"""Admin for blocked seats, and the availability columns other admins share."""

import threading

from django.contrib import admin

from .models import BlockedSeats
from .services import get_availability

_changelist = threading.local()


class AvailabilityColumnsMixin:
    """Sold / held / remaining columns read from one snapshot per conference per page."""

    def changelist_view(self, request, extra_context=None):
        _changelist.snapshots = {}
        try:
            return super().changelist_view(request, extra_context)
        finally:
            _changelist.snapshots = {}

    def availability_of(self, conference):
        snapshots = getattr(_changelist, "snapshots", None)
        if snapshots is None:
            return get_availability(conference)
        if conference.pk not in snapshots:
            snapshots[conference.pk] = get_availability(conference)
        return snapshots[conference.pk]

    def item_availability(self, obj):
        """The snapshot entry for a TicketType or AddOn row."""
        availability = self.availability_of(obj.conference)
        items = (
            availability.ticket_types
            if obj._meta.model_name == "tickettype"
            else availability.addons
        )
        return next(item for item in items if item.pk == obj.pk)

    @admin.display(description="Sold")
    def seats_sold(self, obj):
        return self.item_availability(obj).sold

    @admin.display(description="Held")
    def seats_held(self, obj):
        return self.item_availability(obj).held

    @admin.display(description="Remaining")
    def seats_remaining(self, obj):
        remaining = self.item_availability(obj).remaining
        return "Unlimited" if remaining is None else remaining


@admin.register(BlockedSeats)
class BlockedSeatsAdmin(admin.ModelAdmin):
    list_display = ["label", "conference", "ticket_type", "quantity", "created_by", "created_at"]
    list_filter = ["conference"]
    search_fields = ["label"]
    readonly_fields = ["created_by", "created_at", "updated_at"]
