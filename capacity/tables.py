"""The organizers' tables (django-tables2): orders and the waiting list.

Sortable, paginated, filterable and exportable as CSV; text people typed is made
inert for spreadsheets on export.
"""

import django_tables2 as tables
from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from conference.templatetags.money import format_money
from registration.models import Order, WaitingListEntry

# Most rows a page may show, whatever ``per_page`` the query string asks for.
MAX_PER_PAGE = 100
# Spreadsheet programs run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text a buyer typed, made inert for spreadsheets (CSV formula injection)."""
    value = "" if value is None else str(value)
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


# The orders table's status filter value for bank transfers not yet received.
AWAITING_TRANSFER = "awaiting_transfer"


def is_awaiting_transfer(order) -> bool:
    """A pending order whose buyer chose bank transfer: the money has not arrived yet."""
    return order.status == Order.Status.PENDING and order.payment_provider == "manual"


def _local_iso(value):
    return timezone.localtime(value).isoformat(timespec="seconds") if value else ""


class OrderFilterForm(forms.Form):
    """The status filter and search box above the orders table."""

    status = forms.ChoiceField(
        choices=[
            ("", gettext_lazy("All statuses")),
            *Order.Status.choices,
            (AWAITING_TRANSFER, gettext_lazy("Awaiting transfer")),
        ],
        required=False,
    )
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": gettext_lazy("Reference, email or name"),
                "autocomplete": "off",
            }
        ),
    )

    def filters(self):
        """(status, search) to apply: valid input only; a bad value filters nothing."""
        if self.is_valid():
            return self.cleaned_data["status"], self.cleaned_data["q"]
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return data.get("status", ""), data.get("q", "")


