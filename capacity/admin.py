"""Admin for blocked seats and the override audit, plus what other admins share.

Shared: the availability columns, ``CapacityOverrideAdminMixin``, through which
the capacity fields of conferences, ticket types and add-ons change, and
``ServiceRefusalAdminMixin``, which shows a service's refusal on the form.
"""

import threading

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models

from conference.scoping import OrganizerScopedAdminMixin, scoped_conference_filter

from .forms import (
    BlockedSeatsAddForm,
    BlockedSeatsChangeForm,
    CapacityOverrideAdminForm,
    describe_taken,
)
from .models import BlockedSeats, CapacityChange, can_override
from .numbers import WholeNumberField
from .services import (
    block_seats,
    capacity_state,
    get_availability,
    override_capacity,
    release_blocked_seats,
)

_changelist = threading.local()


class AvailabilityColumnsMixin:
    """Sold / held / remaining columns read from one snapshot per conference per page."""

    def changelist_view(self, request, extra_context=None):
        _changelist.snapshots = {}
        try:
            return super().changelist_view(request, extra_context)
        finally:
            # None, not {}: outside a changelist every read is fresh, and no
            # snapshot outlives its request in this thread.
            _changelist.snapshots = None

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


class RefusedByService(Exception):
    """A service refused what a valid admin form asked for; ``error`` belongs on ``field``."""

    def __init__(self, field, error: ValidationError):
        super().__init__(field, error)
        self.field = field
        self.error = error


def _form_showing(form, refusal):
    """``form`` (a form class) that, once its own checks pass, shows ``refusal``."""

    class RefusedForm(form):
        def clean(self):
            cleaned_data = super().clean()
            field = refusal.field if refusal.field in self.fields else None
            self.add_error(field, refusal.error)
            return cleaned_data

    return RefusedForm


class ServiceRefusalAdminMixin:
    """A service's refusal shows on the admin form, and nothing is written.

    The form checks only what was typed; the service decides under the conference
    lock, from ``save_model``, and its ValidationError is raised from there as
    ``RefusedByService``. The admin saves in one transaction, so the refusal
    rolls back everything the save wrote; the form is then validated again with
    the refusal as its error and shown as for any other invalid input.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except RefusedByService as refusal:
            request.service_refusal = refusal
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "service_refusal", None)
        return form if refusal is None else _form_showing(form, refusal)


class CapacityOverrideAdminMixin(ServiceRefusalAdminMixin):
    """The capacity field of a Conference, TicketType or AddOn changes only through
    ``override_capacity``: with a reason, never below what is taken unless forced,
    and only for staff with ``capacity.override_capacity`` (read-only for others).
    Creating an object sets its initial capacity directly.
    """

    override_fields = ["seats_taken_now", "capacity_reason", "capacity_force"]
    # Capacities, quantities and minutes are typed as plain ASCII digits.
    formfield_overrides = {models.PositiveIntegerField: {"form_class": WholeNumberField}}

    @property
    def capacity_field(self):
        return "total_capacity" if self.model._meta.model_name == "conference" else "total_quantity"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and can_override(request.user):
            kwargs.setdefault("form", CapacityOverrideAdminForm)
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields.append("seats_taken_now")
            if not can_override(request.user):
                fields.append(self.capacity_field)
        return fields

    def get_fields(self, request, obj=None):
        fields = [name for name in super().get_fields(request, obj)]
        if self.capacity_field in fields:
            moved = [name for name in self.override_fields if name in fields]
            fields = [name for name in fields if name not in moved]
            at = fields.index(self.capacity_field) + 1
            fields[at:at] = moved
        return fields

    @admin.display(description="Taken now")
    def seats_taken_now(self, obj):
        return describe_taken(capacity_state(obj))

    def save_model(self, request, obj, form, change):
        if not change:
            return super().save_model(request, obj, form, change)
        field = self.capacity_field
        # Never write the capacity with the rest: it may be stale, and only the
        # service may change it.
        obj.save(
            update_fields=[
                f.name for f in obj._meta.concrete_fields if not f.primary_key and f.name != field
            ]
        )
        if getattr(form, "capacity_changed", False):
            try:
                override_capacity(
                    target=obj,
                    total=form.cleaned_data[field],
                    reason=form.cleaned_data["capacity_reason"],
                    user=request.user,
                    force=form.cleaned_data.get("capacity_force", False),
                )
            except ValidationError as error:
                raise RefusedByService(field, error) from None


@admin.register(BlockedSeats)
class BlockedSeatsAdmin(OrganizerScopedAdminMixin, ServiceRefusalAdminMixin, admin.ModelAdmin):
    """Blocks are made by ``block_seats`` and shrink only by ``release_blocked_seats``."""

    list_display = ["label", "conference", "ticket_type", "quantity", "created_by", "created_at"]
    list_filter = [scoped_conference_filter()]
    formfield_overrides = {models.PositiveIntegerField: {"form_class": WholeNumberField}}
    search_fields = ["label"]
    list_select_related = ["conference", "ticket_type", "created_by"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = BlockedSeatsAddForm if obj is None else BlockedSeatsChangeForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["conference", "ticket_type", "label", "quantity", "reason", "force"]
        if not self.has_change_permission(request, obj):
            return ["conference", "ticket_type", "label", "quantity", "created_by", "created_at"]
        return ["conference", "ticket_type", "label", "quantity", "reason", "created_by"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["conference", "ticket_type", "created_by", "created_at"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and can_override(request.user)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.quantity == 0:
            return False
        return super().has_change_permission(request, obj) and can_override(request.user)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if not change:
            try:
                block = block_seats(
                    conference=data["conference"],
                    ticket_type=data["ticket_type"],
                    quantity=data["quantity"],
                    label=data["label"],
                    reason=data["reason"],
                    user=request.user,
                    force=data["force"],
                )
            except ValidationError as error:
                raise RefusedByService("quantity", error) from None
            obj.pk, obj.created_by, obj.created_at = block.pk, block.created_by, block.created_at
            obj._state.adding = False
            return
        released = form.initial["quantity"] - data["quantity"]
        obj.quantity = form.initial["quantity"]
        obj.save(update_fields=["label", "updated_at"])
        if released > 0:
            try:
                release_blocked_seats(
                    block=obj, quantity=released, reason=data["reason"], user=request.user
                )
            except ValidationError as error:
                raise RefusedByService("quantity", error) from None


@admin.register(CapacityChange)
class CapacityChangeAdmin(OrganizerScopedAdminMixin, admin.ModelAdmin):
    """The override audit: read-only, for everyone."""

    list_display = ["created_at", "conference", "summary", "reason", "user", "forced"]
    list_filter = [scoped_conference_filter(), "target_kind", "forced"]
    search_fields = ["reason", "target_name", "user__username"]
    list_select_related = ["conference", "user"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
