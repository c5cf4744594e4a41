"""Freed seats go to the waiting list first: who gets an offer, and where people stand.

An offer is a PENDING order for the seats an entry waits for, held for
``Conference.waiting_list_offer_minutes``. Entries are served oldest first; an
entry too big for what is free keeps its place while smaller ones behind it
are served. Offers are made under the conference lock, by every service that
frees seats, in the same transaction. Until then the seats WAITING entries wait
for are kept from newcomers by the availability snapshot, so no seat owed to
the line can be sold, whether or not anything runs in the background.
"""

import functools
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from conference.models import Conference
from registration.emails import send_waiting_list_offer_on_commit
from registration.models import Order, OrderLineItem, TicketType, WaitingListEntry

from .availability import get_availability
from .locking import locked_conference
from .seat_counts import count_buyer_held

# ``plan_offers``: keep the venue's free seats as the snapshot has them.
SNAPSHOT = object()


def _fits(free, quantity) -> bool:
    return free is None or quantity <= free


def plan_offers(availability, entries, *, venue_free=SNAPSHOT, own_free=None, held_by=None) -> list:
    """Which WAITING ``entries`` (oldest first) get seats, and of which ticket type.

    Returns ``[(entry, ItemAvailability)]``. An entry for one ticket type fits
    when its quantity fits that type's free seats and the venue's; an entry for
    any ticket type takes the first type on sale (in listing order) where it
    fits. Entries that do not fit keep their place. ``venue_free`` and
    ``own_free`` ({ticket type pk: free seats}) replace the snapshot's free seats,
    to ask what a new capacity would do (None: unlimited). ``held_by(email)``:
    the seats a buyer holds now; with it, an offer that would give its buyer more
    than ``max_held_seats_per_buyer`` is not made (the entry keeps its place
    until they pay for or release what they hold).
    """
    venue = availability.free if venue_free is SNAPSHOT else venue_free
    own = {item.pk: item.own_remaining for item in availability.ticket_types}
    own.update(own_free or {})
    on_sale = [item for item in availability.ticket_types if item.on_sale]
    limit = availability.conference.max_held_seats_per_buyer if held_by else 0
    offered = Counter()  # seats planned per buyer in this plan
    plan = []
    for entry in entries:
        quantity = entry.quantity
        for item in on_sale:
            if entry.ticket_type_id not in (None, item.pk):
                continue
            if _fits(own[item.pk], quantity) and _fits(venue, quantity):
                buyer = entry.email.upper()
                if limit and held_by(entry.email) + offered[buyer] + quantity > limit:
                    break
                offered[buyer] += quantity
                plan.append((entry, item))
                if own[item.pk] is not None:
                    own[item.pk] -= quantity
                if venue is not None:
                    venue -= quantity
                break
    return plan


def _held_by(conference, now):
    """``plan_offers``' ``held_by`` for one conference at ``now``: each buyer's
    held seats, read once."""
    return functools.cache(lambda email: count_buyer_held(conference, email, now))


def _waiting_entries(conference):
    return list(
        WaitingListEntry.objects.filter(
            conference=conference, status=WaitingListEntry.Status.WAITING
        ).order_by("created_at", "id")
    )


def _make_offer(conference, entry, item, now) -> Order:
    ticket_type = item.item
    order = Order.objects.create(
        conference=conference,
        email=entry.email,
        name=entry.name,
        status=Order.Status.PENDING,
        hold_expires_at=now + timedelta(minutes=conference.waiting_list_offer_minutes),
        total=ticket_type.price * entry.quantity,
        language=entry.language,
    )
    OrderLineItem.objects.create(
        order=order,
        kind=OrderLineItem.Kind.TICKET,
        ticket_type=ticket_type,
        description=ticket_type.name,
        quantity=entry.quantity,
        unit_price=ticket_type.price,
        line_total=ticket_type.price * entry.quantity,
    )
    entry.status = WaitingListEntry.Status.OFFERED
    entry.order = order
    entry.offered_at = now
    entry.save(update_fields=["status", "order", "offered_at", "updated_at"])
    send_waiting_list_offer_on_commit(entry)
    return order


