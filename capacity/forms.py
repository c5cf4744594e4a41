"""Forms for capacity overrides, in the Django admin and on the dashboard.

The forms validate what a person typed and show what is taken now; they never
lock nor decide whether seats are free. The change itself is always made by a
service in ``capacity.services`` (or comp issuance in ``registration.services``),
which decides under the conference lock; its refusal becomes a form error
(``ServiceFormMixin.run`` on the dashboard, ``capacity.admin.ServiceRefusalAdminMixin``
in the admin).
"""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from registration.models import AddOn, TicketType
from registration.services import COMP_MAX_PER_LINE

from .models import BlockedSeats
from .numbers import WholeNumberField
from .services import MAX_CAPACITY, capacity_field_of
from .services import (
    clean_reason as require_reason,
)

REASON_HELP = gettext_lazy("Required for a change; it goes on the record with your name.")
FORCE_LABEL = gettext_lazy("Force: allow going below what is already taken")
BLOCK_FORCE_LABEL = gettext_lazy("Force: block even if fewer seats are free")


def _max_capacity():
    """MAX_CAPACITY written the reader's way ("1,000,000" in English)."""
    return number_format(MAX_CAPACITY, force_grouping=True)


def reason_field(**kwargs):
    return forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=1000,
        help_text=REASON_HELP,
        widget=forms.Textarea(attrs={"rows": 2}),
        **kwargs,
    )


def require_reason_when_changed(form, cleaned_data, field):
    """Clean the reason ``field`` of a form whose capacity changes: required, and stripped."""
    try:
        cleaned_data[field] = require_reason(cleaned_data.get(field))
    except ValidationError as error:
        form.add_error(field, error)


class ServiceFormMixin:
    """``run(action)`` calls a service; its ValidationError becomes a form error."""

    def run(self, action, field=None):
        try:
            return action()
        except ValidationError as error:
            self.add_error(field, error)
            return None


def describe_taken(state) -> str:
    values = {
        "taken": state.taken,
        "sold": state.sold,
        "held": state.held,
        "blocked": state.blocked,
    }
    if state.blocked:
        return (
            _("%(taken)s taken now (%(sold)s sold, %(held)s held, %(blocked)s blocked).") % values
        )
    return _("%(taken)s taken now (%(sold)s sold, %(held)s held).") % values


# --- the Django admin ------------------------------------------------------------


class CapacityOverrideAdminForm(forms.ModelForm):
    """Admin change form of a Conference, TicketType or AddOn whose capacity may change.

    The capacity asks for a reason only when it changes, and is saved by
    ``override_capacity`` (see ``capacity.admin.CapacityOverrideAdminMixin``),
    which refuses going below what is taken unless forced.
    """

    capacity_reason = reason_field()
    capacity_force = forms.BooleanField(label=FORCE_LABEL, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.capacity_field
        if self.instance.pk and field in self.fields:
            self.fields[field].help_text = (
                f"{self.fields[field].help_text} "
                + _("Changing it asks for a reason and goes on the record.")
            ).strip()

    @property
    def capacity_field(self):
        return capacity_field_of(self.instance)

    @property
    def capacity_changed(self):
        return bool(
            self.instance.pk
            and self.capacity_field in self.fields
            and self.capacity_field in self.changed_data
        )

    def clean(self):
        cleaned_data = super().clean()
        field = self.capacity_field
        if not self.capacity_changed or self.has_error(field):
            return cleaned_data
        total = cleaned_data.get(field)
        if total is not None and total > MAX_CAPACITY:
            self.add_error(
                field,
                _("Capacity cannot be more than %(maximum)s.") % {"maximum": _max_capacity()},
            )
            return cleaned_data
        require_reason_when_changed(self, cleaned_data, "capacity_reason")
        return cleaned_data


class BlockedSeatsAddForm(forms.ModelForm):
    """Blocking seats from the admin: saved by ``block_seats``, with a reason; the
    service refuses more seats than are free unless forced."""

    reason = reason_field()
    force = forms.BooleanField(label=BLOCK_FORCE_LABEL, required=False)

    class Meta:
        model = BlockedSeats
        fields = ["conference", "ticket_type", "label", "quantity"]

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if not 1 <= quantity <= MAX_CAPACITY:
            raise ValidationError(_("Block 1 to %(maximum)s seats.") % {"maximum": _max_capacity()})
        return quantity

    def clean_reason(self):
        return require_reason(self.cleaned_data.get("reason"))

    def clean(self):
        cleaned_data = super().clean()
        conference = cleaned_data.get("conference")
        ticket_type = cleaned_data.get("ticket_type")
        if conference and ticket_type and ticket_type.conference_id != conference.pk:
            self.add_error(
                "ticket_type",
                _("%(ticket_type)s is not sold for %(conference)s.")
                % {"ticket_type": ticket_type.name, "conference": conference.name},
            )
        return cleaned_data


class BlockedSeatsChangeForm(forms.ModelForm):
    """Changing a block in the admin: the label freely, the quantity only downwards (a release)."""

    reason = reason_field()

    class Meta:
        model = BlockedSeats
        fields = ["label", "quantity"]
        help_texts = {
            "quantity": gettext_lazy("Lower it to release seats; add a new block to block more.")
        }

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity > self.initial.get("quantity", 0):
            raise ValidationError(_("Blocks only shrink; add a new block to block more seats."))
        return quantity

    def clean(self):
        cleaned_data = super().clean()
        if "quantity" in self.changed_data and not self.has_error("quantity"):
            require_reason_when_changed(self, cleaned_data, "reason")
        return cleaned_data


# --- the dashboard ---------------------------------------------------------------


class AdjustCapacityForm(ServiceFormMixin, forms.Form):
    """The "Adjust capacity" dialog of one widget row: venue, ticket type or add-on."""

    total = WholeNumberField(
        label=gettext_lazy("New capacity"),
        min_value=0,
        max_value=MAX_CAPACITY,
        help_text=gettext_lazy("0 means unlimited."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "autofocus": True}),
    )
    reason = reason_field()
    force = forms.BooleanField(label=FORCE_LABEL, required=False)

    def __init__(self, *args, target, state, **kwargs):
        self.target = target
        self.state = state
        kwargs.setdefault("initial", {"total": state.capacity})
        super().__init__(*args, **kwargs)
        self.fields["total"].widget.attrs["min"] = 0

    def clean(self):
        cleaned_data = super().clean()
        total = cleaned_data.get("total")
        if total is None:
            return cleaned_data
        if total == self.state.capacity:
            if total == 0:
                raise ValidationError(_("The capacity is already unlimited; nothing to change."))
            raise ValidationError(
                _("The capacity is already %(total)s; nothing to change.") % {"total": total}
            )
        require_reason_when_changed(self, cleaned_data, "reason")
        return cleaned_data


