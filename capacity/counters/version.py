"""One version per conference: a short string that changes with every edit its pages can show.

The triggers (``postgresql``, ``sqlite``) move ``Conference.seats_version``
whenever an order or a line moves a seat counter, an order is deleted, or a
ticket type, add-on, blocked seats or waiting-list entry is written or deleted,
whatever writes it (services, the admin, ``QuerySet.update``). The conference's
own edits show in its ``updated_at`` (the overrides touch it), and every
override in its ``CapacityChange``. A same-length rename is seen like any other
edit. What changes with time alone (a hold lapsing, a sale window opening) is
not an edit: a reader that shows it adds it to the version itself.
"""

import hashlib

from django.db import connection

from conference.models import Conference

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
