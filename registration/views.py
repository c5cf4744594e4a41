"""Public attendee pages: the ticket page and its order form, its live banners, the
embeddable banner, and the order page with its pay step.

Views stay thin: seats are read from the availability snapshot
(``capacity.services.get_availability``) and changed only by
``registration.services`` (through ``registration.payments`` for paying).
"""

import math
import re
import secrets

from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.cache import patch_vary_headers, quote_etag
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_ratelimit.core import is_ratelimited

from capacity.api import (
    CACHE_ERRORS,
    cached_for_conference,
    posted_conference,
    public_cache_control,
    public_conference,
    unchanged_since,
)
from capacity.polling import public_fast_seconds, public_poll_seconds
from capacity.services import get_availability
from conference.models import Conference

from . import payments, services
from .emails import hold_deadline
from .forms import Offer, OrderForm, form_offers, offers_for
from .models import Order, WaitingListEntry

TICKET_PAGE = "registration/conference.html"
ORDER_PAGE = "registration/order.html"
EMBED_BANNER = "registration/embed_banner.html"


def _poll_seconds():
    return max(1, int(settings.SEATKEEPER_PUBLIC_POLL_SECONDS))


# --- the ticket page ----------------------------------------------------------


@require_safe
def conference_list(request):
    """The conferences still to come, each linking to its ticket page."""
    conferences = Conference.objects.filter(end_date__gte=timezone.localdate())
    return render(request, "registration/index.html", {"conferences": conferences})


def _live_context(conference, availability, offers):
    """What the live pieces of the ticket page (banner, badges, inputs) are drawn from."""
    return {
        "conference": conference,
        "availability": availability,
        "offers": [offer for offer in offers if offer.is_listed],
        "waiting_any_max": WaitingListEntry.ANY_MAX_QUANTITY,
    }


def _public_html(response):
    """Public caching for a page drawn in the reader's language, which the
    language cookie chooses as well as Accept-Language (LocaleMiddleware's Vary)."""
    patch_vary_headers(public_cache_control(response), ["Cookie"])
    return response


def _live_version(public, poll_seconds) -> str:
    """The version a ticket page's poll names: the conference's live version and
    the poll's next delay (so a poller told to slow down or speed up hears it).
    Without a live version it matches none, and the first poll draws afresh."""
    return f"{public.version}{poll_seconds:02x}"


def _render_ticket_page(request, public, availability, offers, form, status=200):
    # The page is drawn from seats read after its version (or with none): a
    # change in between moves the version, and the first poll brings it. A page
    # just opened polls at the fast pace; its first poll says how fast to go on.
    poll_seconds = public_fast_seconds()
    conference = public.conference
    context = {
        **_live_context(conference, availability, offers),
        "form": form,
        "slug": conference.slug,
        "live_version": _live_version(public, poll_seconds),
        "poll_seconds": poll_seconds,
    }
    return render(request, TICKET_PAGE, context, status=status)


def _form_offers(public, offers=None):
    """The offers without availability that the order form is read with, cached
    at the conference's live version; taken from ``offers`` (the ticket page's,
    so the form it shows is read without a query) when given, else read.

    Nothing here decides a sale: ``place_order`` reads the conference, its ticket
    types and add-ons afresh under the lock.
    """

    def compute():
        if offers is None:
            return form_offers(public.conference)
        return [Offer(item=offer.item, state=None) for offer in offers]

    return cached_for_conference("order-form", public, compute, version=public.catalogue_version)


def _order_rate(group, request):
    return settings.SEATKEEPER_ORDER_RATE


