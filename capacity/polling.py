"""How soon a live widget polls again: soon while seats are moving, seldom once the sale is quiet.

Every poll answer carries its poller's next delay (the poll element drawn again
with ``every Ns``), so the server, which knows when a conference last changed,
sets the pace: the fast interval (``SEATKEEPER_DASHBOARD_POLL_SECONDS`` for
organizers, ``SEATKEEPER_PUBLIC_POLL_SECONDS`` for attendees) while something
changed within ``SEATKEEPER_QUIET_AFTER_SECONDS``, ``SEATKEEPER_QUIET_POLL_SECONDS``
after that. A freshly opened page polls at the fast interval first.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from registration.models import Order, WaitingListEntry

from .models import BlockedSeats

# Defaults of SEATKEEPER_QUIET_AFTER_SECONDS and SEATKEEPER_QUIET_POLL_SECONDS.
QUIET_AFTER_SECONDS = 60
QUIET_POLL_SECONDS = 30


def dashboard_fast_seconds() -> int:
    return max(1, int(settings.SEATKEEPER_DASHBOARD_POLL_SECONDS))


def public_fast_seconds() -> int:
    return max(1, int(settings.SEATKEEPER_PUBLIC_POLL_SECONDS))


def next_poll_seconds(last_change: datetime | None, *, fast: int, now: datetime) -> int:
    """``fast`` while ``last_change`` is less than the quiet period before ``now``,
    else the quiet interval (never faster than ``fast``). No change at all is quiet."""
    quiet_after = getattr(settings, "SEATKEEPER_QUIET_AFTER_SECONDS", QUIET_AFTER_SECONDS)
    if last_change is not None and now - last_change < timedelta(seconds=quiet_after):
        return fast
    return max(fast, int(getattr(settings, "SEATKEEPER_QUIET_POLL_SECONDS", QUIET_POLL_SECONDS)))


# The tables whose latest write, with the conference's own row, sets the pace:
# what attendees and organizers see moves with them.
CHANGE_FACTS = (
    ("order_changed", Order),
    ("block_changed", BlockedSeats),
    ("entry_changed", WaitingListEntry),
)


def change_facts_sql(conference: str) -> list[tuple[str, str]]:
    """(name, SQL) of one scalar query per table of ``CHANGE_FACTS``: when the
    conference's latest row there was written, an index probe on
    ``(conference, updated_at)``. ``conference`` is the SQL of the conference's id
    (a column of the outer query, or a placeholder)."""
    where = f"WHERE conference_id = {conference}"
    return [
        (name, f"SELECT MAX(updated_at) FROM {model._meta.db_table} {where}")
        for name, model in CHANGE_FACTS
    ]


def _as_datetime(value) -> datetime | None:
    """A timestamp as the database returned it (SQLite: text), aware, or None."""
    moment = value if value is None or isinstance(value, datetime) else parse_datetime(str(value))
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def latest(moments) -> datetime | None:
    """The latest of timestamps as the database returned them; None when there are none."""
    return max((m for m in map(_as_datetime, moments) if m is not None), default=None)


def public_poll_seconds(last_change: datetime | None, *, now=None) -> int:
    """The next delay of an attendee's poll (ticket page, embeddable banner), from
    the conference's last change as ``public_conference(slug, with_changes=True)`` reads it."""
    return next_poll_seconds(last_change, fast=public_fast_seconds(), now=now or timezone.now())
