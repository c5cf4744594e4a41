"""Per-widget versions of the organizer dashboard, and the widgets computed only when drawn.

A poll reads, in one statement, the few facts every widget is drawn from (the
seat counters by target, the catalogue's rows, blocked seats, the waiting list,
the latest change of an order, the next hold to lapse, the next sale-window
boundary) and hashes, for each widget, the facts it shows. The ETag is those
versions in a fixed order: the client sends it back (``If-None-Match``), so the
server knows which versions it has, answers 304 when none moved, and otherwise
draws only the widgets whose version moved (``LiveDashboard`` computes a figure
the first time a widget reads it). Time-relative widgets (sales in the last hour,
ages, the projection) carry the current minute, the chart the current hour.

The ticket-type rows go one step further. When their widget moved, each row's
version is a hash of what it shows (``row_versions``), and the ETag carries
those too, so a poll redraws only the rows that changed: one row for an order
of one ticket type. A row added, removed or moved redraws the whole widget.

What no fact shows: a change of the viewer's permissions (a reload brings it),
and deleting an order that takes no seats, which the latest orders show within
a minute.
"""

import functools
import hashlib
from dataclasses import dataclass
from functools import cached_property

from django.db import connection
from django.utils import timezone
from django.utils.http import parse_etags

from conference.models import Conference
from registration.models import AddOn, Order, TicketType, WaitingListEntry

from .charts import capacity_bar
from .counters.version import version_of, version_statement
from .dashboard import (
    conference_tz,
    item_rows,
    latest_orders,
    project_sellout,
    sales,
)
from .models import BlockedSeats, SeatCounter
from .polling import (
    CHANGE_FACTS,
    change_facts_sql,
    dashboard_fast_seconds,
    latest,
    next_poll_seconds,
)
from .services import get_availability
from .waiting import waiting_summary

# The widgets a poll may draw, in the order of their versions in the ETag.
WIDGETS = (
    "poller",
    "venue-gauge",
    "ticket-rows",
    "addon-rows",
    "sales-stats",
    "projection",
    "sales-chart",
    "latest-orders",
    "overrides-panel",
)
# What the widgets show of the conference itself. Not its ``updated_at``, which
# every capacity override touches, whatever it changed.
_CONFERENCE_COLUMNS = (
    "name",
    "total_capacity",
    "low_stock_threshold",
    "waiting_list_enabled",
    "timezone",
    "start_date",
)
# The columns of a ticket type or add-on that a row shows.
_ITEM_COLUMNS = {
    TicketType: (
        "name",
        "total_quantity",
        "is_active",
        "position",
        "max_per_order",
        "available_from",
        "available_until",
    ),
    AddOn: ("name", "total_quantity", "is_active", "position"),
}


def _catalogue_sql(model):
    """One text naming every row of ``model`` for a conference and the columns a row shows."""
    columns = ["id", *_ITEM_COLUMNS[model]]
    if connection.vendor == "postgresql":
        row = "CONCAT_WS('|', " + ", ".join(f"{c}::text" for c in columns) + ")"
        aggregate = f"STRING_AGG({row}, ',' ORDER BY id)"
    else:
        row = " || '|' || ".join(f"COALESCE({c}, '')" for c in columns)
        aggregate = f"GROUP_CONCAT({row}, ',')"
    return f"SELECT {aggregate} FROM {model._meta.db_table} WHERE conference_id = %s"


def _counter_facts(target):
    table = SeatCounter._meta.db_table
    where = f"{table} WHERE conference_id = %s AND target = '{target}'"
    return [
        (f"{target}_seats", f"SELECT SUM(seats) FROM {where}"),
        (f"{target}_sold", f"SELECT SUM(seats) FROM {where} AND expires_minute = 0"),
        (f"{target}_spread", f"SELECT SUM(seats * (item_id + 1)) FROM {where}"),
        (
            f"{target}_sold_spread",
            f"SELECT SUM(seats * (item_id + 1)) FROM {where} AND expires_minute = 0",
        ),
    ]


# The columns of ``capacity.counters.version_statement``, which every statement starts with.
_VERSION_FACTS = ("seats_version", "conference_changed", "last_override")


