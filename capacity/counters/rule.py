"""The counting rule, written once in Python and once as the SQL the triggers use.

A ticket line takes a venue seat when its order is PAID or PARTIALLY_REFUNDED
(committed), or PENDING with ``hold_expires_at`` in the future (held). A hold
stops counting the instant it expires. Add-on lines count against their
add-on's own quantity under the same rule; lines of any other order take no
seats.

The counters keep each order's lines in a bucket (``bucket_of`` in Python,
``bucket_sql`` in SQL): bucket ``SOLD`` (0) for committed orders, the minute its
hold expires (``expiry_minute``) for a PENDING order, none for every other
order. A bucket counts at ``now`` when it is ``SOLD``, or a minute after
``now``'s; the holds of ``now``'s own minute count while they have not expired
(``bucket_counts``). ``tests/capacity/counters/test_rule.py`` checks that the
Python rule, the ORM filter and the SQL agree for every status and hold.
"""

from datetime import UTC, datetime, timedelta

from django.db.models import Q

from registration.models import Order

COMMITTED_STATUSES = Order.COMMITTED_STATUSES
PENDING = Order.Status.PENDING

# The bucket of committed seats; a held bucket is the minute its holds expire.
SOLD = 0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def takes_seats(status, hold_expires_at, now) -> bool:
    """Whether the lines of an order (``status``, ``hold_expires_at``) take seats at ``now``."""
    if status in COMMITTED_STATUSES:
        return True
    return status == PENDING and hold_expires_at is not None and hold_expires_at > now


def taking_seats(now, *, prefix="order__") -> Q:
    """The rule as a filter: rows (order lines by default) whose order takes seats at ``now``.

    ``prefix`` is the path from the filtered model to the order (``""`` to
    filter orders themselves).
    """
    return committed(prefix=prefix) | Q(
        **{f"{prefix}status": PENDING, f"{prefix}hold_expires_at__gt": now}
    )


def committed(*, prefix="order__") -> Q:
    """Rows whose order takes its seats for good (sold, not held)."""
    return Q(**{f"{prefix}status__in": COMMITTED_STATUSES})


def expiry_minute(moment) -> int:
    """The held bucket of a hold expiring at ``moment``: whole minutes since the epoch.

    Integer arithmetic on the timedelta, not ``timestamp()``: a float cannot
    tell 10:15:59.999999 from 10:16:00 so far from 1970.
    """
    return (moment - EPOCH) // MINUTE


def minute_start(minute) -> datetime:
    """When minute ``minute`` (as from ``expiry_minute``) begins, in UTC."""
    return EPOCH + minute * MINUTE


def bucket_of(status, hold_expires_at) -> int | None:
    """The bucket of an order's lines: ``SOLD`` if committed, its expiry minute if
    PENDING, None when they take no seats whatever the time."""
    if status in COMMITTED_STATUSES:
        return SOLD
    if status == PENDING and hold_expires_at is not None:
        return expiry_minute(hold_expires_at)
    return None


def bucket_counts(bucket, hold_expires_at, now) -> bool:
    """Whether the lines in ``bucket`` (their order's hold expiring at
    ``hold_expires_at``) take seats at ``now``: how the reads use the buckets."""
    if bucket is None:
        return False
    if bucket == SOLD:
        return True
    current = expiry_minute(now)
    return bucket > current or (bucket == current and hold_expires_at > now)


def bucket_sql(vendor, row) -> str:
    """``bucket_of`` in SQL, for the order ``row`` (a table alias, ``OLD`` or ``NEW``).

    NULL for every status but the committed ones and PENDING (and for a
    PENDING order without a hold, which the database refuses anyway). On
    SQLite only the first 19 characters of the stored text ('YYYY-MM-DD
    HH:MM:SS', the way Django writes UTC datetimes, fractions after them) are
    read: ``strftime`` rounds fractions to the nearest millisecond, which would
    put 10:15:59.9996 into minute 10:16.
    """
    if vendor == "postgresql":
        minute = f"floor(extract(epoch FROM {row}.hold_expires_at) / 60)::bigint"
    else:
        seconds = f"CAST(strftime('%s', substr({row}.hold_expires_at, 1, 19)) AS INTEGER)"
        # Floor division, as in Python and on PostgreSQL: SQLite's integer
        # division truncates towards zero, which differs before 1970.
        minute = f"(({seconds}) - ((({seconds}) % 60) + 60) % 60) / 60"
    statuses = ", ".join(f"'{status}'" for status in COMMITTED_STATUSES)
    return (
        f"(CASE WHEN {row}.status IN ({statuses}) THEN {SOLD}"
        f" WHEN {row}.status = '{PENDING}' THEN {minute} END)"
    )
