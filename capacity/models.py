"""Seats set aside by organizers, the record of every capacity override, and the seat counters."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from conference.models import Conference

# Who may change capacities, block seats and issue comp tickets (see CapacityChange.Meta).
OVERRIDE_PERMISSION = "capacity.override_capacity"


def can_override(user) -> bool:
    """Whether ``user`` may override capacity; every override view and admin checks this."""
    return user.has_perm(OVERRIDE_PERMISSION)


class BlockedSeats(models.Model):
    """Seats set aside (for speakers, sponsors…) that count as taken until released.

    A block for a ticket type takes seats of that type *and* venue seats; a block
    without a ticket type takes venue seats only. A released block has quantity 0.
    """

    conference = models.ForeignKey(
        Conference, on_delete=models.CASCADE, related_name="blocked_seats"
    )
    ticket_type = models.ForeignKey(
        "registration.TicketType",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="blocked_seats",
    )
    label = models.CharField(max_length=120)
    quantity = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "blocked seats"
        verbose_name_plural = "blocked seats"
        ordering = ["-created_at"]

    def __str__(self):
        target = self.ticket_type.name if self.ticket_type_id else "venue"
        return f"{self.quantity} seats blocked for {self.label} ({target})"


class CapacityChange(models.Model):
    """One capacity override, on the record: who changed what, from what to what, and why.

    Written only by the override services in ``capacity.services`` (and comp
    issuance); never edited afterwards.
    """

    class Target(models.TextChoices):
        VENUE = "venue", "Venue capacity"
        TICKET_TYPE = "ticket_type", "Ticket type"
        ADDON = "addon", "Add-on"
        BLOCKED_SEATS = "blocked_seats", "Blocked seats"
        COMP = "comp", "Comp order"

    conference = models.ForeignKey(
        Conference, on_delete=models.CASCADE, related_name="capacity_changes"
    )
    target_kind = models.CharField(max_length=20, choices=Target.choices)
    # The id and name as they were, so the record survives a rename or deletion.
    target_id = models.PositiveBigIntegerField(null=True, blank=True)
    target_name = models.CharField(max_length=200)
    field = models.CharField(max_length=40)
    old_value = models.IntegerField(null=True, blank=True)
    new_value = models.IntegerField(null=True, blank=True)
    reason = models.TextField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="capacity_changes",
    )
    forced = models.BooleanField(
        default=False, help_text="Went below what was taken, or over the cap, on purpose."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [
            (
                "override_capacity",
                "Can override capacity (change caps, block seats, issue comp tickets)",
            )
        ]

    def __str__(self):
        return f"{self.summary} — {self.reason}"

    @staticmethod
    def _value(value):
        return _("unlimited") if value == 0 and value is not None else value

    @property
    def summary(self):
        """What happened, in one line a person can read in the audit list."""
        kind = self.Target
        values = {
            "name": self.target_name,
            "old": self._value(self.old_value),
            "new": self._value(self.new_value),
        }
        if self.target_kind == kind.VENUE:
            return _("Venue capacity %(old)s → %(new)s") % values
        if self.target_kind == kind.TICKET_TYPE:
            return _("Ticket type %(name)s: quantity %(old)s → %(new)s") % values
        if self.target_kind == kind.ADDON:
            return _("Add-on %(name)s: quantity %(old)s → %(new)s") % values
        if self.target_kind == kind.BLOCKED_SEATS:
            if not self.old_value:
                return ngettext(
                    "Blocked %(count)s seats for %(name)s",
                    "Blocked %(count)s seats for %(name)s",
                    self.new_value,
                ) % {"count": self.new_value, "name": self.target_name}
            released = self.old_value - self.new_value
            return ngettext(
                "Released %(released)s of %(count)s seats blocked for %(name)s",
                "Released %(released)s of %(count)s seats blocked for %(name)s",
                self.old_value,
            ) % {"released": released, "count": self.old_value, "name": self.target_name}
        return _("Comp order %(name)s: seats taken %(old)s → %(new)s") % {
            "name": self.target_name,
            "old": self.old_value,
            "new": self.new_value,
        }


class SeatCounter(models.Model):
    """Seats of one counting target (the venue, a ticket type or an add-on) in one bucket.

    Bucket ``expires_minute = 0`` holds committed seats: the sum of the
    quantities of the lines whose order is PAID or PARTIALLY_REFUNDED, keyed by
    the order's conference. Bucket ``m > 0`` holds the seats of PENDING orders
    whose hold expires during minute ``m`` (whole minutes since the Unix epoch,
    UTC), so a reader can skip the buckets that have lapsed without a job ever
    having to move them. Database triggers on orders and their lines keep every
    bucket right whatever writes those rows (services, the admin,
    ``QuerySet.update``, raw SQL); see ``capacity.counters``. It lives in
    its own table, never as a column of Conference or TicketType, so saving a
    stale conference or ticket type can never overwrite it.
    """

    class Target(models.TextChoices):
        VENUE = "venue", "Venue"
        TICKET = "ticket", "Ticket type"
        ADDON = "addon", "Add-on"

    conference = models.ForeignKey(
        Conference, on_delete=models.CASCADE, related_name="seat_counters"
    )
    target = models.CharField(max_length=10, choices=Target.choices)
    # A plain id, not a foreign key: a deleted ticket type's lines move to the
    # venue-only count, and its (then zero) counter row may stay behind.
    item_id = models.BigIntegerField(
        default=0, help_text="Ticket type or add-on id; 0 for the venue."
    )
    expires_minute = models.BigIntegerField(
        default=0, help_text="0 for committed seats; else the minute the holds in it expire."
    )
    seats = models.BigIntegerField(default=0)

    class Meta:
        # The table it has had since it lived in the registration app.
        db_table = "registration_seatcounter"
        constraints = [
            # Conference and bucket first: the seat check reads one conference's
            # committed bucket and its live buckets as index ranges.
            models.UniqueConstraint(
                fields=["conference", "expires_minute", "target", "item_id"],
                name="seat_counter_one_per_bucket",
            ),
        ]

    def __str__(self):
        bucket = f" held in minute {self.expires_minute}" if self.expires_minute else ""
        return (
            f"{self.target} {self.item_id}{bucket} of conference {self.conference_id}: {self.seats}"
        )