def _too_many_orders(request):
    """A 429 for an address over ``SEATKEEPER_ORDER_RATE``, or None. Counts the POST."""
    try:
        limited = is_ratelimited(
            request, group="order-post", key="ip", rate=_order_rate, method="POST", increment=True
        )
    except CACHE_ERRORS:
        # The lock, not the limit, keeps seats from being oversold: a cache that
        # cannot be reached lets orders through.
        limited = False
    if not limited:
        return None
    retry_after = _rate_period(settings.SEATKEEPER_ORDER_RATE)
    response = render(
        request, "registration/too_many_orders.html", {"retry_after": retry_after}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


def _rate_period(rate) -> int:
    """Seconds in the period of a django-ratelimit rate such as ``20/m`` or ``100/5m``."""
    match = re.fullmatch(r"\s*\d+/(\d*)([smhd])\s*", rate)
    if match is None:
        return 60
    return int(match[1] or 1) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


@require_http_methods(["GET", "HEAD", "POST"])
def conference_page(request, slug):
    """The ticket page; its order form posts back here and places the order."""
    if request.method == "POST":
        return _order_posted(request, slug)
    public = public_conference(slug)
    if public is None:
        raise Http404("No such conference.")
    conference = public.conference
    availability = get_availability(conference)
    offers = offers_for(availability)
    _form_offers(public, offers)
    form = OrderForm(offers=offers, conference=conference)
    return _render_ticket_page(request, public, availability, offers, form)


def _order_posted(request, slug):
    """Place the posted order and go to its page, or draw the ticket page again with why not."""
    if refused := _too_many_orders(request):
        return refused
    # Reading the form needs the conference's row and its offers, not what is
    # sold: seats are counted once, by place_order under the lock.
    posted = posted_conference(slug)
    if posted is None:
        raise Http404("No such conference.")
    conference = posted.conference
    form = OrderForm(request.POST, offers=_form_offers(posted), conference=conference)
    availability = None
    if form.is_valid():
        try:
            order = services.place_order(
                conference=conference,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                tickets=form.quantities("ticket"),
                addons=form.quantities("addon"),
            )
        except Conference.DoesNotExist:
            raise Http404("No such conference.") from None  # deleted a moment ago
        except ValidationError as error:
            form.add_refusal(error)
            # Show the seats the refusal was decided on: whatever was refused shows why.
            availability = getattr(error, "availability", None)
        else:
            return redirect(order)
    # The page drawn again names no live version: the seats it shows were read
    # before any version could be, so its first poll draws the live pieces afresh.
    availability = availability or get_availability(conference)
    offers = offers_for(availability)
    form.offers = offers
    return _render_ticket_page(request, posted, availability, offers, form, status=400)


def _live_state(public):
    """(html, next delay) of the ticket page's live pieces: the banner, badges and
    inputs as out-of-band swaps; cached at the conference's live version."""

    def compute():
        conference = public.conference
        availability = get_availability(conference)
        html = render_to_string(
            f"{TICKET_PAGE}#live-state",
            _live_context(conference, availability, offers_for(availability)),
        )
        return html, public_poll_seconds(public.last_change)

    return cached_for_conference(f"ticket-page-{get_language()}", public, compute)


@require_safe
def live_availability(request, slug):
    """What the ticket page polls: out-of-band swaps of the banner, the badges and
    the inputs (inputs still open keep what was typed in them), or, to htmx, a 204
    when nothing changed since ``?version=``."""
    public = public_conference(slug, with_changes=True)
    if public is None:
        raise Http404("No such conference.")
    html, poll_seconds = _live_state(public)
    version = _live_version(public, poll_seconds)
    if request.htmx and request.GET.get("version") == version:
        return _public_html(HttpResponse(status=204))
    poller = render_to_string(
        f"{TICKET_PAGE}#poller",
        {"slug": slug, "live_version": version, "poll_seconds": poll_seconds},
    )
    return _public_html(HttpResponse(poller + html))


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
@vary_on_headers("HX-Request")
@require_safe
def embed_banner(request, slug):
    """The venue banner alone, for a conference's own website (in an iframe, or
    fetched): any site may frame it."""

    public = public_conference(slug, with_changes=True)
    if public is None:
        raise Http404("No such conference.")
    conference = public.conference

    def compute():
        poll_seconds = public_poll_seconds(public.last_change)
        context = {
            "conference": conference,
            "availability": get_availability(conference),
            "poll_seconds": poll_seconds,
        }
        return render_to_string(f"{EMBED_BANNER}#banner", context), poll_seconds

    banner, poll_seconds = cached_for_conference(f"embed-banner-{get_language()}", public, compute)
    # The banner alone (htmx's poll) and the page (a frame) are two answers.
    kind = "banner" if request.htmx else "page"
    etag = f"{_live_version(public, poll_seconds)}-{kind}-{get_language()}"
    if unchanged := unchanged_since(request, etag):
        return unchanged
    if request.htmx:
        response = HttpResponse(banner)
    else:
        context = {"conference_name": conference.name, "banner": mark_safe(banner)}
        response = render(request, EMBED_BANNER, context)
    response["ETag"] = quote_etag(etag)
    return _public_html(response)


# --- the order page -----------------------------------------------------------


def _order_or_404(slug, reference, secret) -> Order:
    """The order behind an attendee's URL; a wrong secret is a 404, like a wrong reference."""
    order = (
        Order.objects.select_related("conference")
        .filter(conference__slug=slug, reference=reference)
        .first()
    )
    if order is None or not secrets.compare_digest(order.secret.encode(), secret.encode()):
        raise Http404("No such order.")
    return order


def _order_context(order, *, errors=(), errors_title=""):
    now = timezone.now()
    hold_live = order.hold_is_live(now)
    can_pay = order.status in (Order.Status.PENDING, Order.Status.EXPIRED)
    providers = payments.enabled_providers() if can_pay else []
    return {
        "order": order,
        "conference": order.conference,
        "lines": order.lines.all(),
        "is_paid": order.status in Order.COMMITTED_STATUSES,
        "hold_live": hold_live,
        "minutes_left": (
            math.ceil((order.hold_expires_at - now).total_seconds() / 60) if hold_live else 0
        ),
        "hold_lapsed": can_pay and not hold_live,
        "from_waiting_list": order.waiting_list_entries.exists(),
        "can_pay": can_pay,
        "pay_options": [
            (provider, provider.instructions(order), provider.pay_button(order))
            for provider in providers
        ],
        "errors": errors,
        "errors_title": errors_title,
        "poll_seconds": _poll_seconds(),
    }


# The order's pages show the buyer's name and email and the secret link itself:
# neither a shared cache nor the browser's keeps them.
@cache_control(private=True, no_store=True)
@vary_on_headers("HX-Request")
@require_safe
def order_page(request, slug, reference, secret):
    """The attendee's order: what was ordered, how long the seats are held, the pay step."""
    order = _order_or_404(slug, reference, secret)
    template = f"{ORDER_PAGE}#order-status" if request.htmx else ORDER_PAGE
    return render(request, template, _order_context(order))


@cache_control(private=True, no_store=True)
@require_POST
def pay_order(request, slug, reference, secret):
    """Pay through the chosen provider; a refused (e.g. late) payment shows why."""
    order = _order_or_404(slug, reference, secret)
    if order.status in Order.COMMITTED_STATUSES:
        messages.info(
            request, _("Order %(reference)s is already paid.") % {"reference": order.reference}
        )
        return redirect(order)
    provider = payments.get_provider(request.POST.get("provider", ""))
    if provider is None:
        errors, status = [_("Choose one of the payment methods offered for this order.")], 400
    else:
        try:
            order = provider.pay(order)
        except ValidationError as error:
            errors, status = error.messages, 409
        else:
            if order.status in Order.COMMITTED_STATUSES:
                messages.success(
                    request,
                    _(
                        "Thank you: order %(reference)s is paid. "
                        "A confirmation is on its way to %(email)s."
                    )
                    % {"reference": order.reference, "email": order.email},
                )
            else:
                messages.success(
                    request,
                    _(
                        "Bank transfer chosen: your seats are held until "
                        "%(deadline)s for the money to arrive."
                    )
                    % {"deadline": hold_deadline(order)},
                )
            return redirect(order)
    order.refresh_from_db()
    context = _order_context(order, errors=errors, errors_title=_("Not paid"))
    return render(request, ORDER_PAGE, context, status=status)


@cache_control(private=True, no_store=True)
@require_POST
def release_order(request, slug, reference, secret):
    """The buyer gives back the seats of an unpaid order, once they confirm it."""
    order = _order_or_404(slug, reference, secret)
    if not request.POST.get("confirm"):
        errors, status = [_("Tick the box to confirm that you give these seats back.")], 400
    else:
        try:
            services.release_order(order)
        except ValidationError as error:
            errors, status = error.messages, 409
        else:
            messages.success(
                request,
                _("Order %(reference)s is cancelled; its seats are free.")
                % {"reference": order.reference},
            )
            return redirect(order)
    order.refresh_from_db()
    context = _order_context(order, errors=errors, errors_title=_("Seats not released"))
    return render(request, ORDER_PAGE, context, status=status)
