"""Admin for conferences, with the venue's seats from the availability snapshot.

A non-superuser sees only the conferences they organize; one they create lists
them among its organizers.
"""

from django.contrib import admin

from capacity.admin import AvailabilityColumnsMixin, CapacityOverrideAdminMixin

from .models import Conference
from .scoping import OrganizerScopedAdminMixin


@admin.register(Conference)
class ConferenceAdmin(
    OrganizerScopedAdminMixin,
    CapacityOverrideAdminMixin,
    AvailabilityColumnsMixin,
    admin.ModelAdmin,
):
    list_display = [
        "name",
        "slug",
        "start_date",
        "capacity_display",
        "seats_sold",
        "seats_held",
        "seats_blocked",
        "seats_remaining",
    ]
    search_fields = ["name", "slug"]
    list_filter = ["start_date"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["organizers"]
    date_hierarchy = "start_date"
    conference_lookup = "pk"

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.organizers.add(request.user)

    def item_availability(self, obj):
        return self.availability_of(obj)

    @admin.display(description="Capacity")
    def capacity_display(self, obj):
        return obj.total_capacity or "Unlimited"

    @admin.display(description="Blocked")
    def seats_blocked(self, obj):
        return self.availability_of(obj).blocked
