"""One version per conference: a short string that changes with every edit its pages can show.

The triggers (``postgresql``, ``sqlite``) move ``Conference.seats_version``
whenever an order or a line moves a seat counter, an order is deleted, or a
ticket type, add-on, blocked seats or waiting-list entry is written or deleted,
whatever writes it (services, the admin, ``QuerySet.update``). The conference's
own edits show in its ``updated_at`` (the overrides touch it), and every
override in its ``CapacityChange``. A same-length rename is seen like any other
edit. What changes with time alone (a hold lapsing, a sale window opening) is
not an edit: a reader that shows it adds it to the version itself, as
``public_conference_row`` does for the public pages.
"""

import functools
import hashlib
from datetime import datetime

from django.db import connection
from django.utils import timezone

from conference.models import Conference
from registration.models import Order, TicketType

from ..models import CapacityChange
from ..polling import change_facts_sql, latest
from ..rows import fetch_rows, instances_from_rows


def version_statement(conference) -> tuple[str, list]:
    """The SQL of the version's inputs and its parameters: one row, one statement."""
    changes = CapacityChange._meta.db_table
    sql = (
        "SELECT c.seats_version, c.updated_at,"
        f" (SELECT MAX(created_at) FROM {changes} WHERE conference_id = c.id)"
        f" FROM {Conference._meta.db_table} c WHERE c.id = %s"
    )
    return sql, [getattr(conference, "pk", conference)]


def version_of(row) -> str:
    """The version string of a row of ``version_statement`` (and any facts a caller adds)."""
    return hashlib.blake2b(repr(tuple(row)).encode(), digest_size=10).hexdigest()


def conference_version(conference) -> str:
    """The version of one conference, in one query (see the module)."""
    with connection.cursor() as cursor:
        cursor.execute(*version_statement(conference))
        return version_of(cursor.fetchone())


# What ``public_conference_row`` reads beside a conference's own row, in this order.
LIVE_FACTS = ("last_override", "next_lapse", "next_sale_start", "next_sale_end")


@functools.cache
def _public_sql(with_changes: bool) -> str:
    """The conference of a slug, every column, and ``LIVE_FACTS``, each an index
    probe on its table, then with ``with_changes`` the latest writes of
    ``CHANGE_FACTS``; built once, as every public request starts here."""
    quote = connection.ops.quote_name
    columns = ", ".join(f"c.{quote(f.column)}" for f in Conference._meta.concrete_fields)
    changes, orders = CapacityChange._meta.db_table, Order._meta.db_table
    ticket_types = TicketType._meta.db_table
    facts = [
        f"(SELECT MAX(created_at) FROM {changes} WHERE conference_id = c.id)",
        # 'pending' as a literal: only then can the planner use the partial
        # index of live holds (conference, hold_expires_at WHERE pending).
        f"(SELECT MIN(hold_expires_at) FROM {orders} WHERE conference_id = c.id"
        f" AND status = '{Order.Status.PENDING.value}' AND hold_expires_at > %s)",
        f"(SELECT MIN(available_from) FROM {ticket_types}"
        " WHERE conference_id = c.id AND available_from > %s)",
        f"(SELECT MIN(available_until) FROM {ticket_types}"
        " WHERE conference_id = c.id AND available_until > %s)",
    ]
    if with_changes:
        facts += [f"({query})" for _, query in change_facts_sql("c.id")]
    return (
        f"SELECT {columns}, {', '.join(facts)}"
        f" FROM {quote(Conference._meta.db_table)} c WHERE c.slug = %s"
    )


def public_conference_row(
    slug, *, now=None, with_changes=False
) -> tuple[Conference, str, datetime | None] | None:
    """(conference, version, last change) of the conference a public page names:
    the row, fresh, with the version of what its public pages show, in one
    statement; None for an unknown slug.

    The version covers its whole row (``seats_version``, and any edit of its
    own, ``QuerySet.update`` included), its last override, and the next moment
    time alone changes what is counted or on sale (so it moves when a hold
    lapses or a sale window opens or closes).

    ``with_changes`` (what a poll's pace follows, ``capacity.polling``): the same
    statement reads when the conference, its orders, blocked seats or waiting
    list last changed; otherwise that is None.
    """
    moment = connection.ops.adapt_datetimefield_value(now or timezone.now())
    rows = fetch_rows(_public_sql(with_changes), [moment, moment, moment, slug])
    if not rows:
        return None
    width = len(Conference._meta.concrete_fields)
    (conference,) = instances_from_rows(Conference, rows[:1], range(width))
    versioned = width + len(LIVE_FACTS)
    last_change = latest([conference.updated_at, *rows[0][versioned:]]) if with_changes else None
    return conference, version_of(rows[0][:versioned]), last_change
