"""The naive recount of the seats from the lines: the reference the counters are checked against.

``naive_seat_totals`` is the counting rule summed over every line ever sold,
what the fast reads must equal; ``recount_seat_counters`` what every counter
should hold, its buckets computed in Python apart from the triggers' SQL;
``find_counter_drift`` where they differ, and ``rebuild_seat_counters`` the
counters recomputed whole (after a bulk load, or when the triggers were away).
``python manage.py check_seats [--fix]`` reports and repairs drift.
"""

from dataclasses import dataclass

from django.db import connection as default_connection
from django.db import transaction
from django.db.models import Case, F, Q, Sum, When

from registration.models import OrderLineItem

from ..models import SeatCounter
from .reads import add_line_seats, line_target
from .rule import PENDING, SOLD, bucket_of, bucket_sql, committed, minute_start, taking_seats
from .schema import VENUE, names


def naive_seat_totals(conference, now) -> dict:
    """Like ``seat_totals``, but summing every line ever sold (the naive aggregate).

    This is the counting rule written out directly, as the seat check did it
    before the counters: the reference the fast path is tested and benchmarked
    against. Its cost grows with every sale.
    """
    sold = committed()
    rows = (
        OrderLineItem.objects.filter(order__conference=conference)
        .filter(taking_seats(now))
        .values("kind", "ticket_type_id", "addon_id")
        .annotate(
            sold=Sum("quantity", filter=sold, default=0),
            held=Sum("quantity", filter=~sold, default=0),
        )
        .order_by()
    )
    totals = {}
    for row in rows:
        target, item_id = line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        add_line_seats(totals, target, item_id, row["sold"], row["held"])
    return {key: value for key, value in totals.items() if value != (0, 0)}


def naive_venue_seats_taken(conference, now) -> int:
    """Venue seats taken, summed over every line ever sold (the naive aggregate)."""
    return (
        OrderLineItem.objects.filter(order__conference=conference, kind=OrderLineItem.Kind.TICKET)
        .filter(taking_seats(now))
        .aggregate(total=Sum("quantity", default=0))["total"]
    )


def recount_seat_counters(conference=None) -> dict:
    """What every counter should hold, recomputed from the lines.

    ``{(conference_id, expires_minute, target, item_id): seats}`` for one
    conference, or for all of them when ``conference`` is None: committed seats
    in bucket 0, the seats of each PENDING order in the bucket of its hold's
    expiry minute, lapsed or not (the counters keep a lapsed hold until its
    order changes status). Targets with no seats are left out. The buckets are
    computed here in Python, apart from the SQL of the triggers they check.
    """
    lines = OrderLineItem.objects.filter(committed() | Q(order__status=PENDING))
    if conference is not None:
        lines = lines.filter(order__conference=conference)
    rows = (
        lines.annotate(
            # Committed lines grouped together, pending ones by their hold.
            hold=Case(When(order__status=PENDING, then=F("order__hold_expires_at"))),
        )
        .values(
            "order__conference_id", "order__status", "hold", "kind", "ticket_type_id", "addon_id"
        )
        .annotate(seats=Sum("quantity"))
        .order_by()
    )
    truth = {}
    for row in rows:
        minute = bucket_of(row["order__status"], row["hold"])
        if minute is None:
            continue
        conference_id = row["order__conference_id"]
        if row["kind"] == OrderLineItem.Kind.TICKET:
            key = (conference_id, minute, VENUE, 0)
            truth[key] = truth.get(key, 0) + row["seats"]
        target, item_id = line_target(row["kind"], row["ticket_type_id"], row["addon_id"])
        if item_id is not None:
            key = (conference_id, minute, target, item_id)
            truth[key] = truth.get(key, 0) + row["seats"]
    return {key: seats for key, seats in truth.items() if seats}


def stored_seat_counters(conference=None) -> dict:
    """The counters as stored: ``{(conference_id, expires_minute, target, item_id): seats}``.

    Zeros are left out.
    """
    counters = SeatCounter.objects.exclude(seats=0)
    if conference is not None:
        counters = counters.filter(conference=conference)
    return {
        (conference_id, minute, target, item_id): seats
        for conference_id, minute, target, item_id, seats in counters.values_list(
            "conference_id", "expires_minute", "target", "item_id", "seats"
        )
    }


@dataclass(frozen=True)
class CounterDrift:
    """One counter that disagrees with its lines."""

    conference_id: int
    expires_minute: int
    target: str
    item_id: int
    stored: int
    recounted: int

    def __str__(self):
        what = "venue" if self.target == VENUE else f"{self.target} {self.item_id}"
        if self.expires_minute == SOLD:
            bucket = "sold"
        else:
            bucket = (
                f"held, expiring in minute {minute_start(self.expires_minute):%Y-%m-%d %H:%M} UTC"
            )
        return (
            f"conference {self.conference_id}, {what} ({bucket}): counter says {self.stored}, "
            f"lines say {self.recounted} ({self.stored - self.recounted:+d})"
        )


def find_counter_drift(conference=None) -> list[CounterDrift]:
    """Every counter, sold or held, whose stored seats differ from the recount of its lines."""
    stored = stored_seat_counters(conference)
    truth = recount_seat_counters(conference)
    return [
        CounterDrift(*key, stored=stored.get(key, 0), recounted=truth.get(key, 0))
        for key in sorted(set(stored) | set(truth))
        if stored.get(key, 0) != truth.get(key, 0)
    ]


def rebuild_seat_counters(connection=None):
    """Recompute every counter, sold and held, from the lines, replacing what is stored.

    Two statements. Used when the triggers were away: by the migration that
    installs them and, on SQLite, after every migration run.
    """
    connection = connection or default_connection
    n = names()
    bucketed_lines = (
        f"(SELECT o.conference_id, {bucket_sql(connection.vendor, 'o')} AS expires_minute,"
        " l.kind, l.ticket_type_id, l.addon_id, l.quantity"
        f" FROM {n['line']} l INNER JOIN {n['order']} o ON o.id = l.order_id) b"
        " WHERE expires_minute IS NOT NULL"
    )
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {n['counter']}")
        cursor.execute(
            f"""
            INSERT INTO {n["counter"]} (conference_id, expires_minute, target, item_id, seats)
            SELECT conference_id, expires_minute, '{n["venue"]}', 0, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["ticket"]}'
            GROUP BY conference_id, expires_minute
            UNION ALL
            SELECT conference_id, expires_minute, '{n["ticket"]}', ticket_type_id, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["ticket"]}' AND ticket_type_id IS NOT NULL
            GROUP BY conference_id, expires_minute, ticket_type_id
            UNION ALL
            SELECT conference_id, expires_minute, '{n["addon"]}', addon_id, SUM(quantity)
            FROM {bucketed_lines} AND kind = '{n["addon"]}' AND addon_id IS NOT NULL
            GROUP BY conference_id, expires_minute, addon_id
            """
        )