class OrderTable(tables.Table):
    # Every sort ends on the primary key, so ties page deterministically.
    reference = tables.Column(verbose_name=gettext_lazy("Reference"))
    created_at = tables.DateTimeColumn(
        verbose_name=gettext_lazy("Placed"),
        format="SHORT_DATETIME_FORMAT",
        order_by=("created_at", "pk"),
    )
    name = tables.Column(verbose_name=gettext_lazy("Buyer"), order_by=("name", "pk"))
    email = tables.EmailColumn(verbose_name=gettext_lazy("Email"), order_by=("email", "pk"))
    tickets = tables.Column(
        verbose_name=gettext_lazy("Tickets"),
        attrs={"td": {"class": "num"}},
        order_by=("tickets", "pk"),
    )
    total = tables.Column(
        verbose_name=gettext_lazy("Total"), attrs={"td": {"class": "num"}}, order_by=("total", "pk")
    )
    status = tables.Column(verbose_name=gettext_lazy("Status"), order_by=("status", "pk"))
    paid_at = tables.DateTimeColumn(
        verbose_name=gettext_lazy("Paid"),
        format="SHORT_DATETIME_FORMAT",
        order_by=("paid_at", "pk"),
    )

    class Meta:
        model = Order
        fields = ()
        sequence = (
            "reference",
            "created_at",
            "name",
            "email",
            "tickets",
            "total",
            "status",
            "paid_at",
        )
        order_by = ("-created_at",)
        template_name = "capacity/orders_table.html"
        per_page = 25
        empty_text = gettext_lazy("No orders match.")
        attrs = {"class": "orders-table", "id": "orders"}
        row_attrs = {"data-reference": lambda record: record.reference}

    # Where htmx swaps a sorted or paged table (capacity/orders_table.html).
    results_id = "orders-results"
    pages_label = gettext_lazy("Pages of orders")

    def __init__(self, *args, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.conference = conference

    def paginate(self, *args, per_page=None, **kwargs):
        if per_page is not None:
            per_page = max(1, min(per_page, MAX_PER_PAGE))
        return super().paginate(*args, per_page=per_page, **kwargs)

    def render_reference(self, value):
        url = reverse("capacity:order", kwargs={"slug": self.conference.slug, "reference": value})
        return format_html('<a href="{}">{}</a>', url, value)

    def render_status(self, value, record):
        status = format_html(
            '<span class="status status-{}">{}</span>', record.status, record.get_status_display()
        )
        if is_awaiting_transfer(record):
            return format_html(
                '{} <span class="tag tag-transfer" data-field="awaiting-transfer">{}</span>',
                status,
                _("awaiting transfer"),
            )
        return status

    def render_total(self, value):
        return format_money(value)

    def value_total(self, value):
        return value  # a number a spreadsheet can add up

    def value_reference(self, value):
        return value

    def value_status(self, record):
        if is_awaiting_transfer(record):
            return _("%(status)s (awaiting transfer)") % {"status": record.get_status_display()}
        return record.get_status_display()

    def value_name(self, value):
        return spreadsheet_safe(value)

    def value_email(self, value):
        return spreadsheet_safe(value)

    def value_created_at(self, value):
        return _local_iso(value)

    def value_paid_at(self, value):
        return _local_iso(value)


# --- the waiting list ------------------------------------------------------------------

# The waiting-list table's ticket-type filter value for entries that take any ticket type.
ANY_TICKET_TYPE = "any"


class WaitingListFilterForm(forms.Form):
    """The status, ticket-type filter and search box above the waiting-list table."""

    status = forms.ChoiceField(
        choices=[("", gettext_lazy("All statuses")), *WaitingListEntry.Status.choices],
        required=False,
    )
    ticket_type = forms.ChoiceField(label=gettext_lazy("Ticket type"), required=False)
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": gettext_lazy("Email or name"),
                "autocomplete": "off",
            }
        ),
    )

    def __init__(self, *args, ticket_types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket_type"].choices = [
            ("", _("All ticket types")),
            (ANY_TICKET_TYPE, _("Any ticket type")),
            *[(str(ticket_type.pk), ticket_type.name) for ticket_type in ticket_types],
        ]

    def filters(self):
        """(status, ticket_type, search) to apply: valid input only; a bad value filters nothing."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return data.get("status", ""), data.get("ticket_type", ""), data.get("q", "")


class WaitingListTable(tables.Table):
    """A conference's waiting-list entries, oldest first: the order they are served in.

    ``places`` maps the pk of a WAITING entry shown to its place in line; the view
    fills it for the rows it shows.
    """

    place = tables.Column(
        verbose_name=gettext_lazy("Place"),
        empty_values=(),
        orderable=False,
        attrs={"td": {"class": "num"}},
    )
    created_at = tables.DateTimeColumn(
        verbose_name=gettext_lazy("Joined"),
        format="SHORT_DATETIME_FORMAT",
        order_by=("created_at", "pk"),
    )
    name = tables.Column(verbose_name=gettext_lazy("Name"), order_by=("name", "pk"))
    email = tables.EmailColumn(verbose_name=gettext_lazy("Email"), order_by=("email", "pk"))
    # None is "any ticket type": rendered and exported as "Any".
    ticket_type = tables.Column(
        verbose_name=gettext_lazy("Ticket type"),
        accessor="ticket_type__name",
        empty_values=(),
        order_by=("ticket_type__name", "created_at", "pk"),
    )
    quantity = tables.Column(
        verbose_name=gettext_lazy("Seats"),
        attrs={"td": {"class": "num"}},
        order_by=("quantity", "pk"),
    )
    status = tables.Column(
        verbose_name=gettext_lazy("Status"), order_by=("status", "created_at", "pk")
    )
    offer = tables.Column(
        verbose_name=gettext_lazy("Offer"),
        accessor="order__reference",
        default="",
        order_by=("offered_at", "pk"),
    )
    offer_until = tables.DateTimeColumn(
        verbose_name=gettext_lazy("Offer until"),
        accessor="order__hold_expires_at",
        format="SHORT_DATETIME_FORMAT",
        default="",
        order_by=("order__hold_expires_at", "pk"),
    )

    class Meta:
        model = WaitingListEntry
        fields = ()
        sequence = (
            "place",
            "created_at",
            "name",
            "email",
            "ticket_type",
            "quantity",
            "status",
            "offer",
            "offer_until",
        )
        order_by = ("created_at",)
        template_name = "capacity/orders_table.html"
        per_page = 25
        empty_text = gettext_lazy("No one on the waiting list matches.")
        attrs = {"class": "orders-table waiting-table", "id": "waiting-entries"}
        row_attrs = {
            "data-entry": lambda record: record.pk,
            "data-status": lambda record: record.status,
        }

    results_id = "waiting-results"
    pages_label = gettext_lazy("Pages of waiting-list entries")

    def __init__(self, *args, conference, **kwargs):
        super().__init__(*args, **kwargs)
        self.conference = conference
        self.places = {}

    def paginate(self, *args, per_page=None, **kwargs):
        if per_page is not None:
            per_page = max(1, min(per_page, MAX_PER_PAGE))
        return super().paginate(*args, per_page=per_page, **kwargs)

    def render_place(self, record):
        return self.places.get(record.pk, "—")

    def value_place(self, record):
        return self.places.get(record.pk, "")

    def render_status(self, value, record):
        return format_html(
            '<span class="status status-waiting-{}">{}</span>',
            record.status,
            record.get_status_display(),
        )

    def value_status(self, record):
        return record.get_status_display()

    def render_offer(self, value):
        url = reverse("capacity:order", kwargs={"slug": self.conference.slug, "reference": value})
        return format_html('<a href="{}" data-field="offer">{}</a>', url, value)

    def value_offer(self, value):
        return value

    def value_name(self, value):
        return spreadsheet_safe(value)

    def value_email(self, value):
        return spreadsheet_safe(value)

    def render_ticket_type(self, value):
        return value or _("Any")

    def value_ticket_type(self, value):
        return spreadsheet_safe(value) if value else _("Any")

    def value_created_at(self, value):
        return _local_iso(value)

    def value_offer_until(self, value):
        return _local_iso(value)
