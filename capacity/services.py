"""Counting and enforcing seats: the contract functions, and one place to import
the capacity services from.

The counting rule: a ticket line takes a venue seat when its order is PAID or
PARTIALLY_REFUNDED, or PENDING with ``hold_expires_at`` in the future. A hold
stops counting the instant it expires; no background job is needed. Add-on
lines never take venue seats; they count against their add-on's own quantity
under the same rule. Ticket lines whose ticket type was deleted still take
venue seats. Blocked seats count as taken until released.

The work is done in one module per job: ``capacity.seat_counts`` (counting),
``capacity.availability`` (the snapshot), ``capacity.locking`` (the conference
lock), ``capacity.overrides`` (capacity changes and blocked seats) and
``capacity.waiting`` (offering freed seats to the waiting list).
"""

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from conference.models import Conference

from .availability import (
    Availability,
    ItemAvailability,
    _remaining,
    conference_by_slug,
    conference_catalogue,
    get_availability,
    venue_refusal,
)
from .counters import CounterDrift, find_counter_drift, venue_seats_taken
from .locking import LockedConference, locked_conference
from .models import SeatCounter
from .overrides import (
    MAX_CAPACITY,
    CapacityState,
    block_refusal,
    block_seats,
    capacity_field_of,
    capacity_state,
    clean_reason,
    override_capacity,
    record_capacity_change,
    release_blocked_seats,
    whole_number,
)
from .seat_counts import SeatCounts, count_blocked_seats, count_seats

__all__ = [
    "MAX_CAPACITY",
    "Availability",
    "CapacityState",
    "ItemAvailability",
    "SeatCounts",
    "block_refusal",
    "block_seats",
    "capacity_field_of",
    "capacity_state",
    "clean_reason",
    "conference_by_slug",
    "conference_catalogue",
    "count_blocked_seats",
    "count_seats",
    "get_availability",
    "get_global_remaining",
    "get_global_sold_count",
    "LockedConference",
    "locked_conference",
    "override_capacity",
    "record_capacity_change",
    "release_blocked_seats",
    "repair_seat_counters",
    "validate_global_capacity",
    "venue_refusal",
    "whole_number",
]


def get_global_sold_count(conference) -> int:
    """Venue seats taken by ticket lines right now (sold plus live holds).

    One query: the venue counter plus the live holds.
    """
    return venue_seats_taken(conference, timezone.now())


def get_global_remaining(conference) -> int | None:
    """Venue seats left: ``None`` when unlimited, never negative. Blocked seats are taken."""
    if not conference.total_capacity:
        return None
    blocked, _ = count_blocked_seats(conference)
    return _remaining(conference.total_capacity, get_global_sold_count(conference) + blocked)


def validate_global_capacity(conference, desired_total) -> None:
    """Refuse ``desired_total`` more venue seats unless they are free.

    Must run inside ``transaction.atomic``: takes the conference lock first, then
    counts, so a stale in-memory conference cannot bypass it. Raises
    ValidationError mentioning ``sold out`` and the venue capacity when nothing
    is left, or ``Only {remaining} tickets remaining`` when too few are.
    """
    if not connection.in_atomic_block:
        raise TransactionManagementError("validate_global_capacity needs transaction.atomic.")
    with locked_conference(conference) as locked:
        conference = locked.conference
        message = venue_refusal(conference, get_global_remaining(conference), desired_total)
    if message:
        raise ValidationError(message, code="venue_capacity")


def repair_seat_counters(*, conference=None) -> list[CounterDrift]:
    """Set every drifting counter to the recount of its lines; return what was repaired.

    Each conference is repaired under the conference lock, with its counter rows
    locked, so no order can be placed or paid between the recount and the write.
    """
    conferences = [conference] if conference is not None else list(Conference.objects.all())
    repaired = []
    for each in conferences:
        with locked_conference(each) as locked:
            list(SeatCounter.objects.select_for_update().filter(conference=locked.conference))
            drift = find_counter_drift(locked.conference)
            for item in drift:
                SeatCounter.objects.update_or_create(
                    conference_id=item.conference_id,
                    expires_minute=item.expires_minute,
                    target=item.target,
                    item_id=item.item_id,
                    defaults={"seats": item.recounted},
                )
            repaired.extend(drift)
    return repaired
