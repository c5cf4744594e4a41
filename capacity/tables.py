"""The organizers' orders table (django-tables2): sortable, paginated, filterable, exportable."""

import django_tables2 as tables
from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from registration.models import Order

# Most rows a page may show, whatever ``per_page`` the query string asks for.
MAX_PER_PAGE = 100
# Spreadsheet programs run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """Text a buyer typed, made inert for spreadsheets (CSV formula injection)."""
    value = "" if value is None else str(value)
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


class OrderFilterForm(forms.Form):
    """The status filter and search box above the orders table."""

    status = forms.ChoiceField(
        choices=[("", "All statuses"), *Order.Status.choices], required=False
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Reference, email or name",
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
    reference = tables.Column(verbose_name="Reference")
    created_at = tables.DateTimeColumn(
        verbose_name="Placed", format="j M Y H:i", order_by=("created_at", "pk")
    )
    name = tables.Column(verbose_name="Buyer", order_by=("name", "pk"))
    email = tables.EmailColumn(verbose_name="Email", order_by=("email", "pk"))
    tickets = tables.Column(
        verbose_name="Tickets", attrs={"td": {"class": "num"}}, order_by=("tickets", "pk")
    )
    total = tables.Column(
        verbose_name="Total", attrs={"td": {"class": "num"}}, order_by=("total", "pk")
    )
    status = tables.Column(verbose_name="Status", order_by=("status", "pk"))
    paid_at = tables.DateTimeColumn(
        verbose_name="Paid", format="j M Y H:i", order_by=("paid_at", "pk")
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
        empty_text = "No orders match."
        attrs = {"class": "orders-table", "id": "orders"}
        row_attrs = {"data-reference": lambda record: record.reference}

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
        return format_html(
            '<span class="status status-{}">{}</span>', record.status, record.get_status_display()
        )

    def value_reference(self, value):
        return value

    def value_status(self, record):
        return record.get_status_display()

    def value_name(self, value):
        return spreadsheet_safe(value)

    def value_email(self, value):
        return spreadsheet_safe(value)

    def value_created_at(self, value):
        return timezone.localtime(value).isoformat(timespec="seconds")

    def value_paid_at(self, value):
        return timezone.localtime(value).isoformat(timespec="seconds") if value else ""
