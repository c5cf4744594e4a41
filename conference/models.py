"""Conferences and the people who organize them."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


def validate_timezone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


# First path segments the site uses itself; a conference cannot be called that.
RESERVED_SLUGS = {"admin", "accounts", "api", "dashboard", "static", "healthz", "embed"}


def validate_slug_not_reserved(value):
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} is used by the site itself; choose another slug.")


class Conference(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True, validators=[validate_slug_not_reserved])
    start_date = models.DateField()
    end_date = models.DateField()
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    total_capacity = models.PositiveIntegerField(
        default=0, help_text="Seats in the venue. 0 means unlimited."
    )
    hold_minutes = models.PositiveIntegerField(
        default=15, help_text="How long a pending order holds its seats."
    )
    low_stock_threshold = models.PositiveIntegerField(
        default=10, help_text='Show "Only N left" when remaining seats are at or below this.'
    )
    max_held_seats_per_buyer = models.PositiveIntegerField(
        default=10,
        help_text="Most seats one email may hold in pending orders at once. 0 means no limit.",
    )
    bank_transfer_days = models.PositiveIntegerField(
        default=3, help_text="How long a hold lasts once the buyer chooses bank transfer."
    )
    waiting_list_enabled = models.BooleanField(
        default=True, help_text="Let attendees join a waiting list when tickets are sold out."
    )
    waiting_list_offer_minutes = models.PositiveIntegerField(
        default=1440,
        help_text="How long a waiting-list offer holds its seats for the person it goes to.",
    )
    organizers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="organized_conferences"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Moved by database triggers (capacity.counters) whenever seats or what is
    # sold change: orders, their lines, ticket types, add-ons, blocked seats,
    # waiting-list entries. Read with updated_at by capacity.counters.conference_version.
    # A conference in memory does not see it move: refresh it before comparing rows.
    seats_version = models.BigIntegerField(default=0, editable=False)
    # Moved by the same triggers with it, but only when a ticket type or an add-on
    # is written: what the order form is read from, which a sale does not change.
    catalogue_version = models.BigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["start_date", "name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="conference_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(hold_minutes__gte=1), name="conference_hold_at_least_a_minute"
            ),
            models.CheckConstraint(
                condition=models.Q(waiting_list_offer_minutes__gte=1),
                name="conference_offer_at_least_a_minute",
            ),
            models.CheckConstraint(
                condition=models.Q(bank_transfer_days__gte=1),
                name="conference_bank_transfer_at_least_a_day",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("registration:conference", kwargs={"slug": self.slug})

    @property
    def is_unlimited(self):
        return self.total_capacity == 0

    def is_organized_by(self, user):
        """Whether ``user`` may see this conference's dashboard."""
        if not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        return self.organizers.filter(pk=user.pk).exists()