class BlockSeatsForm(ServiceFormMixin, forms.Form):
    """Set seats aside on the dashboard, venue-wide or for one ticket type."""

    quantity = WholeNumberField(
        label=gettext_lazy("Seats"),
        min_value=1,
        max_value=MAX_CAPACITY,
        widget=forms.NumberInput(attrs={"autofocus": True}),
    )
    label = forms.CharField(
        label=gettext_lazy("Label"),
        max_length=120,
        help_text=gettext_lazy('Who they are for, e.g. "speakers".'),
    )
    ticket_type = forms.ModelChoiceField(
        label=gettext_lazy("Ticket type"),
        queryset=TicketType.objects.none(),
        required=False,
        empty_label=gettext_lazy("Whole venue"),
    )
    reason = reason_field()
    force = forms.BooleanField(label=BLOCK_FORCE_LABEL, required=False)

    def __init__(self, *args, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.conference = conference
        self.fields["ticket_type"].queryset = TicketType.objects.filter(conference=conference)

    def clean_reason(self):
        return require_reason(self.cleaned_data.get("reason"))


class ReleaseSeatsForm(ServiceFormMixin, forms.Form):
    """Give back some (or, left empty, all) seats of one block."""

    quantity = WholeNumberField(
        label=gettext_lazy("Seats to release"),
        min_value=1,
        max_value=MAX_CAPACITY,
        required=False,
        help_text=gettext_lazy("Leave empty to release all of them."),
        widget=forms.NumberInput(attrs={"autofocus": True}),
    )
    reason = reason_field()

    def clean_reason(self):
        return require_reason(self.cleaned_data.get("reason"))


class CompOrderForm(ServiceFormMixin, forms.Form):
    """Issue a comp order: one number input per ticket type and add-on, plus a reason."""

    name = forms.CharField(
        label=gettext_lazy("Attendee name"),
        max_length=200,
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    email = forms.EmailField(label=gettext_lazy("Attendee email"))
    reason = reason_field()

    def __init__(self, *args, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.conference = conference
        self.ticket_types = list(TicketType.objects.filter(conference=conference))
        self.addons = list(AddOn.objects.filter(conference=conference))
        for prefix, items in (("ticket", self.ticket_types), ("addon", self.addons)):
            for item in items:
                self.fields[f"{prefix}-{item.slug}"] = WholeNumberField(
                    label=item.name,
                    min_value=0,
                    max_value=COMP_MAX_PER_LINE,
                    required=False,
                    widget=forms.NumberInput(attrs={"min": 0, "max": COMP_MAX_PER_LINE}),
                )

    def _bound_fields(self, prefix):
        return [self[name] for name in self.fields if name.startswith(f"{prefix}-")]

    @property
    def ticket_fields(self):
        return self._bound_fields("ticket")

    @property
    def addon_fields(self):
        return self._bound_fields("addon")

    def _wanted(self, prefix, items):
        wanted = {}
        for item in items:
            quantity = self.cleaned_data.get(f"{prefix}-{item.slug}")
            if quantity:
                wanted[item] = quantity
        return wanted

    def clean_reason(self):
        return require_reason(self.cleaned_data.get("reason"))

    def clean(self):
        cleaned_data = super().clean()
        if not self.errors and not self._wanted("ticket", self.ticket_types):
            raise ValidationError(_("Choose at least one ticket for the comp order."))
        return cleaned_data

    @property
    def tickets(self):
        return self._wanted("ticket", self.ticket_types)

    @property
    def addons_wanted(self):
        return self._wanted("addon", self.addons)