def offer_freed_seats(conference, *, now=None) -> list[Order]:
    """Offer the seats free now to the WAITING entries, oldest first; return the offers.

    Under the conference lock (in the caller's transaction when it holds the
    lock already). Each entry whose quantity fits what is free (its ticket
    type's and the venue's; for "any", a ticket type on sale with room) gets a
    PENDING order for its email held ``waiting_list_offer_minutes``, and becomes
    OFFERED with ``order`` set. An entry that does not fit keeps its place, and
    so does one whose buyer already holds all the seats one buyer may.
    """
    with locked_conference(conference) as locked:
        conference = locked.conference
        entries = _waiting_entries(conference)
        if not entries:
            return []
        now = now or timezone.now()
        availability = get_availability(conference, now=now)
        plan = plan_offers(availability, entries, held_by=_held_by(conference, now))
        return [_make_offer(conference, entry, item, now) for entry, item in plan]


def lapse_offers(conference, *, now=None) -> int:
    """Mark OFFERED entries whose offer lapsed (its hold passed, or its order was
    expired, cancelled or refunded by another way than the services) EXPIRED, and
    their still-pending orders EXPIRED; return how many. An offer paid by another
    way makes its entry ACCEPTED.

    Counting does not wait for this: a lapsed hold takes no seats already.
    Call under the conference lock, then offer the seats on.
    """
    now = now or timezone.now()
    offered = WaitingListEntry.objects.filter(
        conference=conference, status=WaitingListEntry.Status.OFFERED
    )
    offered.filter(order__status__in=Order.COMMITTED_STATUSES).update(
        status=WaitingListEntry.Status.ACCEPTED, updated_at=now
    )
    lapsed = offered.filter(
        Q(order__status__in=(Order.Status.EXPIRED, Order.Status.CANCELLED, Order.Status.REFUNDED))
        | Q(order__status=Order.Status.PENDING, order__hold_expires_at__lte=now)
    )
    order_ids = list(lapsed.values_list("order_id", flat=True))
    Order.objects.filter(
        pk__in=order_ids, status=Order.Status.PENDING, hold_expires_at__lte=now
    ).update(status=Order.Status.EXPIRED, updated_at=now)
    return WaitingListEntry.objects.filter(
        conference=conference, status=WaitingListEntry.Status.OFFERED, order_id__in=order_ids
    ).update(status=WaitingListEntry.Status.EXPIRED, updated_at=now)


def offer_lapsed_seats(now=None) -> list[Order]:
    """The background job: lapse the offers whose time passed, then offer what is
    free to every conference's waiting list. Returns the offers made.

    Nothing depends on it for correctness: seats waited for are kept from
    newcomers whether it runs or not. It only makes offers sooner.
    """
    now = now or timezone.now()
    conference_ids = (
        WaitingListEntry.objects.filter(status__in=WaitingListEntry.LIVE_STATUSES)
        .values_list("conference_id", flat=True)
        .distinct()
    )
    offers = []
    for conference_id in list(conference_ids):
        with locked_conference(conference_id) as locked:
            conference = locked.conference
            lapse_offers(conference, now=now)
            offers += offer_freed_seats(conference, now=now)
    return offers


# --- reading the line -----------------------------------------------------------


def _same_line(entry) -> Q:
    """The WAITING entries an entry competes with: the same ticket type or "any";
    for an entry of "any", every entry."""
    if entry.ticket_type_id is None:
        return Q()
    return Q(ticket_type_id=entry.ticket_type_id) | Q(ticket_type__isnull=True)


def place_in_line(entry) -> int | None:
    """1 for the next in line; None when the entry is not WAITING."""
    if entry.status != WaitingListEntry.Status.WAITING:
        return None
    ahead = (
        WaitingListEntry.objects.filter(
            conference_id=entry.conference_id, status=WaitingListEntry.Status.WAITING
        )
        .filter(_same_line(entry))
        .filter(
            Q(created_at__lt=entry.created_at) | Q(created_at=entry.created_at, pk__lt=entry.pk)
        )
        .count()
    )
    return ahead + 1


