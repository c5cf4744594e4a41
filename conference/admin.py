"""Admin for conferences, with the venue's seats from the availability snapshot."""

from django.contrib import admin

from capacity.admin import AvailabilityColumnsMixin, CapacityOverrideAdminMixin

from .models import Conference


@admin.register(Conference)
class ConferenceAdmin(CapacityOverrideAdminMixin, AvailabilityColumnsMixin, admin.ModelAdmin):
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

    def item_availability(self, obj):
        return self.availability_of(obj)

    @admin.display(description="Capacity")
    def capacity_display(self, obj):
        return obj.total_capacity or "Unlimited"

    @admin.display(description="Blocked")
    def seats_blocked(self, obj):
        return self.availability_of(obj).blocked
