"""Counting and enforcing seats.

The counting rule: a ticket line takes a venue seat when its order is PAID or
PARTIALLY_REFUNDED, or PENDING with ``hold_expires_at`` in the future. A hold
stops counting the instant it expires; no background job is needed. Add-on
lines never take venue seats; they count against their add-on's own quantity
under the same rule. Ticket lines whose ticket type was deleted still take
venue seats. Blocked seats count as taken until released.

``locked_conference`` is the conference lock. Every change that can make seats
scarcer (ordering, late payment, extending a hold, comp tickets, blocking seats,
lowering a capacity) runs inside it, so no race can oversell.
"""

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from conference.models import Conference
from registration.models import AddOn, Order, OrderLineItem, TicketType

from .models import BlockedSeats

# --- the lock -----------------------------------------------------------------


def lock_conference(conference) -> Conference:
    """Lock the conference row and return a fresh copy of it.

    Must run inside ``transaction.atomic``. On PostgreSQL this is
    ``SELECT … FOR UPDATE``; on SQLite the database runs in IMMEDIATE
    transaction mode, so the enclosing transaction already holds the write lock.
    """
    if not connection.in_atomic_block:
        raise TransactionManagementError("The conference lock needs transaction.atomic.")
    conference_pk = conference.pk if isinstance(conference, Conference) else conference
    queryset = Conference.objects.all()
    if settings.SEATKEEPER_SEAT_LOCK:
        queryset = queryset.select_for_update()
    return queryset.get(pk=conference_pk)


@contextmanager
def locked_conference(conference):
    """Run a seat-reducing change under the conference lock, in one transaction.

    Yields the freshly locked Conference. With ``SEATKEEPER_SEAT_LOCK`` off (tests
    only, to prove a race harness really races) there is neither lock nor
    transaction around the checks.
    """
    if not settings.SEATKEEPER_SEAT_LOCK:
        conference_pk = conference.pk if isinstance(conference, Conference) else conference
        yield Conference.objects.get(pk=conference_pk)
        return
    with transaction.atomic():
        yield lock_conference(conference)


def pause_after_check():
    """Widen the window between checking and writing, when a test asks for it."""
    if settings.SEATKEEPER_PAUSE_AFTER_CHECK:
        time.sleep(settings.SEATKEEPER_PAUSE_AFTER_CHECK)


# --- counting -----------------------------------------------------------------


def taking_seats(now, prefix="order__"):
    """Q for lines (``prefix="order__"``) or orders (``prefix=""``) that take seats now."""
    return Q(**{f"{prefix}status__in": Order.COMMITTED_STATUSES}) | Q(
        **{f"{prefix}status": Order.Status.PENDING, f"{prefix}hold_expires_at__gt": now}
    )


@dataclass
class SeatCounts:
    """Seats sold (committed) and held (live holds), venue-wide and per item."""

    venue_sold: int = 0
    venue_held: int = 0
    ticket_sold: dict = field(default_factory=lambda: defaultdict(int))
    ticket_held: dict = field(default_factory=lambda: defaultdict(int))
    addon_sold: dict = field(default_factory=lambda: defaultdict(int))
    addon_held: dict = field(default_factory=lambda: defaultdict(int))


def count_seats(conference, now) -> SeatCounts:
    """Count the seats of one conference in a single query."""
    committed = Q(order__status__in=Order.COMMITTED_STATUSES)
    rows = (
        OrderLineItem.objects.filter(order__conference=conference)
        .filter(taking_seats(now))
        .values("kind", "ticket_type_id", "addon_id")
        .annotate(
            sold=Sum("quantity", filter=committed, default=0),
            held=Sum("quantity", filter=~committed, default=0),
        )
        .order_by()
    )
    counts = SeatCounts()
    for row in rows:
        if row["kind"] == OrderLineItem.Kind.TICKET:
            counts.venue_sold += row["sold"]
            counts.venue_held += row["held"]
            if row["ticket_type_id"] is not None:
                counts.ticket_sold[row["ticket_type_id"]] += row["sold"]
                counts.ticket_held[row["ticket_type_id"]] += row["held"]
        elif row["addon_id"] is not None:
            counts.addon_sold[row["addon_id"]] += row["sold"]
            counts.addon_held[row["addon_id"]] += row["held"]
    return counts