@functools.cache
def _facts_sql(vendor, version_sql):
    """(SQL, fact names, placeholders): the conference's version row
    (``version_sql``) and one scalar subquery per fact, each over one small table
    of the conference or an index probe of its orders."""
    conference = f"{Conference._meta.db_table} WHERE id = %s"
    orders = f"{Order._meta.db_table} WHERE conference_id = %s"
    types = f"{TicketType._meta.db_table} WHERE conference_id = %s"
    blocked = f"{BlockedSeats._meta.db_table} WHERE conference_id = %s"
    waiting = f"{WaitingListEntry._meta.db_table} WHERE conference_id = %s"
    pending = Order.Status.PENDING.value
    target = SeatCounter.Target
    facts = [
        (
            "conference",
            "SELECT " + " || '|' || ".join(_CONFERENCE_COLUMNS) + f" FROM {conference}",
        ),
        *change_facts_sql("%s"),
        (
            "next_lapse",
            f"SELECT MIN(hold_expires_at) FROM {orders} AND status = '{pending}'"
            " AND hold_expires_at > %s",
        ),
        *_counter_facts(target.VENUE.value),
        *_counter_facts(target.TICKET.value),
        *_counter_facts(target.ADDON.value),
        ("ticket_types", _catalogue_sql(TicketType)),
        ("addons", _catalogue_sql(AddOn)),
        ("sale_opens", f"SELECT MIN(available_from) FROM {types} AND available_from > %s"),
        ("sale_ends", f"SELECT MIN(available_until) FROM {types} AND available_until > %s"),
        ("blocked", f"SELECT COUNT(*) || ':' || COALESCE(SUM(quantity), 0) FROM {blocked}"),
        (
            "blocked_spread",
            f"SELECT SUM(quantity * (COALESCE(ticket_type_id, 0) + 1)) FROM {blocked}",
        ),
        ("entries", f"SELECT COUNT(*) FROM {waiting}"),
    ]
    sql = (
        "SELECT version.*, "
        + ", ".join(f"({query})" for _, query in facts)
        + f" FROM ({version_sql}) AS version"
    )
    placeholders = tuple(
        "now" if before.rstrip().endswith(">") else "conference"
        for _, query in facts
        for before in query.split("%s")[:-1]
    )
    return sql, (*_VERSION_FACTS, *(name for name, _ in facts)), placeholders


# Which facts each widget is drawn from (besides the conference's own, in all of them).
_VENUE = ("venue_seats", "venue_sold", "next_lapse", "blocked", "entries", "entry_changed")
_WIDGET_FACTS = {
    "venue-gauge": _VENUE,
    "ticket-rows": (
        *_VENUE,
        "ticket_seats",
        "ticket_sold",
        "ticket_spread",
        "ticket_sold_spread",
        "ticket_types",
        "sale_opens",
        "sale_ends",
        "blocked_spread",
    ),
    "addon-rows": (
        "addon_seats",
        "addon_sold",
        "addon_spread",
        "addon_sold_spread",
        "addons",
        "next_lapse",
    ),
    "sales-stats": ("order_changed", "venue_seats", "venue_sold", "next_lapse", "minute"),
    "projection": (*_VENUE, "order_changed", "minute"),
    "sales-chart": ("order_changed", "venue_seats", "venue_sold", "next_lapse", "hour"),
    "latest-orders": ("order_changed", "venue_seats", "venue_sold", "minute"),
    # The panel lists recent overrides (its summary loads itself when drawn).
    "overrides-panel": ("last_override",),
}


def _digest(values) -> str:
    return hashlib.blake2b(repr(values).encode(), digest_size=4).hexdigest()


class WidgetVersions:
    """The version of every widget of one conference's dashboard at one instant."""

    def __init__(self, versions, last_change, poll_seconds, conference_version):
        self.versions = versions
        self.last_change = last_change
        self.poll_seconds = poll_seconds
        # ``capacity.counters.conference_version``: moves with any edit at all.
        self.conference_version = conference_version

    def etag(self, user_pk, granularity, rows="") -> str:
        """The versions in a fixed order, then (after ``~``) those of the ticket-type
        rows the client holds (``row_versions``), when known."""
        versions = ".".join(self.versions[widget] for widget in WIDGETS)
        return f'"{user_pk}-{granularity}-{versions}{"~" + rows if rows else ""}"'

    def held_by(self, if_none_match, user_pk, granularity) -> "HeldVersions | None":
        """What the client's ETag says it shows, when it names this viewer and chart period."""
        for tag in parse_etags(if_none_match):
            tag = tag.removeprefix("W/").strip('"')
            user, _, rest = tag.partition("-")
            period, _, rest = rest.partition("-")
            versions, _, rows = rest.partition("~")
            known = versions.split(".")
            if user == str(user_pk) and period == granularity and len(known) == len(WIDGETS):
                return HeldVersions(dict(zip(WIDGETS, known, strict=True)), rows, f'"{tag}"')
        return None

    def moved(self, held) -> set:
        """The widgets whose version differs from those the client holds (every
        widget when it holds none)."""
        if held is None:
            return set(WIDGETS)
        return {widget for widget in WIDGETS if self.versions[widget] != held.versions[widget]}


