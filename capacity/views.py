"""Organizer dashboard: conference list, live widgets, the orders and waiting-list
tables, and order actions.

Views are thin: numbers come from ``capacity.dashboard`` (selectors over the
availability snapshot), changes from ``registration.services``. Access is for
the conference's organizers and superusers; anonymous visitors are sent to the
login page, everyone else gets 403. The order actions also need
``registration.manage_orders``. Every page here shows personal data: none is
stored by a cache (``private, no-store``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponseNotModified
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect
from django_tables2 import RequestConfig
from django_tables2.export import TableExport

from conference.models import Conference
from registration import services as order_services
from registration.models import Order, TicketType
from registration.permissions import can_manage_orders

from .dashboard import (
    CHART_GRANULARITIES,
    conference_tz,
    orders_for_table,
    waiting_entries_for_table,
)
from .models import can_override
from .tables import OrderFilterForm, OrderTable, WaitingListFilterForm, WaitingListTable
from .waiting import places_in_line
from .widgets import LiveDashboard, ticket_rows_to_draw, widget_versions


def _with_viewer_is_organizer(user):
    """Conferences annotated with whether ``user`` organizes them: access in the same query."""
    organizes = Conference.organizers.through.objects.filter(
        conference=OuterRef("pk"), user=user.pk
    )
    return Conference.objects.annotate(viewer_is_organizer=Exists(organizes))


def organizer_required(view):
    """Resolve ``slug`` to a Conference the user organizes, or refuse.

    Anonymous: redirect to login (for an htmx request, an HX-Redirect so a poll
    does not swallow the login page). Not an organizer: 403. The view runs, and
    its response is rendered, in the conference's time zone; no cache keeps it.
    """

    @wraps(view)
    def wrapper(request, slug, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.htmx:
                next_url = request.htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(next_url).url)
            return redirect_to_login(request.get_full_path())
        conference = get_object_or_404(_with_viewer_is_organizer(request.user), slug=slug)
        if not (request.user.is_superuser or conference.viewer_is_organizer):
            raise PermissionDenied("Only this conference's organizers can see its dashboard.")
        with timezone.override(conference_tz(conference)):
            response = view(request, conference, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return _no_store(response)

    return wrapper


@login_required
@require_GET
def conference_list(request):
    conferences = Conference.objects.all()
    if not request.user.is_superuser:
        conferences = conferences.filter(organizers=request.user)
    return render(request, "capacity/conference_list.html", {"conferences": conferences})


# --- the dashboard --------------------------------------------------------------------


def _granularity(request):
    chart = request.GET.get("chart", "")
    return chart if chart in CHART_GRANULARITIES else "hour"


def _dashboard_context(request, conference, granularity, versions, *, held=None, oob=False):
    """What the page (``oob`` False) or a poll draws: the widgets that moved since
    the versions the client ``held`` (all of them without), and of the ticket-type
    rows only those that changed when the client holds the same list of rows."""
    user = request.user
    dash = LiveDashboard(conference, granularity=granularity)
    moved = versions.moved(held)
    # A poll asks only when a widget it draws needs it, and then once.
    may_override = cache(lambda: can_override(user)) if oob else can_override(user)
    rows, redraw_rows = ticket_rows_to_draw(dash, moved, held, controls=may_override)
    return {
        "conference": conference,
        "dash": dash,
        "chart_granularity": granularity,
        "can_override": may_override,
        "oob": oob,
        "moved": moved,
        # None: the whole ticket-type widget; a list: only these rows.
        "redraw_rows": redraw_rows,
        "etag": versions.etag(_viewer(request), granularity, rows),
        "poll_seconds": versions.poll_seconds,
    }


def _viewer(request) -> str:
    # Widgets are drawn for one organizer in one language: either changing draws them
    # anew. No "-", which separates the parts of the ETag ("pt-br" becomes "pt_br").
    return f"{request.user.pk}:{get_language().replace('-', '_')}"


def _no_store(response):
    # The poll sends If-None-Match itself; the browser cache must stay out of it.
    patch_cache_control(response, no_store=True, private=True)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@organizer_required
def dashboard(request, conference):
    granularity = _granularity(request)
    versions = widget_versions(conference)
    context = _dashboard_context(request, conference, granularity, versions)
    return _no_store(render(request, "capacity/dashboard.html", context))


@require_GET
@organizer_required
def dashboard_poll(request, conference):
    """Out-of-band swaps of the widgets whose version moved since the client's ETag
    (every widget without one), or 304 before any rendering when none moved.

    The ETag names the version of each widget (``capacity.widgets``) and of each
    ticket-type row: of that widget, only the rows that changed are swapped. The
    poll element is one of the widgets, drawn again with its next delay when that
    changes.
    """
    granularity = _granularity(request)
    versions = widget_versions(conference)
    held = versions.held_by(request.headers.get("If-None-Match", ""), _viewer(request), granularity)
    if held is not None and not versions.moved(held):
        response = HttpResponseNotModified()
        response["ETag"] = held.etag
        return _no_store(response)
    context = _dashboard_context(request, conference, granularity, versions, held=held, oob=True)
    response = render(request, "capacity/dashboard.html#poll", context)
    response["ETag"] = context["etag"]
    return _no_store(response)


# --- the orders and waiting-list tables ----------------------------------------------------


def _table_page(request, conference, table, form, *, template, partial, noun, filename, only_csv):
    """A filtered table: the page, its partial for htmx, or ``?_export=csv`` (every row).

    The CSV is read by programs: its column names and values are in English
    whatever the language of the page (``only_csv`` is the message, in the
    reader's language, for asking another format)."""
    export_format = request.GET.get("_export")
    if export_format == TableExport.CSV:
        with translation.override("en"):
            RequestConfig(request, paginate=False).configure(table)
            exporter = TableExport(
                TableExport.CSV, table, dataset_kwargs={"title": f"{conference.name} {noun}"}
            )
        return _no_store(exporter.response(filename=f"{conference.slug}-{filename}.csv"))
    if export_format is not None:
        messages.error(request, only_csv)
    RequestConfig(request, paginate=True).configure(table)
    context = {"conference": conference, "table": table, "filter_form": form}
    show_partial = request.htmx and not request.htmx.history_restore_request
    if show_partial:
        template = f"{template}#{partial}"
    return _no_store(render(request, template, context))


@require_GET
@organizer_required
def order_list(request, conference):
    """All orders: sortable, paginated, filtered by status and search; ``?_export=csv`` for CSV."""
    form = OrderFilterForm(request.GET)
    status, search = form.filters()
    orders = orders_for_table(conference, status=status, search=search)
    table = OrderTable(orders, conference=conference)
    return _table_page(
        request,
        conference,
        table,
        form,
        template="capacity/orders.html",
        partial="orders-table",
        noun="orders",
        filename="orders",
        only_csv=_("The orders can be exported as CSV only."),
    )


@require_GET
@organizer_required
def waiting_list(request, conference):
    """The waiting list, in line order: sortable, paginated, filtered by status,
    ticket type and search; ``?_export=csv`` for CSV."""
    ticket_types = TicketType.objects.filter(conference=conference)
    form = WaitingListFilterForm(request.GET, ticket_types=ticket_types)
    status, ticket_type, search = form.filters()
    entries = waiting_entries_for_table(
        conference, status=status, ticket_type=ticket_type, search=search
    )
    table = WaitingListTable(entries, conference=conference)
    table.places = places_in_line(conference)
    return _table_page(
        request,
        conference,
        table,
        form,
        template="capacity/waiting_list.html",
        partial="waiting-table",
        noun="waiting list",
        filename="waiting-list",
        only_csv=_("The waiting list can be exported as CSV only."),
    )


# --- one order and what an organizer can do with it ----------------------------------------


class ConfirmForm(forms.Form):
    """Nothing to fill in: posting it is the confirmation."""


class ExtendHoldForm(forms.Form):
    minutes = forms.IntegerField(
        label=gettext_lazy("Extend by (minutes)"), min_value=1, max_value=60 * 24 * 30, initial=15
    )


@dataclass(frozen=True)
class OrderAction:
    """A change an organizer can make to an order, through a registration service.

    ``question`` and ``done`` name the order as ``%(ref)s``; ``confirm`` is the
    button that says yes."""

    slug: str
    label: str
    question: str
    done: str
    statuses: tuple
    # Calls the service with the order and the cleaned form data.
    perform: Callable[[Order, dict], Order]
    danger: bool = False
    form_class: type = ConfirmForm
    confirm: str = ""

    def run(self, order, form):
        return self.perform(order, form.cleaned_data)


S = Order.Status
ORDER_ACTIONS = {
    action.slug: action
    for action in [
        OrderAction(
            "mark-paid",
            gettext_lazy("Mark as paid"),
            gettext_lazy(
                "Record a manual payment for order %(ref)s? If its hold has lapsed, "
                "its seats are taken again only if they are still free."
            ),
            gettext_lazy("Order %(ref)s is marked as paid."),
            (S.PENDING, S.EXPIRED),
            lambda order, data: order_services.mark_paid(order, provider="manual"),
            confirm=gettext_lazy("Yes, mark as paid"),
        ),
        OrderAction(
            "extend-hold",
            gettext_lazy("Extend hold"),
            gettext_lazy(
                "Give order %(ref)s more time to pay? Its seats stay held until the new time."
            ),
            gettext_lazy("The hold on order %(ref)s is extended."),
            (S.PENDING, S.EXPIRED),
            lambda order, data: order_services.extend_hold(order, minutes=data["minutes"]),
            form_class=ExtendHoldForm,
            confirm=gettext_lazy("Yes, extend hold"),
        ),
        OrderAction(
            "partial-refund",
            gettext_lazy("Partial refund"),
            gettext_lazy("Record a partial refund of order %(ref)s? The buyer keeps the seats."),
            gettext_lazy("Order %(ref)s is partially refunded."),
            (S.PAID,),
            lambda order, data: order_services.refund_order(order, partial=True),
            confirm=gettext_lazy("Yes, partial refund"),
        ),
        OrderAction(
            "refund",
            gettext_lazy("Refund"),
            gettext_lazy("Refund order %(ref)s in full? Its seats become free at once."),
            gettext_lazy("Order %(ref)s is refunded; its seats are free again."),
            (S.PAID, S.PARTIALLY_REFUNDED),
            lambda order, data: order_services.refund_order(order),
            danger=True,
            confirm=gettext_lazy("Yes, refund"),
        ),
        OrderAction(
            "cancel",
            gettext_lazy("Cancel order"),
            gettext_lazy(
                "Cancel order %(ref)s? Its seats become free at once. This records no refund."
            ),
            gettext_lazy("Order %(ref)s is cancelled; its seats are free again."),
            (S.PENDING, S.EXPIRED, S.PAID, S.PARTIALLY_REFUNDED),
            lambda order, data: order_services.cancel_order(order),
            danger=True,
            confirm=gettext_lazy("Yes, cancel order"),
        ),
    ]
}


def _manage_orders_required(request):
    if not can_manage_orders(request.user):
        raise PermissionDenied("Only organizers allowed to manage orders can do this.")


def _order_of(conference, reference):
    return get_object_or_404(
        Order.objects.select_related("conference"), conference=conference, reference=reference
    )


@require_GET
@organizer_required
def order_detail(request, conference, reference):
    order = _order_of(conference, reference)
    context = {
        "conference": conference,
        "order": order,
        "lines": list(order.lines.all()),
        "hold_is_live": order.hold_is_live(),
        "actions": [
            action
            for action in ORDER_ACTIONS.values()
            if order.status in action.statuses and can_manage_orders(request.user)
        ],
    }
    return render(request, "capacity/order_detail.html", context)


@require_http_methods(["GET", "POST"])
@organizer_required
def order_action(request, conference, reference, action):
    """GET: the confirmation step. POST: run the service; its refusal becomes a message."""
    action = ORDER_ACTIONS.get(action)
    if action is None:
        raise Http404("No such order action.")
    _manage_orders_required(request)
    order = _order_of(conference, reference)
    detail_url = redirect("capacity:order", slug=conference.slug, reference=order.reference)
    if request.method == "GET":
        if order.status not in action.statuses:
            messages.error(
                request,
                # Translators: status is the order's status in lower case ("paid").
                _("Order %(reference)s is %(status)s: “%(action)s” does not apply.")
                % {
                    "reference": order.reference,
                    "status": order.get_status_display().lower(),
                    "action": action.label,
                },
            )
            return detail_url
        initial = {"minutes": conference.hold_minutes}
        form = action.form_class(initial=initial)
    else:
        form = action.form_class(request.POST)
        if form.is_valid():
            try:
                action.run(order, form)
            except ValidationError as error:
                for message in error.messages:
                    messages.error(request, message)
            else:
                messages.success(request, str(action.done) % {"ref": order.reference})
            return detail_url
    context = {
        "conference": conference,
        "order": order,
        "action": action,
        "question": str(action.question) % {"ref": order.reference},
        "form": form,
    }
    return render(request, "capacity/order_confirm.html", context)
