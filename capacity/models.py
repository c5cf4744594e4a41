"""Seats set aside by organizers."""

from django.conf import settings
from django.db import models

from conference.models import Conference


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
