"""Seat counters, kept by the database itself: committed seats and held seats by expiry minute.

The seat check runs under the conference lock on every order, so it must not
grow with sales, nor with the holds of a launch rush. Seats are therefore kept
in ``SeatCounter`` rows, one per conference, bucket and target (the venue,
each ticket type, each add-on): bucket 0 for committed seats, bucket ``m`` for
the holds expiring during minute ``m`` (``rule``). A hold stops counting the
instant it expires, and no job moves its seats out when it does: the reads
(``reads``) skip the lapsed buckets and sum the current minute exactly.

Database triggers on ``registration_order`` and ``registration_orderlineitem``
keep the counters (``postgresql``, ``sqlite``, installed by ``install``).
Triggers, not Python, because orders and lines are also written by the admin,
by ``QuerySet.update()``, by ``SET_NULL`` when a ticket type is deleted, and by
tests building states with the ORM: whatever writes the rows, the counters
move in the same statement and the same transaction, and roll back with it.

A negative change never creates a counter row, only a positive one does: a
consistent database always has the row already, and emptying the tables in any
order (Django's test flush on SQLite) cannot leave negative rows behind. The
rows of lapsed buckets are emptied when ``expire_holds`` marks their orders
EXPIRED, and then deleted by it. ``recount`` recomputes the counters from the
lines, for ``check_seats`` and the tests. The same triggers move the
conference's ``seats_version``, which ``version.conference_version`` reads.
"""

from .install import drop_seat_triggers, install_seat_triggers, seat_triggers_installed
from .reads import (
    seat_totals,
    seat_totals_from_rows,
    seat_totals_query,
    venue_seats_taken,
    venue_seats_taken_query,
)
from .recount import (
    CounterDrift,
    find_counter_drift,
    naive_seat_totals,
    naive_venue_seats_taken,
    rebuild_seat_counters,
    recount_seat_counters,
    stored_seat_counters,
)
from .rule import (
    SOLD,
    bucket_of,
    bucket_sql,
    committed,
    expiry_minute,
    minute_start,
    takes_seats,
    taking_seats,
)
from .schema import ADDON, TICKET, VENUE
from .version import conference_version

__all__ = [
    "ADDON",
    "SOLD",
    "TICKET",
    "VENUE",
    "CounterDrift",
    "bucket_of",
    "bucket_sql",
    "committed",
    "conference_version",
    "drop_seat_triggers",
    "expiry_minute",
    "find_counter_drift",
    "install_seat_triggers",
    "minute_start",
    "naive_seat_totals",
    "naive_venue_seats_taken",
    "rebuild_seat_counters",
    "recount_seat_counters",
    "seat_totals",
    "seat_totals_from_rows",
    "seat_totals_query",
    "seat_triggers_installed",
    "stored_seat_counters",
    "takes_seats",
    "taking_seats",
    "venue_seats_taken",
    "venue_seats_taken_query",
]
