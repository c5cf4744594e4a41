"""Selectors for the organizer dashboard: what each widget shows, read in a fixed number of queries.

Nothing here writes. Seat numbers come from the one availability snapshot
(``capacity.services.get_availability``); sales figures, the chart, the
projection and the latest orders come from aggregate queries, so a dashboard
poll costs the same number of queries whatever the number of ticket types or
orders. ``capacity.widgets`` puts them together for the views and tells which
widgets a poll must redraw. The shapes the widgets are drawn with (bars, the
chart) are in ``capacity.charts``.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db.models import (
    Count,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from registration.models import (
    Order,
    OrderLineItem,
    WaitingListEntry,
)

from .charts import CapacityBar, SalesChart, capacity_bar, draw_sales_chart
from .counters import committed, taking_seats
from .services import ItemAvailability
from .tables import ANY_TICKET_TYPE, AWAITING_TRANSFER, is_awaiting_transfer
from .waiting import WaitingCount

# Orders shown in the "latest orders" widget.
LATEST_ORDERS = 8
# The sales pace is measured over the last hour, but never over less than this,
# so a single order a few seconds old does not predict a sell-out within minutes.
MIN_PACE_WINDOW = timedelta(minutes=10)
PACE_WINDOW = timedelta(hours=1)
CHART_GRANULARITIES = ("hour", "day")
CHART_HOURS = 24
CHART_DAYS = 14


def conference_tz(conference) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(conference.timezone)


# --- rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRow:
    """A ticket type or add-on row: its snapshot entry, its bar and (ticket types)
    its own waiting list: people and seats waiting, open offers."""

    item: ItemAvailability
    bar: CapacityBar | None
    waiting: WaitingCount | None = None

    @property
    def dom_id(self):
        prefix = "ticket-type" if self.item.kind == "ticket" else "addon"
        return f"{prefix}-{self.item.slug}"


def item_rows(items, waiting=None) -> list[ItemRow]:
    """Rows for ``items``; with a ``WaitingSummary``, each with its waiting list."""
    return [
        ItemRow(
            item=item,
            bar=capacity_bar(
                capacity=item.capacity, sold=item.sold, held=item.held, blocked=item.blocked
            ),
            waiting=waiting.for_ticket_type(item.pk) if waiting is not None else None,
        )
        for item in items
    ]


# --- sales ------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesStats:
    """Tickets and orders placed in the last hour and today (conference time) that still count.

    ``sold`` are tickets of paid orders, ``held`` tickets of live holds; cancelled,
    refunded and lapsed orders are left out, so the figures are seats taken.
    """

    hour_sold: int
    hour_held: int
    hour_orders: int
    today_sold: int
    today_held: int
    today_orders: int
    today_revenue: object  # Decimal
    first_seat_in_hour: datetime | None

    @property
    def hour_seats(self):
        return self.hour_sold + self.hour_held

    @property
    def today_seats(self):
        return self.today_sold + self.today_held


def local_day_start(now, tz) -> datetime:
    return datetime.combine(now.astimezone(tz).date(), time.min, tzinfo=tz)


def _chart_buckets(now, tz, granularity):
    """Bucket starts, oldest first, and a function mapping a truncated DB value to its key."""
    if granularity == "day":
        today = now.astimezone(tz).date()
        days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
        starts = [datetime.combine(day, time.min, tzinfo=tz) for day in days]
        return starts, days, lambda value: value
    this_hour = now.astimezone(tz).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    starts_utc = [this_hour - timedelta(hours=n) for n in range(CHART_HOURS - 1, -1, -1)]

    def key(value):
        if timezone.is_naive(value):
            value = timezone.make_aware(value, tz)
        return value.astimezone(UTC)

    return [start.astimezone(tz) for start in starts_utc], starts_utc, key


@dataclass(frozen=True)
class Sales:
    """The sales figures and the chart, read together in one pass over the lines."""

    stats: SalesStats
    chart: SalesChart


def sales(conference, *, now, tz, granularity="hour") -> Sales:
    """Sales in the last hour and since midnight (conference time), and the chart of
    seats taken per hour (last 24 h) or per day (last 14 days), by when the order
    was placed: one query, grouped by the chart's buckets.

    Every figure is a sum or a count over the buckets: an order's lines share its
    bucket, so the orders counted in each bucket add up. The stats' windows are
    filters of their own, not buckets.
    """
    if granularity not in CHART_GRANULARITIES:
        granularity = "hour"
    starts, keys, key_of = _chart_buckets(now, tz, granularity)
    hour_ago = now - PACE_WINDOW
    day_start = local_day_start(now, tz)
    paid = committed()
    ticket = Q(kind=OrderLineItem.Kind.TICKET)
    in_hour = Q(order__created_at__gte=hour_ago)
    today = Q(order__created_at__gte=day_start)
    charted = ticket & Q(order__created_at__gte=starts[0])
    trunc = (
        TruncDate("order__created_at", tzinfo=tz)
        if granularity == "day"
        else TruncHour("order__created_at", tzinfo=tz)
    )
    rows = (
        OrderLineItem.objects.filter(
            order__conference=conference,
            order__created_at__gte=min(starts[0], hour_ago, day_start),
        )
        .filter(taking_seats(now))
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(
            sold=Sum("quantity", filter=charted & paid, default=0),
            held=Sum("quantity", filter=charted & ~paid, default=0),
            hour_sold=Sum("quantity", filter=ticket & in_hour & paid, default=0),
            hour_held=Sum("quantity", filter=ticket & in_hour & ~paid, default=0),
            hour_orders=Count("order", distinct=True, filter=in_hour),
            today_sold=Sum("quantity", filter=ticket & today & paid, default=0),
            today_held=Sum("quantity", filter=ticket & today & ~paid, default=0),
            today_orders=Count("order", distinct=True, filter=today),
            today_revenue=Sum("line_total", filter=today & paid, default=0),
            first_seat_in_hour=Min("order__created_at", filter=ticket & in_hour),
        )
        .order_by()
    )
    per_bucket = {}
    totals = dict.fromkeys(_SUMMED, 0)
    firsts = []
    for row in rows:
        per_bucket[key_of(row["bucket"])] = (row["sold"], row["held"])
        for name in _SUMMED:
            totals[name] += row[name]
        if row["first_seat_in_hour"] is not None:
            firsts.append(row["first_seat_in_hour"])
    counts = [per_bucket.get(key, (0, 0)) for key in keys]
    return Sales(
        stats=SalesStats(**totals, first_seat_in_hour=min(firsts, default=None)),
        chart=draw_sales_chart(granularity, starts, counts),
    )


# The figures of ``SalesStats`` that add up over the chart's buckets.
_SUMMED = (
    "hour_sold",
    "hour_held",
    "hour_orders",
    "today_sold",
    "today_held",
    "today_orders",
    "today_revenue",
)


@dataclass(frozen=True)
class Projection:
    """When the venue sells out at the recent pace.

    ``state``: "unlimited", "sold_out", "no_sales" (nothing in the last hour),
    "not_at_pace" (the pace does not sell out before the conference starts) or
    "eta" (``eta`` is the projected moment, in the conference's time zone).
    """

    state: str
    remaining: int | None
    seats_per_hour: float
    eta: datetime | None
    eta_same_day: bool = True


def project_sellout(conference, availability, stats, *, now, tz) -> Projection:
    remaining = availability.remaining
    if availability.capacity is None:
        return Projection("unlimited", None, 0.0, None)
    if remaining == 0:
        return Projection("sold_out", 0, 0.0, None)
    seats = stats.hour_seats
    if not seats or stats.first_seat_in_hour is None:
        return Projection("no_sales", remaining, 0.0, None)
    window = max(now - stats.first_seat_in_hour, MIN_PACE_WINDOW)
    per_hour = seats * 3600 / window.total_seconds()
    eta = (now + timedelta(hours=remaining / per_hour)).astimezone(tz)
    doors_open = datetime.combine(conference.start_date, time.min, tzinfo=tz)
    if eta >= doors_open:
        return Projection("not_at_pace", remaining, per_hour, None)
    same_day = eta.date() == now.astimezone(tz).date()
    return Projection("eta", remaining, per_hour, eta, same_day)


# --- orders -----------------------------------------------------------------------


def with_ticket_count(queryset):
    """Annotate orders with ``tickets``: the units of their ticket (seat) lines.

    A correlated subquery rather than a join and GROUP BY, so the database sums
    the lines of the rows it returns (a page, the latest few) instead of
    aggregating every order of the conference before the LIMIT.
    """
    tickets = (
        OrderLineItem.objects.filter(order=OuterRef("pk"), kind=OrderLineItem.Kind.TICKET)
        .order_by()
        .values("order")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    return queryset.annotate(tickets=Coalesce(Subquery(tickets), 0))


def short_age(delta) -> str:
    """How long ago, in the largest whole unit: "just now", "12 min", "3 h", "5 d"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return gettext("just now")
    if seconds < 3600:
        minutes = seconds // 60
        # Translators: how long ago an order was placed, in minutes (abbreviated).
        return ngettext("%(count)d min ago", "%(count)d min ago", minutes) % {"count": minutes}
    if seconds < 86400:
        hours = seconds // 3600
        # Translators: how long ago an order was placed, in hours (abbreviated).
        return ngettext("%(count)d h ago", "%(count)d h ago", hours) % {"count": hours}
    days = seconds // 86400
    # Translators: how long ago an order was placed, in days (abbreviated).
    return ngettext("%(count)d d ago", "%(count)d d ago", days) % {"count": days}


@dataclass(frozen=True)
class RecentOrder:
    """An order in the "latest orders" widget, with its age at the snapshot's instant."""

    order: Order
    age: str
    hold_lapsed: bool
    awaiting_transfer: bool = False

    @property
    def status_label(self):
        """The status in the reader's language. Not ``get_status_display``, which
        translates every status to find one."""
        try:
            return Order.Status(self.order.status).label
        except ValueError:
            return self.order.status


def latest_orders(conference, *, now, limit=LATEST_ORDERS) -> list[RecentOrder]:
    """The most recently placed orders, with their ticket counts, in one query."""
    orders = Order.objects.filter(conference=conference).order_by("-created_at", "-pk")
    return [
        RecentOrder(
            order=order,
            age=short_age(now - order.created_at),
            hold_lapsed=order.status == Order.Status.PENDING and not order.hold_is_live(now),
            awaiting_transfer=is_awaiting_transfer(order),
        )
        for order in with_ticket_count(orders)[:limit]
    ]


# Pending orders whose buyer chose bank transfer: the money has not arrived yet.
AWAITING_TRANSFER_ORDERS = Q(status=Order.Status.PENDING, payment_provider="manual")


def orders_for_table(conference, *, status="", search=""):
    """The conference's orders for the orders table, filtered by status and a search term.

    ``status`` is an ``Order.Status`` value or ``AWAITING_TRANSFER`` (pending
    bank transfers). The search matches the reference, the buyer's email or name
    (case-insensitive).
    """
    orders = Order.objects.filter(conference=conference)
    if status == AWAITING_TRANSFER:
        orders = orders.filter(AWAITING_TRANSFER_ORDERS)
    elif status:
        orders = orders.filter(status=status)
    search = search.strip()
    if search:
        orders = orders.filter(
            Q(reference__icontains=search) | Q(email__icontains=search) | Q(name__icontains=search)
        )
    return with_ticket_count(orders).order_by("-created_at", "-pk")


def waiting_entries_for_table(conference, *, status="", ticket_type="", search=""):
    """The conference's waiting-list entries, oldest first, with their ticket type and offer.

    ``ticket_type`` is a ticket type's pk (as text), ``ANY_TICKET_TYPE`` for entries
    that take any ticket type, or empty for all. The search matches the email or
    name (case-insensitive).
    """
    entries = WaitingListEntry.objects.filter(conference=conference).select_related(
        "ticket_type", "order"
    )
    if status:
        entries = entries.filter(status=status)
    if ticket_type == ANY_TICKET_TYPE:
        entries = entries.filter(ticket_type__isnull=True)
    elif ticket_type:
        entries = entries.filter(ticket_type_id=ticket_type)
    search = search.strip()
    if search:
        entries = entries.filter(Q(email__icontains=search) | Q(name__icontains=search))
    return entries.order_by("created_at", "pk")
