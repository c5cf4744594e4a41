"""The form that puts a person on a conference's waiting list.

It only reads what was typed: a whole number of seats, a name, an email address
and which ticket type (or "any"). Whether the person may wait, and for how
many, is decided by ``registration.services.join_waiting_list`` under the
conference lock, never here.
"""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from capacity.numbers import WholeNumberField

from .forms import QUANTITY_CEILING, OrderForm
from .models import TicketType

# What the form posts for "any ticket type of the conference will do".
ANY_TICKET_TYPE = "any"


def waited_for(conference, value) -> TicketType | None:
    """The ticket type of ``conference`` whose slug is ``value``; None for any
    ticket type (``value`` empty or "any").

    Raises ValidationError when the conference sells no ticket type of that slug
    (a ticket type of another conference included).
    """
    slug = (value or "").strip()
    if slug in ("", ANY_TICKET_TYPE):
        return None
    ticket_type = None
    if len(slug) <= 100 and "\x00" not in slug:
        ticket_type = TicketType.objects.filter(conference=conference, slug=slug).first()
    if ticket_type is None:
        raise forms.ValidationError(
            _("There is no ticket type called “%(slug)s” at %(conference)s.")
            % {"slug": slug[:80], "conference": conference.name},
            code="unknown_ticket_type",
        )
    return ticket_type


class WaitingListForm(forms.Form):
    quantity = WholeNumberField(
        min_value=1,
        max_value=QUANTITY_CEILING,
        initial=1,
        label=gettext_lazy("Seats"),
        error_messages={
            "required": gettext_lazy("Enter how many seats you want: 1 or more."),
            "invalid": gettext_lazy("Enter the number of seats as a whole number."),
            "min_value": gettext_lazy("Enter how many seats you want: 1 or more."),
            # Django fills in limit_value: QUANTITY_CEILING.
            "max_value": gettext_lazy(
                "%(limit_value)s seats is far more than one person can wait for."
            ),
        },
    )
    # The same fields, and the same words, as the order form's.
    name = OrderForm.base_fields["name"]
    email = OrderForm.base_fields["email"]
    # A ticket type's slug; empty or "any" for any ticket type.
    ticket_type = forms.CharField(required=False, initial=ANY_TICKET_TYPE, widget=forms.HiddenInput)

    def __init__(self, *args, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.conference = conference

    def clean_ticket_type(self) -> TicketType | None:
        return waited_for(self.conference, self.cleaned_data["ticket_type"])

    def add_refusal(self, error):
        """Show why ``join_waiting_list`` refused, one message per problem."""
        for message in error.messages:
            self.add_error(None, message)

    @property
    def ticket_type_is_known(self) -> bool:
        """Whether the posted ticket type was read (a ticket type of this conference, or any)."""
        return "ticket_type" in getattr(self, "cleaned_data", {})