def places_in_line(conference) -> dict[int, int]:
    """{pk: place in line} of every WAITING entry of ``conference``, in one query.

    The same places as ``place_in_line`` gives one entry at a time: an entry for a
    ticket type counts the WAITING entries before it for that type or for any
    type; an entry for any type counts every one before it.
    """
    waiting = (
        WaitingListEntry.objects.filter(
            conference=conference, status=WaitingListEntry.Status.WAITING
        )
        .order_by("created_at", "pk")
        .values_list("pk", "ticket_type_id")
    )
    places = {}
    before_for_type = {}
    before_for_any = 0
    for position, (pk, ticket_type_id) in enumerate(waiting):
        if ticket_type_id is None:
            places[pk] = position + 1
            before_for_any += 1
        else:
            places[pk] = before_for_type.get(ticket_type_id, 0) + before_for_any + 1
            before_for_type[ticket_type_id] = before_for_type.get(ticket_type_id, 0) + 1
    return places


@dataclass
class WaitingCount:
    people: int = 0
    seats: int = 0
    offers: int = 0


@dataclass
class WaitingSummary:
    """People and seats waiting and open offers, for the venue and per ticket type
    (``None``: entries for any ticket type)."""

    venue: WaitingCount = field(default_factory=WaitingCount)
    per_ticket_type: dict = field(default_factory=dict)

    def for_ticket_type(self, pk) -> WaitingCount:
        return self.per_ticket_type.get(pk, WaitingCount())


def waiting_summary(conference) -> WaitingSummary:
    """The waiting list of one conference in numbers, in one query."""
    rows = (
        WaitingListEntry.objects.filter(
            conference=conference, status__in=WaitingListEntry.LIVE_STATUSES
        )
        .values("ticket_type_id", "status")
        .annotate(people=Count("id"), seats=Sum("quantity"))
        .order_by()
    )
    summary = WaitingSummary()
    for row in rows:
        count = summary.per_ticket_type.setdefault(row["ticket_type_id"], WaitingCount())
        for each in (count, summary.venue):
            if row["status"] == WaitingListEntry.Status.WAITING:
                each.people += row["people"]
                each.seats += row["seats"]
            else:
                each.offers += row["people"]
    return summary


def people_reached_by_raise(target, new_total) -> int:
    """How many WAITING entries would get an offer if ``target`` (a Conference or a
    TicketType) had the capacity ``new_total`` (0: unlimited)."""
    if isinstance(target, Conference):
        conference = target
    elif isinstance(target, TicketType):
        conference = target.conference
    else:
        return 0
    entries = _waiting_entries(conference)
    if not entries:
        return 0
    availability = get_availability(conference)
    held_by = _held_by(conference, availability.computed_at)
    if isinstance(target, Conference):
        free = None if not new_total else max(0, new_total - availability.taken)
        plan = plan_offers(availability, entries, venue_free=free, held_by=held_by)
    else:
        taken = availability.ticket_type(target.pk).taken
        free = None if not new_total else max(0, new_total - taken)
        plan = plan_offers(availability, entries, own_free={target.pk: free}, held_by=held_by)
    return len(plan)


def raise_preview(target, state, total) -> str:
    """What raising ``target`` to ``total`` does for the waiting list, in words ("" if nothing).

    Only a raise of the venue or a ticket type (add-ons have no waiting list); 0
    means unlimited.
    """
    if total is None or not isinstance(target, (Conference, TicketType)) or state.unlimited:
        return ""
    if total != 0 and total <= state.capacity:
        return ""
    reached = people_reached_by_raise(target, total)
    if reached:
        values = {"count": reached, "total": total}
        if total == 0:
            return (
                ngettext(
                    "Making it unlimited offers seats to the next person in line.",
                    "Making it unlimited offers seats to the next %(count)s people in line.",
                    reached,
                )
                % values
            )
        return (
            ngettext(
                "Raising to %(total)s offers seats to the next person in line.",
                "Raising to %(total)s offers seats to the next %(count)s people in line.",
                reached,
            )
            % values
        )
    summary = waiting_summary(target if isinstance(target, Conference) else target.conference)
    if isinstance(target, Conference):
        waiting = summary.venue.people
    else:
        waiting = summary.for_ticket_type(target.pk).people + summary.for_ticket_type(None).people
    if not waiting:
        return ""
    values = {"waiting": waiting, "total": total}
    if total == 0:
        return (
            _("Making it unlimited is not enough for anyone in line yet (%(waiting)s waiting).")
            % values
        )
    return _("Raising to %(total)s is not enough for anyone in line yet (%(waiting)s waiting).") % (
        values
    )
