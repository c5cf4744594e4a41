"""The conference lock: the one way into a change that can make seats scarcer.

``locked_conference`` takes the lock (``SELECT … FOR UPDATE`` on PostgreSQL; on
SQLite the IMMEDIATE transaction already holds the write lock) before anything
is read. Ordering, late payment, extending a hold, comp tickets, blocking seats,
lowering a capacity and offering seats to the waiting list all run inside it,
so no race can oversell.
"""

import functools
import time
from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from conference.models import Conference

from .availability import (
    _availability,
    _catalogue_from_rows,
    _catalogue_statement,
    _pk,
    _seat_counts_from_rows,
    _seat_counts_statement,
    get_availability,
)
from .rows import instances_from_rows, run_together, select_sql

_ASYNC_COMMIT_COLUMN = "set_config('synchronous_commit', 'off', true)"


@functools.cache
def _lock_sql(for_update: bool, asynchronous_commit: bool) -> str:
    sql = select_sql(Conference, "id")
    if asynchronous_commit:
        sql = sql.replace("SELECT ", f"SELECT {_ASYNC_COMMIT_COLUMN}, ", 1)
    return sql + " FOR UPDATE" if for_update else sql


def _lock_statement(conference, asynchronous_commit) -> tuple[str, list, range]:
    """The lock's SQL, its parameters, and where the conference's columns sit in its row."""
    if not connection.in_atomic_block:
        raise TransactionManagementError("The conference lock needs transaction.atomic.")
    for_update = settings.SEATKEEPER_SEAT_LOCK and connection.features.has_select_for_update
    asynchronous_commit = asynchronous_commit and connection.vendor == "postgresql"
    skip = 1 if asynchronous_commit else 0
    columns = range(skip, skip + len(Conference._meta.concrete_fields))
    return _lock_sql(for_update, asynchronous_commit), [_pk(conference)], columns


def _locked_from_rows(rows, columns, conference) -> Conference:
    if not rows:
        raise Conference.DoesNotExist(f"No conference with id {_pk(conference)!r}.")
    return instances_from_rows(Conference, rows, columns)[0]


def lock_conference(conference, *, asynchronous_commit=False) -> Conference:
    """Lock the conference row and return a fresh copy of it.

    Must run inside ``transaction.atomic``. On PostgreSQL this is
    ``SELECT … FOR UPDATE``; on SQLite the database runs in IMMEDIATE
    transaction mode, so the enclosing transaction already holds the write lock.
    ``asynchronous_commit``: see ``locked_conference``.
    """
    sql, params, columns = _lock_statement(conference, asynchronous_commit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return _locked_from_rows(rows, columns, conference)


def lock_with_availability(conference, *, asynchronous_commit=False, buyer=None):
    """``lock_conference`` and the availability snapshot taken under the lock,
    in one round trip on PostgreSQL (``run_together``): (conference, snapshot).

    The seats are counted as of a moment read before the lock is waited for,
    so holds that lapse during that wait still count: never fewer seats taken
    than there are. Everything else in the snapshot (sale windows, its
    ``computed_at``, from which a new hold's expiry is set) is as of the moment
    the lock was granted.

    ``buyer``: an email whose live held seats the snapshot carries as
    ``buyer_held``, read in the same statement as the seat counts.
    """
    counted_at = timezone.now()
    lock_sql, lock_params, columns = _lock_statement(conference, asynchronous_commit)
    lock_rows, count_rows, catalogue_rows = run_together(
        [
            (lock_sql, lock_params),
            _seat_counts_statement(conference, counted_at, buyer=buyer),
            _catalogue_statement(conference),
        ]
    )
    now = timezone.now()
    conference = _locked_from_rows(lock_rows, columns, conference)
    counts = _seat_counts_from_rows(count_rows)
    return conference, _availability(conference, now, counts, _catalogue_from_rows(catalogue_rows))


@contextmanager
def locked_conference(
    conference, *, asynchronous_commit=False, with_availability=False, buyer=None
):
    """Run a seat-reducing change under the conference lock, in one transaction.

    Yields the freshly locked Conference. With ``SEATKEEPER_SEAT_LOCK`` off (tests
    only, to prove a race harness really races) there is neither lock nor
    transaction around the checks.

    ``asynchronous_commit`` (PostgreSQL; ignored elsewhere, and when a caller's
    transaction encloses this one): the transaction's commit returns before its
    WAL is on disk, set by the lock statement itself (``SET LOCAL``'s scope, no
    extra round trip). The lock is held until the commit returns, so a wait for
    the disk there is spent by every change of the conference one after
    another. A change that must survive a crash turns it back on with
    ``wait_for_disk_at_commit`` before it writes.

    ``with_availability``: yield (conference, availability snapshot) instead,
    both read under the lock in one round trip (``lock_with_availability``),
    the snapshot counting ``buyer``'s held seats when given.
    """
    if not settings.SEATKEEPER_SEAT_LOCK:
        unlocked = Conference.objects.get(pk=_pk(conference))
        if with_availability:
            yield unlocked, get_availability(unlocked, buyer=buyer)
        else:
            yield unlocked
        return
    # SET LOCAL lasts until the outermost transaction ends, and a caller's
    # enclosing transaction may go on to write what must wait for the disk.
    asynchronous_commit = asynchronous_commit and not connection.in_atomic_block
    with transaction.atomic():
        if with_availability:
            yield lock_with_availability(
                conference, asynchronous_commit=asynchronous_commit, buyer=buyer
            )
        else:
            yield lock_conference(conference, asynchronous_commit=asynchronous_commit)


def wait_for_disk_at_commit():
    """Undo ``asynchronous_commit`` for the rest of the current transaction: back
    to the server's own setting (``local``, ``remote_apply``… as configured)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO DEFAULT")


def pause_after_check():
    """Widen the window between checking and writing, when a test asks for it."""
    if settings.SEATKEEPER_PAUSE_AFTER_CHECK:
        time.sleep(settings.SEATKEEPER_PAUSE_AFTER_CHECK)
