"""Public waiting-list pages: joining the list, the entry's own page with its
place in line (live over htmx), and leaving the list.

Views stay thin: people join and leave through ``registration.services``; the
place in line is read from ``capacity.waiting``. Joining is limited per client
address together with the order form's POSTs.
"""

import secrets

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from capacity.services import conference_by_slug
from capacity.waiting import place_in_line
from conference.models import Conference

from . import services
from .models import WaitingListEntry
from .views import _poll_seconds, _too_many_orders
from .waiting_forms import ANY_TICKET_TYPE, WaitingListForm, waited_for

JOIN_PAGE = "registration/waiting_join.html"
ENTRY_PAGE = "registration/waiting_entry.html"


# --- joining ------------------------------------------------------------------


def _join_context(conference, form, ticket_type, *, known=True):
    """What the join form is drawn from, on its own page: ``known`` is False when
    the posted ticket type is not one of the conference's."""
    if ticket_type is None:
        key, value, most = "any", ANY_TICKET_TYPE, WaitingListEntry.ANY_MAX_QUANTITY
        what = _("any ticket type") if known else None
    else:
        key, value, most = f"ticket-{ticket_type.slug}", ticket_type.slug, ticket_type.max_per_order
        what = ticket_type.name
    if not known:
        value = form.data.get("ticket_type", "")
    return {
        "conference": conference,
        "join_form": form,
        "key": key,
        "value": value,
        "what": what,
        "most": most,
    }


@require_http_methods(["GET", "HEAD", "POST"])
def join_waiting_list(request, slug):
    """The join form on its own page (``?ticket_type=<slug>``, or any ticket type);
    its POST puts the person on the list and redirects to their entry's page."""
    if request.method == "POST" and (refused := _too_many_orders(request)):
        return refused
    conference = conference_by_slug(slug)
    if conference is None:
        raise Http404("No such conference.")
    if request.method != "POST":
        try:
            ticket_type = waited_for(conference, request.GET.get("ticket_type", ""))
        except ValidationError:
            raise Http404("No such ticket type.") from None
        form = WaitingListForm(
            conference=conference, initial={"ticket_type": ticket_type.slug if ticket_type else ""}
        )
        return render(request, JOIN_PAGE, _join_context(conference, form, ticket_type))

    form = WaitingListForm(request.POST, conference=conference)
    if form.is_valid():
        try:
            entry = services.join_waiting_list(
                conference=conference,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                quantity=form.cleaned_data["quantity"],
                ticket_type=form.cleaned_data["ticket_type"],
            )
        except Conference.DoesNotExist:
            raise Http404("No such conference.") from None  # deleted a moment ago
        except ValidationError as error:
            form.add_refusal(error)
        else:
            return redirect(entry)
    known = form.ticket_type_is_known
    ticket_type = form.cleaned_data.get("ticket_type") if known else None
    context = _join_context(conference, form, ticket_type, known=known)
    return render(request, JOIN_PAGE, context, status=400)


# --- the entry's page -----------------------------------------------------------


def _entry_or_404(slug, pk, secret) -> WaitingListEntry:
    """The entry behind a person's URL; a wrong secret is a 404, like a wrong pk."""
    entry = (
        WaitingListEntry.objects.select_related("conference", "ticket_type", "order__conference")
        .filter(conference__slug=slug, pk=pk)
        .first()
    )
    if entry is None or not secrets.compare_digest(entry.secret.encode(), secret.encode()):
        raise Http404("No such waiting-list entry.")
    return entry


def _entry_context(entry, *, errors=()):
    offered = entry.status == WaitingListEntry.Status.OFFERED
    offer_live = offered and entry.order is not None and entry.order.hold_is_live()
    return {
        "entry": entry,
        "conference": entry.conference,
        "place": place_in_line(entry),
        "offer_live": offer_live,
        # Lapsed already, though the background job has not yet marked it EXPIRED.
        "offer_lapsed": offered and not offer_live,
        "errors": errors,
        "poll_seconds": _poll_seconds(),
    }


@cache_control(private=True, no_store=True)
@vary_on_headers("HX-Request")
@require_safe
def waiting_entry(request, slug, pk, secret):
    """What the person waits for and their place in line; an offer's deadline and
    the way to pay it. To htmx (the page's own poll) only the status part."""
    entry = _entry_or_404(slug, pk, secret)
    template = f"{ENTRY_PAGE}#entry-status" if request.htmx else ENTRY_PAGE
    return render(request, template, _entry_context(entry))


@cache_control(private=True, no_store=True)
@require_POST
def leave_waiting_list(request, slug, pk, secret):
    """The person takes themselves off the list, once they confirm it; seats
    offered to them go to the next in line."""
    entry = _entry_or_404(slug, pk, secret)
    if not request.POST.get("confirm"):
        errors, status = [_("Tick the box to confirm that you leave the waiting list.")], 400
    else:
        try:
            services.leave_waiting_list(entry)
        except ValidationError as error:
            errors, status = error.messages, 409
        else:
            messages.success(
                request,
                _("You left the waiting list for %(conference)s.")
                % {"conference": entry.conference.name},
            )
            return redirect(entry)
    entry.refresh_from_db()
    return render(request, ENTRY_PAGE, _entry_context(entry, errors=errors), status=status)
