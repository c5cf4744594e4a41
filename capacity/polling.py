"""How soon a live widget polls again: soon while seats are moving, seldom once the sale is quiet.

Every poll answer carries its poller's next delay (the poll element drawn again
with ``every Ns``), so the server, which knows when a conference last changed,
sets the pace: the fast interval (``SEATKEEPER_DASHBOARD_POLL_SECONDS`` for
organizers, ``SEATKEEPER_PUBLIC_POLL_SECONDS`` for attendees) while something
changed within ``SEATKEEPER_QUIET_AFTER_SECONDS``, ``SEATKEEPER_QUIET_POLL_SECONDS``
after that. A freshly opened page polls at the fast interval first.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import DateTimeField, OuterRef, Subquery
from django.utils import timezone

from conference.models import Conference
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


def _latest(model):
    return Subquery(
        model.objects.filter(conference=OuterRef("pk"))
        .order_by("-updated_at")
        .values("updated_at")[:1],
        output_field=DateTimeField(),
    )


def last_change(conference) -> datetime | None:
    """When the conference, one of its orders, blocked seats or waiting-list entries
    last changed, in one statement (each an index probe on ``(conference, updated_at)``)."""
    row = (
        Conference.objects.filter(pk=conference.pk)
        .annotate(
            order_changed=_latest(Order),
            block_changed=_latest(BlockedSeats),
            entry_changed=_latest(WaitingListEntry),
        )
        .values("updated_at", "order_changed", "block_changed", "entry_changed")
        .first()
    )
    if row is None:
        return None
    return max((moment for moment in row.values() if moment is not None), default=None)


def public_poll_seconds(conference, *, now=None) -> int:
    """The next delay of an attendee's poll (ticket page, embeddable banner)."""
    return next_poll_seconds(
        last_change(conference), fast=public_fast_seconds(), now=now or timezone.now()
    )
