"""The attendee's order form, and the offers the ticket page lists.

The form only reads what was typed: whole numbers, a name, an email address.
Whether those tickets can be bought is decided by
``registration.services.place_order`` under the conference lock, never here.
"""

from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from capacity.numbers import WholeNumberField
from capacity.services import Availability, ItemAvailability, conference_catalogue

from .models import AddOn, TicketType

# Far above any max_per_order: only here so absurd numbers get a plain answer.
QUANTITY_CEILING = 1000


@dataclass(frozen=True)
class Offer:
    """One ticket type or add-on as the ticket page offers it, with its availability.

    ``state`` is None for an offer only used to read a posted form (see ``form_offers``).
    """

    item: TicketType | AddOn
    state: ItemAvailability | None

    @property
    def kind(self):
        return "ticket" if isinstance(self.item, TicketType) else "addon"

    @property
    def field_name(self):
        """The form field the order form posts: ``ticket-<slug>`` or ``addon-<slug>``."""
        return f"{self.kind}-{self.item.slug}"

    @property
    def is_listed(self):
        return self.item.is_active

    @property
    def purchasable(self):
        return self.state.on_sale and not self.state.sold_out

    @property
    def waitable(self):
        """A ticket type on sale that a newcomer cannot buy: its waiting list is open."""
        return self.kind == "ticket" and self.state.on_sale and self.state.sold_out

    @property
    def input_id(self):
        # The id changes when the item closes, so htmx's hx-preserve keeps what
        # was typed only while the item stays open, and a reopened item gets a
        # fresh, enabled input.
        suffix = "" if self.purchasable else "-closed"
        return f"id_{self.field_name}{suffix}"

    @property
    def most_per_order(self):
        if self.kind == "ticket":
            most = self.item.max_per_order
        else:
            most = settings.SEATKEEPER_ADDON_MAX_PER_ORDER
        if self.state.remaining is not None:
            most = min(most, self.state.remaining)
        return most


def offers_for(availability: Availability) -> list[Offer]:
    """Every ticket type and add-on of the snapshot's conference, paired with its state.

    No queries: the snapshot carries its rows. The order is the snapshot's
    (position, price, name).
    """
    return [
        Offer(item=state.item, state=state)
        for state in (*availability.ticket_types, *availability.addons)
    ]


def form_offers(conference) -> list[Offer]:
    """The conference's ticket types and add-ons without their availability, in one query.

    Enough to read a posted order form (its fields are named after them); whether
    anything can be bought is decided by ``place_order`` under the lock, which
    counts the seats itself.
    """
    ticket_types, addons = conference_catalogue(conference)
    return [Offer(item=item, state=None) for item in (*ticket_types, *addons)]


class QuantityField(WholeNumberField):
    """A quantity: empty means none; plain ASCII digits from 0 to QUANTITY_CEILING.

    Its messages name the item. Django formats the range checks' messages once
    more with the validator's values, so there a ``%`` in the name is doubled.
    """

    def __init__(self, item_name, **kwargs):
        checked = {"item": item_name.replace("%", "%%"), "ceiling": QUANTITY_CEILING}
        super().__init__(
            required=False,
            min_value=0,
            max_value=QUANTITY_CEILING,
            label=item_name,
            error_messages={
                "invalid": _("Enter a whole number for %(item)s, or leave it empty.")
                % {"item": item_name},
                "min_value": _("The quantity for %(item)s cannot be negative.") % checked,
                "max_value": _("%(ceiling)s is far more %(item)s than one order can hold.")
                % checked,
            },
            **kwargs,
        )


class OrderForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        label=gettext_lazy("Your name"),
        error_messages={
            "required": gettext_lazy("Enter your name."),
            "max_length": gettext_lazy("Your name is too long (200 characters at most)."),
        },
    )
    email = forms.EmailField(
        label=gettext_lazy("Email"),
        max_length=254,
        error_messages={
            "required": gettext_lazy("Enter your email address."),
            "invalid": gettext_lazy("Enter a valid email address."),
        },
    )

    def __init__(self, *args, offers, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.offers = offers
        self.conference = conference
        for offer in offers:
            self.fields[offer.field_name] = QuantityField(offer.item.name)

    def clean(self):
        known = set(self.fields)
        for key in self.data:
            kind, _dash, slug = key.partition("-")
            if kind in ("ticket", "addon") and slug and key not in known:
                if kind == "ticket":
                    message = _("There is no ticket type called “%(slug)s” at %(conference)s.")
                else:
                    message = _("There is no add-on called “%(slug)s” at %(conference)s.")
                self.add_error(
                    None, message % {"slug": slug[:80], "conference": self.conference.name}
                )
        return super().clean()

    def quantities(self, kind) -> dict[int, int]:
        """``{item pk: quantity}`` of one kind (``"ticket"`` or ``"addon"``), leaving out zeros."""
        chosen = {}
        for offer in self.offers:
            if offer.kind != kind:
                continue
            quantity = self.cleaned_data.get(offer.field_name)
            if quantity:
                chosen[offer.item.pk] = quantity
        return chosen

    def add_refusal(self, error):
        """Show why ``place_order`` refused, one message per problem."""
        for message in error.messages:
            self.add_error(None, message)

    def rows(self, kind):
        """(offer, bound field) of the listed offers of one kind, for the template."""
        return [
            (offer, self[offer.field_name] if offer.field_name in self.fields else None)
            for offer in self.offers
            if offer.kind == kind and offer.is_listed
        ]

    @property
    def ticket_rows(self):
        return self.rows("ticket")

    @property
    def addon_rows(self):
        return self.rows("addon")
