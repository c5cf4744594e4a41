"""The conference lock: the one way into a change that can make seats scarcer.

``locked_conference`` is the only way in. Every path that can sell a seat or set
one aside runs inside it: ordering, late payment, extending a hold and choosing
bank transfer, comp tickets, blocking seats, lowering a capacity, joining the
waiting list and offering it seats, checking the venue cap. It does each step
such a change needs, so no caller has to remember one:

- the lock, taken before anything is read (``SELECT … FOR UPDATE`` on
  PostgreSQL; on SQLite the IMMEDIATE transaction already holds the write lock),
  in a transaction of its own or a savepoint of the caller's;
- the availability snapshot under the lock, when asked;
- the commit setting: a change that only places holds may commit without
  waiting for the disk (``SEATKEEPER_ASYNC_HOLD_COMMIT``);
- in tests, a pause before the first write (``SEATKEEPER_PAUSE_AFTER_CHECK``),
  which widens the window between the checks and the write, so a race harness
  with the lock switched off oversells and proves it really races.
"""

import functools
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from conference.models import Conference

from .availability import (
    Availability,
    _availability,
    _catalogue_from_rows,
    _catalogue_statement,
    get_availability,
)
from .rows import fetch_rows, instances_from_rows, select_sql
from .seat_counts import _pk, _seat_counts_from_rows, _seat_counts_statement


@functools.cache
def _lock_sql(for_update: bool) -> str:
    sql = select_sql(Conference, "id")
    return sql + " FOR UPDATE" if for_update else sql


def _lock_conference(conference, *, asynchronous_commit=False) -> Conference:
    """Lock the conference row and return a fresh copy of it (inside a transaction)."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("The conference lock needs transaction.atomic.")
    if asynchronous_commit and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    for_update = settings.SEATKEEPER_SEAT_LOCK and connection.features.has_select_for_update
    rows = fetch_rows(_lock_sql(for_update), [_pk(conference)])
    if not rows:
        raise Conference.DoesNotExist(f"No conference with id {_pk(conference)!r}.")
    return instances_from_rows(Conference, rows)[0]


def _lock_with_availability(conference, *, asynchronous_commit=False, buyer=None):
    """``_lock_conference`` and the availability snapshot taken under the lock:
    (conference, snapshot).

    The seats are counted as of a moment read before the lock is waited for,
    so holds that lapse during that wait still count: never fewer seats taken
    than there are. Everything else in the snapshot (sale windows, its
    ``computed_at``, from which a new hold's expiry is set) is as of the moment
    the lock was granted.

    ``buyer``: an email whose live held seats the snapshot carries as
    ``buyer_held``, read in the same statement as the seat counts.
    """
    counted_at = timezone.now()
    conference = _lock_conference(conference, asynchronous_commit=asynchronous_commit)
    counts = _seat_counts_from_rows(
        fetch_rows(*_seat_counts_statement(conference, counted_at, buyer=buyer))
    )
    catalogue = _catalogue_from_rows(fetch_rows(*_catalogue_statement(conference)))
    return conference, _availability(conference, timezone.now(), counts, catalogue)


# The statements that write, by their first word.
_WRITES = ("INSERT", "UPDATE", "DELETE")


class _FirstWrite:
    """An execute wrapper that notes whether a statement wrote, and pauses before
    the first one when ``SEATKEEPER_PAUSE_AFTER_CHECK`` asks it to."""

    def __init__(self):
        self.pause = settings.SEATKEEPER_PAUSE_AFTER_CHECK
        self.wrote = False

    def __call__(self, execute, sql, params, many, context):
        if not self.wrote and sql.lstrip()[:6].upper() in _WRITES:
            self.wrote = True
            if self.pause:
                time.sleep(self.pause)
        return execute(sql, params, many, context)


@contextmanager
def pausing_before_first_write():
    """Inside, the first statement that writes waits ``SEATKEEPER_PAUSE_AFTER_CHECK``
    seconds first (tests only: it widens the window between a check and its write).
    Yields the watcher, whose ``wrote`` says whether anything was written."""
    watcher = _FirstWrite()
    with connection.execute_wrapper(watcher):
        yield watcher


@dataclass
class LockedConference:
    """What ``locked_conference`` yields: the conference row as locked, and the
    availability snapshot read under the lock (None unless asked for)."""

    conference: Conference
    availability: Availability | None = None
    asynchronous_commit: bool = False

    def commit_durably(self):
        """What this change writes is more than holds (a sale): its commit waits
        for the disk after all, as the server is configured to (``local``,
        ``remote_apply``…)."""
        if self.asynchronous_commit:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO DEFAULT")
            self.asynchronous_commit = False


# How deep this thread is in ``locked_conference`` blocks: the outermost one
# watches the writes for all of them.
_depth = threading.local()


@contextmanager
def locked_conference(conference, *, with_availability=False, buyer=None, holds_only=False):
    """Run a change that can make seats scarcer under the conference lock, in one
    transaction (a savepoint when the caller's transaction encloses it).

    Yields a ``LockedConference``: ``.conference`` is the freshly locked row
    (``conference`` may be a Conference or its primary key; a stale copy changes
    nothing). With ``with_availability`` ``.availability`` is the snapshot read
    under the lock, counting ``buyer``'s held seats when given. With
    ``SEATKEEPER_SEAT_LOCK`` off (tests only, to prove a race harness really
    races) there is neither lock nor transaction around the checks.

    ``holds_only``: the change places holds, which may commit without waiting
    for the disk (``SEATKEEPER_ASYNC_HOLD_COMMIT``; PostgreSQL, and only in a
    transaction of its own: ``SET LOCAL`` lasts until the outermost transaction
    ends, and a caller's may go on to write what must wait): ``SET LOCAL
    synchronous_commit TO OFF`` before the lock. A change that turns out to be
    a sale calls ``commit_durably()`` before it writes.

    In tests the first write waits ``SEATKEEPER_PAUSE_AFTER_CHECK`` seconds first.
    (Cached public answers need no step here: the triggers move the
    conference's version in this transaction, see ``capacity.api``.)
    """
    depth = getattr(_depth, "value", 0)
    locking = settings.SEATKEEPER_SEAT_LOCK
    asynchronous_commit = bool(
        locking
        and holds_only
        and settings.SEATKEEPER_ASYNC_HOLD_COMMIT
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )
    _depth.value = depth + 1
    try:
        watching = pausing_before_first_write() if depth == 0 else nullcontext()
        with watching, transaction.atomic() if locking else nullcontext():
            if locking:
                yield _lock(conference, with_availability, buyer, asynchronous_commit)
            else:
                unlocked = Conference.objects.get(pk=_pk(conference))
                availability = (
                    get_availability(unlocked, buyer=buyer) if with_availability else None
                )
                yield LockedConference(unlocked, availability)
    finally:
        _depth.value = depth


def _lock(conference, with_availability, buyer, asynchronous_commit) -> LockedConference:
    if with_availability:
        locked, availability = _lock_with_availability(
            conference, asynchronous_commit=asynchronous_commit, buyer=buyer
        )
        return LockedConference(locked, availability, asynchronous_commit)
    locked = _lock_conference(conference, asynchronous_commit=asynchronous_commit)
    return LockedConference(locked, None, asynchronous_commit)