def count_blocked_seats(conference) -> tuple[int, dict]:
    """Blocked seats: (venue-wide total including per-type blocks, {ticket_type_id: n})."""
    rows = (
        BlockedSeats.objects.filter(conference=conference, quantity__gt=0)
        .values("ticket_type_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    per_type = {row["ticket_type_id"]: row["total"] for row in rows}
    return sum(per_type.values()), {pk: n for pk, n in per_type.items() if pk is not None}


def _remaining(capacity, taken):
    """``None`` for unlimited (capacity 0); never negative."""
    if not capacity:
        return None
    return max(0, capacity - taken)


def get_global_sold_count(conference) -> int:
    """Venue seats taken by ticket lines right now (sold plus live holds)."""
    now = timezone.now()
    return (
        OrderLineItem.objects.filter(order__conference=conference, kind=OrderLineItem.Kind.TICKET)
        .filter(taking_seats(now))
        .aggregate(total=Sum("quantity", default=0))["total"]
    )


def get_global_remaining(conference) -> int | None:
    """Venue seats left: ``None`` when unlimited, never negative. Blocked seats are taken."""
    if not conference.total_capacity:
        return None
    blocked, _ = count_blocked_seats(conference)
    return _remaining(conference.total_capacity, get_global_sold_count(conference) + blocked)


def venue_refusal(conference, remaining, wanted) -> str | None:
    """The words for refusing ``wanted`` venue seats, or None when they fit."""
    if remaining is None or (0 < remaining and wanted <= remaining):
        return None
    if remaining <= 0:
        return (
            f"{conference.name} is sold out: all {conference.total_capacity} seats "
            f"of the venue capacity are taken."
        )
    return f"Only {remaining} tickets remaining for {conference.name}."


def validate_global_capacity(conference, desired_total) -> None:
    """Refuse ``desired_total`` more venue seats unless they are free.

    Must run inside ``transaction.atomic``: takes the conference lock first, then
    counts, so a stale in-memory conference cannot bypass it. Raises
    ValidationError mentioning ``sold out`` and the venue capacity when nothing
    is left, or ``Only {remaining} tickets remaining`` when too few are.
    """
    conference = lock_conference(conference)
    message = venue_refusal(conference, get_global_remaining(conference), desired_total)
    if message:
        raise ValidationError(message, code="venue_capacity")


# --- the availability snapshot -------------------------------------------------


@dataclass(frozen=True)
class ItemAvailability:
    """How many of one ticket type or add-on can be bought right now."""

    pk: int
    slug: str
    name: str
    kind: str  # "ticket" or "addon"
    capacity: int | None  # None: unlimited
    sold: int
    held: int
    blocked: int
    own_remaining: int | None  # against its own quantity only
    remaining: int | None  # what can really be bought (tickets: also the venue)
    sale_state: str  # "on_sale", "inactive", "not_yet", "ended"
    low_stock_threshold: int

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def sold_out(self):
        return self.remaining == 0

    @property
    def on_sale(self):
        return self.sale_state == "on_sale"

    @property
    def low_stock(self):
        return self.remaining is not None and 0 < self.remaining <= self.low_stock_threshold

    @property
    def percent_taken(self):
        if not self.capacity:
            return 0
        return min(100, round(100 * self.taken / self.capacity))

    def is_purchase_permitted(self, quantity) -> tuple[bool, str]:
        """(allowed, reason) for buying ``quantity`` against this item's own stock."""
        if self.own_remaining is None or quantity <= self.own_remaining:
            return True, ""
        if self.own_remaining == 0:
            return False, f"{self.name} is sold out."
        if self.kind == "ticket":
            return False, f"Only {self.own_remaining} tickets remaining for {self.name}."
        return False, f"Only {self.own_remaining} left of {self.name}."

    def as_dict(self):
        return {
            "slug": self.slug,
            "name": self.name,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "blocked": self.blocked,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
            "on_sale": self.on_sale,
        }


@dataclass(frozen=True)
class Availability:
    """One conference's seats at one instant: the venue, each ticket type, each add-on."""

    conference: Conference
    computed_at: datetime
    capacity: int | None
    sold: int
    held: int
    blocked: int
    remaining: int | None
    ticket_types: list[ItemAvailability]
    addons: list[ItemAvailability]

    @property
    def taken(self):
        return self.sold + self.held + self.blocked

    @property
    def sold_out(self):
        return self.remaining == 0

    @property
    def low_stock(self):
        threshold = self.conference.low_stock_threshold
        return self.remaining is not None and 0 < self.remaining <= threshold

    @property
    def over_capacity(self):
        """Seats taken beyond the cap (comp tickets or a forced lower)."""
        if self.capacity is None:
            return 0
        return max(0, self.taken - self.capacity)

    @property
    def percent_taken(self):
        if not self.capacity:
            return 0
        return min(100, round(100 * self.taken / self.capacity))

    def ticket_type(self, key):
        return next(item for item in self.ticket_types if key in (item.pk, item.slug))

    def addon(self, key):
        return next(item for item in self.addons if key in (item.pk, item.slug))

    def is_purchase_permitted(self, seats) -> tuple[bool, str]:
        """(allowed, reason) for ``seats`` more venue seats."""
        message = venue_refusal(self.conference, self.remaining, seats)
        return message is None, message or ""

    def as_dict(self):
        return {
            "conference": self.conference.slug,
            "capacity": self.capacity,
            "sold": self.sold,
            "held": self.held,
            "blocked": self.blocked,
            "remaining": self.remaining,
            "sold_out": self.sold_out,
            "ticket_types": [item.as_dict() for item in self.ticket_types],
            "addons": [item.as_dict() for item in self.addons],
            "computed_at": self.computed_at.isoformat(),
        }


def _min_remaining(own, venue):
    if own is None:
        return venue
    if venue is None:
        return own
    return min(own, venue)


def get_availability(conference, *, now=None, counts=None) -> Availability:
    """The availability snapshot of a conference, in a constant number of queries.

    Four queries whatever the number of ticket types and add-ons: ticket types,
    add-ons, one grouped count of lines, one grouped count of blocked seats.
    Inactive ticket types and add-ons are included (with their sale state).
    """
    now = now or timezone.now()
    counts = counts or count_seats(conference, now)
    venue_blocked, blocked_per_type = count_blocked_seats(conference)
    venue_capacity = conference.total_capacity or None
    venue_remaining = _remaining(
        conference.total_capacity, counts.venue_sold + counts.venue_held + venue_blocked
    )
    threshold = conference.low_stock_threshold

    ticket_types = []
    for ticket_type in TicketType.objects.filter(conference=conference):
        sold = counts.ticket_sold.get(ticket_type.pk, 0)
        held = counts.ticket_held.get(ticket_type.pk, 0)
        blocked = blocked_per_type.get(ticket_type.pk, 0)
        own = _remaining(ticket_type.total_quantity, sold + held + blocked)
        ticket_types.append(
            ItemAvailability(
                pk=ticket_type.pk,
                slug=ticket_type.slug,
                name=ticket_type.name,
                kind="ticket",
                capacity=ticket_type.total_quantity or None,
                sold=sold,
                held=held,
                blocked=blocked,
                own_remaining=own,
                remaining=_min_remaining(own, venue_remaining),
                sale_state=ticket_type.sale_state(now),
                low_stock_threshold=threshold,
            )
        )
    addons = []
    for addon in AddOn.objects.filter(conference=conference):
        sold = counts.addon_sold.get(addon.pk, 0)
        held = counts.addon_held.get(addon.pk, 0)
        own = _remaining(addon.total_quantity, sold + held)
        addons.append(
            ItemAvailability(
                pk=addon.pk,
                slug=addon.slug,
                name=addon.name,
                kind="addon",
                capacity=addon.total_quantity or None,
                sold=sold,
                held=held,
                blocked=0,
                own_remaining=own,
                remaining=own,
                sale_state="on_sale" if addon.is_active else "inactive",
                low_stock_threshold=threshold,
            )
        )
    return Availability(
        conference=conference,
        computed_at=now,
        capacity=venue_capacity,
        sold=counts.venue_sold,
        held=counts.venue_held,
        blocked=venue_blocked,
        remaining=venue_remaining,
        ticket_types=ticket_types,
        addons=addons,
    )
