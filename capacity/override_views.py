"""Capacity overrides on the dashboard: adjust a capacity, block and release seats,
issue comp tickets, read the audit list.

Every view is for the conference's organizers (and superusers) who also hold
``capacity.override_capacity``; anyone else gets 403 (anonymous: the login page),
checked here on the server whatever the page showed. Views are thin: forms
validate, services change, the availability snapshot supplies every number.

The "Adjust capacity" dialog says, as a raise is typed, how many people on the
waiting list it would reach (``adjust_preview``, fetched by the capacity input).

Each form is a dialog. An htmx request gets the dialog alone (errors re-render
it; success replaces it with a confirmation and fires ``capacity-changed`` so the
panels and the dashboard refresh at once); without htmx the same dialog is shown
open on the overrides page and success redirects back there.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from registration.models import AddOn, TicketType
from registration.services import issue_comp_order

from .forms import (
    AdjustCapacityForm,
    BlockSeatsForm,
    CompOrderForm,
    ReleaseSeatsForm,
    describe_taken,
)
from .models import BlockedSeats, CapacityChange, can_override
from .services import (
    MAX_CAPACITY,
    block_seats,
    capacity_state,
    get_availability,
    override_capacity,
    release_blocked_seats,
)
from .views import organizer_required
from .waiting import raise_preview

TEMPLATE = "capacity/overrides.html"
CHANGED_EVENT = "capacity-changed"
AUDIT_PAGE_SIZE = 25
RECENT_CHANGES = 5


def override_required(view):
    """An organizer of the conference (see ``organizer_required``) who may override capacity."""

    @organizer_required
    @wraps(view)
    def wrapper(request, conference, *args, **kwargs):
        if not can_override(request.user):
            raise PermissionDenied("Only staff allowed to override capacity can do this.")
        return view(request, conference, *args, **kwargs)

    return wrapper


# --- what the page shows ------------------------------------------------------------


def _active_blocks(conference):
    return (
        BlockedSeats.objects.filter(conference=conference, quantity__gt=0)
        .select_related("ticket_type", "created_by")
        .order_by("created_at", "pk")
    )


def _changes(conference):
    return CapacityChange.objects.filter(conference=conference).select_related("user")


def _page_context(request, conference, **extra):
    availability = get_availability(conference)
    audit_page = Paginator(_changes(conference), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "conference": conference,
        "availability": availability,
        "blocks": list(_active_blocks(conference)),
        "audit_page": audit_page,
        "poll_seconds": settings.SEATKEEPER_DASHBOARD_POLL_SECONDS,
        **extra,
    }


@require_GET
@override_required
def overrides(request, conference):
    """The overrides page: capacities, blocked seats, comp tickets and the audit list."""
    return render(request, TEMPLATE, _page_context(request, conference))


@require_GET
@override_required
def capacity_table(request, conference):
    context = {
        "conference": conference,
        "availability": get_availability(conference),
        "poll_seconds": settings.SEATKEEPER_DASHBOARD_POLL_SECONDS,
    }
    return render(request, f"{TEMPLATE}#capacity-table", context)


@require_GET
@override_required
def blocked_seats_list(request, conference):
    context = {"conference": conference, "blocks": list(_active_blocks(conference))}
    return render(request, f"{TEMPLATE}#blocked-seats", context)


@require_GET
@override_required
def audit_list(request, conference):
    """The audit list, newest first; the whole page without htmx."""
    if not request.htmx:
        return render(request, TEMPLATE, _page_context(request, conference))
    audit_page = Paginator(_changes(conference), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"conference": conference, "audit_page": audit_page}
    response = render(request, f"{TEMPLATE}#audit-list", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_GET
@override_required
def dashboard_summary(request, conference):
    """Blocked seats and the latest overrides, for the panel on the dashboard."""
    context = {
        "conference": conference,
        "blocks": list(_active_blocks(conference)),
        "recent_changes": list(_changes(conference)[:RECENT_CHANGES]),
    }
    return render(request, f"{TEMPLATE}#dashboard-summary", context)


# --- dialogs ----------------------------------------------------------------------


def _dialog(request, conference, dialog, context):
    """The dialog alone for htmx; otherwise the overrides page with the dialog open.

    A POST that ends here was refused: without htmx that is a 400 (htmx swaps
    only successful answers, so it gets the dialog with its errors as a 200).
    """
    context = {"dialog": dialog, **context}
    status = 400 if request.method == "POST" else 200
    if request.htmx:
        response = render(
            request, f"{TEMPLATE}#{dialog}-dialog", {"conference": conference, **context}
        )
    else:
        response = render(
            request, TEMPLATE, _page_context(request, conference, **context), status=status
        )
    patch_vary_headers(response, ["HX-Request"])
    return response


def _done(request, conference, message):
    """Success: a confirmation in place of the dialog (htmx) or a redirect with a message."""
    if not request.htmx:
        messages.success(request, message)
        return redirect("capacity:overrides", slug=conference.slug)
    response = render(
        request,
        f"{TEMPLATE}#done-dialog",
        {"conference": conference, "message": message},
    )
    return trigger_client_event(response, CHANGED_EVENT)


def _target(conference, kind, pk):
    if kind == "venue" and pk is None:
        return conference, _("Venue capacity")
    model = {"ticket": TicketType, "addon": AddOn}.get(kind)
    if model is None or pk is None:
        raise Http404("No such capacity.")
    target = get_object_or_404(model, pk=pk, conference=conference)
    target.conference = conference
    if kind == "ticket":
        return target, _("Ticket type %(name)s") % {"name": target.name}
    return target, _("Add-on %(name)s") % {"name": target.name}


def _shown(total):
    return _("unlimited") if total == 0 else str(total)


def _typed_total(data) -> int | None:
    """The whole number typed as the new capacity, or None for anything else."""
    try:
        total = int(str(data.get("total", "")).strip())
    except (TypeError, ValueError):
        return None
    return total if 0 <= total <= MAX_CAPACITY else None


@require_http_methods(["GET", "POST"])
@override_required
def adjust_capacity(request, conference, kind, pk=None):
    """Change the venue capacity or a ticket type's / add-on's quantity, with a reason."""
    target, title = _target(conference, kind, pk)
    state = capacity_state(target)
    data = request.POST if request.method == "POST" else None
    form = AdjustCapacityForm(data, target=target, state=state)
    if data is not None and form.is_valid():
        old = state.capacity
        done = form.run(
            lambda: override_capacity(
                target=target,
                total=form.cleaned_data["total"],
                reason=form.cleaned_data["reason"],
                user=request.user,
                force=form.cleaned_data["force"],
            )
        )
        if done is not None:
            new = form.cleaned_data["total"]
            return _done(
                request,
                conference,
                # Translators: what is "Venue capacity", "Ticket type Regular"…
                _("%(what)s changed from %(old)s to %(new)s.")
                % {"what": title, "old": _shown(old), "new": _shown(new)},
            )
    preview_url = _adjust_preview_url(conference, kind, pk)
    if preview_url:
        form.fields["total"].widget.attrs.update(
            {
                "hx-get": preview_url,
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#adjust-raise-preview",
                "hx-swap": "outerHTML",
                "hx-sync": "this:replace",
                "aria-describedby": "adjust-raise-preview",
            }
        )
    context = {
        "form": form,
        "title": title,
        "state": state,
        "taken_text": describe_taken(state),
        "action_url": request.path,
        "preview_url": preview_url,
        "raise_preview": raise_preview(target, state, _typed_total(data or QueryDict())),
    }
    return _dialog(request, conference, "adjust", context)


def _adjust_preview_url(conference, kind, pk):
    """Where the dialog asks what a raise would do; None for add-ons (no waiting list)."""
    if kind == "venue":
        return reverse("capacity:override-adjust-venue-preview", kwargs={"slug": conference.slug})
    if kind == "ticket":
        return reverse(
            "capacity:override-adjust-preview",
            kwargs={"slug": conference.slug, "kind": kind, "pk": pk},
        )
    return None


@require_GET
@override_required
def adjust_preview(request, conference, kind, pk=None):
    """The dialog's line about the waiting list for the capacity typed (``?total=``).

    Anything but a raise, or a value that is not a capacity, gives an empty line.
    """
    target, _ = _target(conference, kind, pk)
    state = capacity_state(target)
    context = {"raise_preview": raise_preview(target, state, _typed_total(request.GET))}
    response = render(request, f"{TEMPLATE}#raise-preview", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@override_required
def block(request, conference):
    """Set seats aside, venue-wide or for one ticket type."""
    data = request.POST if request.method == "POST" else None
    form = BlockSeatsForm(data, conference=conference)
    if data is not None and form.is_valid():
        fields = form.cleaned_data
        blocked = form.run(
            lambda: block_seats(
                conference=conference,
                quantity=fields["quantity"],
                label=fields["label"],
                ticket_type=fields["ticket_type"],
                reason=fields["reason"],
                user=request.user,
                force=fields["force"],
            )
        )
        if blocked is not None:
            values = {"count": blocked.quantity, "label": blocked.label}
            if blocked.ticket_type_id:
                values["ticket_type"] = blocked.ticket_type.name
                message = ngettext(
                    "%(count)s seat of %(ticket_type)s blocked for %(label)s.",
                    "%(count)s seats of %(ticket_type)s blocked for %(label)s.",
                    blocked.quantity,
                )
            else:
                message = ngettext(
                    "%(count)s seat blocked for %(label)s.",
                    "%(count)s seats blocked for %(label)s.",
                    blocked.quantity,
                )
            return _done(request, conference, message % values)
    context = {
        "form": form,
        "availability": get_availability(conference),
        "action_url": request.path,
    }
    return _dialog(request, conference, "block", context)


@require_http_methods(["GET", "POST"])
@override_required
def release(request, conference, pk):
    """Give back some or all seats of one block."""
    blocked = get_object_or_404(BlockedSeats, pk=pk, conference=conference)
    data = request.POST if request.method == "POST" else None
    form = ReleaseSeatsForm(data)
    if data is not None and form.is_valid():
        before = blocked.quantity
        released = form.run(
            lambda: release_blocked_seats(
                block=blocked,
                quantity=form.cleaned_data["quantity"],
                reason=form.cleaned_data["reason"],
                user=request.user,
            )
        )
        if released is not None:
            count = before - released.quantity
            return _done(
                request,
                conference,
                ngettext(
                    "%(count)s seat released from %(label)s; %(left)s still blocked.",
                    "%(count)s seats released from %(label)s; %(left)s still blocked.",
                    count,
                )
                % {"count": count, "label": blocked.label, "left": released.quantity},
            )
    context = {"form": form, "block": blocked, "action_url": request.path}
    return _dialog(request, conference, "release", context)


@require_http_methods(["GET", "POST"])
@override_required
def comp_order(request, conference):
    """Issue a free comp order that may exceed the cap, on the record."""
    data = request.POST if request.method == "POST" else None
    form = CompOrderForm(data, conference=conference)
    if data is not None and form.is_valid():
        order = form.run(
            lambda: issue_comp_order(
                conference=conference,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                tickets=form.tickets,
                addons=form.addons_wanted,
                reason=form.cleaned_data["reason"],
                user=request.user,
            )
        )
        if order is not None:
            over = get_availability(conference).over_capacity
            message = _("Comp order %(reference)s issued to %(name)s.") % {
                "reference": order.reference,
                "name": order.name,
            }
            if over:
                message += " " + ngettext(
                    "The venue is now %(count)s seat over capacity.",
                    "The venue is now %(count)s seats over capacity.",
                    over,
                ) % {"count": over}
            return _done(request, conference, message)
    context = {
        "form": form,
        "availability": get_availability(conference),
        "action_url": reverse("capacity:override-comp", kwargs={"slug": conference.slug}),
    }
    return _dialog(request, conference, "comp", context)