@dataclass(frozen=True)
class HeldVersions:
    """The versions an ETag sent back by a client names: of each widget and of
    each ticket-type row (``row_versions``, empty when it names none)."""

    versions: dict
    rows: str
    etag: str


def row_versions(rows, columns=False) -> str:
    """``<list>:<row>.<row>…``: the version of the list of rows (which rows, in
    which order, with which ``columns``) and of each row (everything it shows)."""
    listed = _digest([columns, *(row.dom_id for row in rows)])
    return f"{listed}:{'.'.join(_digest(row) for row in rows)}"


def ticket_rows_to_draw(dash, moved, held, *, controls) -> tuple[str, list | None]:
    """(the ticket-type rows' versions for the ETag, the rows a poll redraws).

    The rows to redraw are those whose version differs from the client's; None
    when the whole widget is drawn: on the page, or when the client holds no row
    versions or another list of rows (one added, removed or moved). ``controls``
    (a bool, or a callable giving it) says whether the rows carry the override
    controls' column: a change of it redraws the whole table, header included.
    """
    if "ticket-rows" not in moved:
        return (held.rows if held else ""), None
    columns = bool(controls() if callable(controls) else controls)
    rows = dash.ticket_rows
    current = row_versions(rows, columns)
    if held is None:
        return current, None
    listed, _, each = current.partition(":")
    held_listed, _, held_each = held.rows.partition(":")
    if listed != held_listed:
        return current, None
    now, before = each.split("."), held_each.split(".")
    if len(before) != len(now):
        return current, None
    return current, [row for row, new, old in zip(rows, now, before, strict=True) if new != old]


def widget_versions(conference, *, now=None) -> WidgetVersions:
    """Every widget's version, the conference's last change and the poll's next delay,
    in one statement whatever the number of ticket types or orders."""
    now = now or timezone.now()
    version_sql, version_params = version_statement(conference)
    sql, names, placeholders = _facts_sql(connection.vendor, version_sql)
    moment = connection.ops.adapt_datetimefield_value(now)
    params = [moment if placeholder == "now" else conference.pk for placeholder in placeholders]
    with connection.cursor() as cursor:
        cursor.execute(sql, params + version_params)
        row = cursor.fetchone()
    facts = dict(zip(names, row, strict=True))
    facts["minute"] = int(now.timestamp() // 60)
    facts["hour"] = int(now.timestamp() // 3600)
    last_change = latest(
        facts[name]
        for name in ("conference_changed", "last_override", *(name for name, _ in CHANGE_FACTS))
    )
    poll_seconds = next_poll_seconds(last_change, fast=dashboard_fast_seconds(), now=now)
    versions = {
        widget: _digest([facts["conference"], *(facts[name] for name in names_)])
        for widget, names_ in _WIDGET_FACTS.items()
    }
    versions["poller"] = str(poll_seconds)
    conference_version = version_of(row[: len(_VERSION_FACTS)])
    return WidgetVersions(versions, last_change, poll_seconds, conference_version)


class LiveDashboard:
    """What the dashboard's widgets show, each figure computed the first time a
    widget reads it, all at one instant: a poll that draws two widgets runs the
    queries of those two only."""

    def __init__(self, conference, *, granularity="hour", now=None):
        self.conference = conference
        self.granularity = granularity
        self.now = now or timezone.now()
        self.tz = conference_tz(conference)
        self.computed_at = self.now.astimezone(self.tz)

    @cached_property
    def availability(self):
        return get_availability(self.conference, now=self.now)

    @cached_property
    def waiting(self):
        return waiting_summary(self.conference)

    @property
    def waiting_for_any(self):
        return self.waiting.for_ticket_type(None)

    @cached_property
    def venue_bar(self):
        venue = self.availability
        return capacity_bar(
            capacity=venue.capacity, sold=venue.sold, held=venue.held, blocked=venue.blocked
        )

    @cached_property
    def ticket_rows(self):
        return item_rows(self.availability.ticket_types, self.waiting)

    @cached_property
    def addon_rows(self):
        return item_rows(self.availability.addons)

    @cached_property
    def sales(self):
        # The figures and the chart come from one query: one order moves both, and
        # a poll that draws only the figures (a new minute) runs the same query.
        return sales(self.conference, now=self.now, tz=self.tz, granularity=self.granularity)

    @property
    def stats(self):
        return self.sales.stats

    @cached_property
    def projection(self):
        return project_sellout(
            self.conference, self.availability, self.stats, now=self.now, tz=self.tz
        )

    @property
    def chart(self):
        return self.sales.chart

    @cached_property
    def latest_orders(self):
        return latest_orders(self.conference, now=self.now)
