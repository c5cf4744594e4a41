"""One version per conference: a short string that changes with every edit its pages can show.

The triggers (``postgresql``, ``sqlite``) move ``Conference.seats_version``
whenever an order or a line moves a seat counter, an order is deleted, or a
ticket type, add-on, blocked seats or waiting-list entry is written or deleted,
whatever writes it (services, the admin, ``QuerySet.update``). The conference's
own edits show in its ``updated_at`` (the overrides touch it), and every
override in its ``CapacityChange``. A same-length rename is seen like any other
edit. What changes with time alone (a hold lapsing, a sale window opening) is
not an edit: a reader that shows it adds it to the version itself, as
``with_live_version`` does for the public pages.
"""

import hashlib

from django.db import connection
from django.db.models import DateTimeField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from conference.models import Conference
from registration.models import Order, TicketType

from ..models import CapacityChange


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


# What ``with_live_version`` adds to a conference's own row, in this order.
LIVE_FACTS = ("last_override", "next_lapse", "next_sale_start", "next_sale_end")


def _live_facts(now) -> dict:
    """The subqueries of ``LIVE_FACTS``, each an index probe on its table."""
    quote = connection.ops.quote_name
    of_conference = f"conference_id = {quote(Conference._meta.db_table)}.{quote('id')}"
    moment = connection.ops.adapt_datetimefield_value(now)

    def moment_of(aggregate, model, column, condition="", params=()):
        sql = (
            f"SELECT {aggregate}({quote(column)}) FROM {quote(model._meta.db_table)}"
            f" WHERE {of_conference}{condition}"
        )
        return RawSQL(sql, list(params), output_field=DateTimeField())

    def next_moment(model, column, condition=""):
        return moment_of("MIN", model, column, f"{condition} AND {quote(column)} > %s", [moment])

    return {
        "last_override": moment_of("MAX", CapacityChange, "created_at"),
        # 'pending' as a literal: only then can the planner use the partial
        # index of live holds (conference, hold_expires_at WHERE pending).
        "next_lapse": next_moment(
            Order, "hold_expires_at", f" AND status = '{Order.Status.PENDING.value}'"
        ),
        "next_sale_start": next_moment(TicketType, "available_from"),
        "next_sale_end": next_moment(TicketType, "available_until"),
    }


def with_live_version(conferences, *, now=None):
    """``conferences`` (a Conference queryset) annotated with ``LIVE_FACTS``:
    the last override, and the next moments after ``now`` at which a hold
    lapses, a sale window opens and one closes. Read a row's version with
    ``live_version``."""
    return conferences.annotate(**_live_facts(now or timezone.now()))


def live_version(conference) -> str:
    """The version of what a conference's public pages show, for a conference
    read through ``with_live_version``: its whole row (``seats_version``, and
    any edit of its own, ``QuerySet.update`` included), its last override, and
    the next moment time alone changes what is counted or on sale (so the
    version moves when a hold lapses or a sale window opens or closes)."""
    row = tuple(field.value_from_object(conference) for field in Conference._meta.concrete_fields)
    return version_of((*row, *(getattr(conference, fact) for fact in LIVE_FACTS)))
