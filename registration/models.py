"""What is sold (ticket types, add-ons) and what was bought (orders and their lines).

The models hold data and invariants only. Placing, paying, cancelling and
refunding orders happens in ``registration.services``; counting seats in
``capacity.services``.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from conference.models import Conference

# No 0/O, 1/I/L: references are read out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_reference():
    body = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"SK-{body[:4]}-{body[4:]}"


def active_language() -> str:
    """The language the person is reading in (LocaleMiddleware's choice in a
    request), kept with what they make so their emails speak it too."""
    return translation.get_language() or settings.LANGUAGE_CODE


def new_order_secret():
    return secrets.token_urlsafe(24)


class TicketType(models.Model):
    """A kind of ticket. Every ticket sold takes one venue seat."""

    conference = models.ForeignKey(
        Conference, on_delete=models.CASCADE, related_name="ticket_types"
    )
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    total_quantity = models.PositiveIntegerField(
        default=0, help_text="Tickets of this type for sale. 0 means unlimited."
    )
    max_per_order = models.PositiveIntegerField(default=10)
    available_from = models.DateTimeField(null=True, blank=True)
    available_until = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["conference", "position", "price", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["conference", "slug"], name="ticket_type_slug_unique_per_conference"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="ticket_type_price_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(max_per_order__gte=1), name="ticket_type_max_per_order_positive"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.conference.slug})" if self.conference_id else self.name

    def sale_state(self, now=None):
        """``"on_sale"``, ``"inactive"``, ``"not_yet"`` or ``"ended"``."""
        now = now or timezone.now()
        if not self.is_active:
            return "inactive"
        if self.available_from and now < self.available_from:
            return "not_yet"
        if self.available_until and now >= self.available_until:
            return "ended"
        return "on_sale"


class AddOn(models.Model):
    """Something extra (workshop, dinner, t-shirt). Never takes a venue seat."""

    conference = models.ForeignKey(Conference, on_delete=models.CASCADE, related_name="addons")
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=80)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    total_quantity = models.PositiveIntegerField(
        default=0, help_text="Units for sale. 0 means unlimited."
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "add-on"
        ordering = ["conference", "position", "price", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["conference", "slug"], name="addon_slug_unique_per_conference"
            ),
            models.CheckConstraint(
                condition=models.Q(price__gte=0), name="addon_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.conference.slug})" if self.conference_id else self.name


class Order(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending payment")
        PAID = "paid", _("Paid")
        PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
        REFUNDED = "refunded", _("Refunded")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    # Statuses whose ticket lines take seats for good (a PENDING order takes them
    # only while its hold lasts).
    COMMITTED_STATUSES = (Status.PAID, Status.PARTIALLY_REFUNDED)

    # No index of its own: the indexes below all start with the conference, and
    # every order written would keep one more index for nothing.
    conference = models.ForeignKey(
        Conference, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    reference = models.CharField(max_length=32, unique=True, default=new_reference)
    secret = models.CharField(max_length=64, default=new_order_secret, editable=False)
    email = models.EmailField()
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    payment_provider = models.CharField(max_length=30, blank=True)
    is_comp = models.BooleanField(
        default=False, help_text="Issued by an organizer, free of charge, possibly over capacity."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    language = models.CharField(max_length=16, default=active_language, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # Set once, by the conditional update that claims the bank-transfer reminder.
    transfer_reminder_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        # Checked by the dashboard's order actions and the admin's (registration.permissions).
        permissions = [
            ("manage_orders", "Can mark orders paid, refund, cancel them and extend their holds")
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="pending") | models.Q(hold_expires_at__isnull=False),
                name="order_pending_has_hold",
            ),
            models.CheckConstraint(
                condition=models.Q(total__gte=0), name="order_total_not_negative"
            ),
        ]
        indexes = [
            models.Index(fields=["conference", "status"], name="order_conf_status_idx"),
            # The dashboard's version check reads a conference's latest change on
            # every poll: an index probe, not a pass over all its orders.
            models.Index(fields=["conference", "updated_at"], name="order_conf_updated_idx"),
            # One buyer's orders, found under the lock on every order for the
            # per-buyer hold limit (the email in any letter case). Not partial:
            # a query asking for pending orders could use any index on them, and
            # with statistics older than a rush's holds each looks as small.
            models.Index(Upper("email"), name="order_email_idx"),
            # Live holds are a small set: the seat check sums them on every order.
            models.Index(
                fields=["conference", "hold_expires_at"],
                condition=models.Q(status="pending"),
                name="order_live_hold_idx",
            ),
        ]

    def __str__(self):
        return self.reference

    def get_absolute_url(self):
        return reverse(
            "registration:order",
            kwargs={
                "slug": self.conference.slug,
                "reference": self.reference,
                "secret": self.secret,
            },
        )

    def hold_is_live(self, now=None):
        return (
            self.status == self.Status.PENDING
            and self.hold_expires_at is not None
            and self.hold_expires_at > (now or timezone.now())
        )

    def takes_seats(self, now=None):
        """The counting rule of the spec, for one order already in memory.

        ``capacity.counters.rule`` defines the rule; this says the same for an
        order in hand (tests/capacity/counters/test_rule.py checks that they agree).
        """
        return self.status in self.COMMITTED_STATUSES or self.hold_is_live(now)


class OrderLineItem(models.Model):
    class Kind(models.TextChoices):
        TICKET = "ticket", _("Ticket")
        ADDON = "addon", _("Add-on")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=10, choices=Kind.choices, blank=True)
    # No index of their own: line_ticket_type_idx and line_addon_idx start with them.
    ticket_type = models.ForeignKey(
        TicketType,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
        db_index=False,
    )
    addon = models.ForeignKey(
        AddOn,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
        db_index=False,
    )
    description = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2, default=0)
    line_total = models.DecimalField(max_digits=12, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["ticket", "addon"]), name="line_kind_known"
            ),
            models.CheckConstraint(
                condition=~(models.Q(ticket_type__isnull=False) & models.Q(addon__isnull=False)),
                name="line_ticket_or_addon_not_both",
            ),
        ]
        indexes = [
            models.Index(fields=["ticket_type", "order"], name="line_ticket_type_idx"),
            models.Index(fields=["addon", "order"], name="line_addon_idx"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.description}"

    def save(self, *args, **kwargs):
        # The kind is fixed when the line is written, so deleting a ticket type or
        # add-on later never changes what the line counts as.
        if not self.kind:
            self.kind = self.Kind.ADDON if self.addon_id else self.Kind.TICKET
        super().save(*args, **kwargs)


def new_entry_secret():
    return secrets.token_urlsafe(24)


class WaitingListEntry(models.Model):
    """One person waiting for seats of a sold-out ticket type (or of any ticket type).

    Seats that free up are offered to WAITING entries oldest first
    (``capacity.waiting``): an offer is a PENDING order held for
    ``Conference.waiting_list_offer_minutes``. While entries wait, their seats are
    kept from newcomers (the availability snapshot's ``waiting``).
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Seats offered")
        ACCEPTED = "accepted", _("Accepted")
        EXPIRED = "expired", _("Offer expired")
        LEFT = "left", _("Left the list")

    LIVE_STATUSES = (Status.WAITING, Status.OFFERED)
    # Most seats one entry for "any ticket type" may wait for.
    ANY_MAX_QUANTITY = 10

    conference = models.ForeignKey(
        Conference, on_delete=models.CASCADE, related_name="waiting_list"
    )
    ticket_type = models.ForeignKey(
        TicketType,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="waiting_list",
        help_text="Empty: any ticket type of the conference will do.",
    )
    email = models.EmailField()
    name = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField(default=1)
    language = models.CharField(max_length=16, default=active_language, editable=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="waiting_list_entries",
        help_text="The offer: a pending order held for this entry.",
    )
    secret = models.CharField(max_length=64, default=new_entry_secret, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    offered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "waiting-list entry"
        verbose_name_plural = "waiting-list entries"
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gte=1), name="waiting_quantity_positive"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="offered") | models.Q(order__isnull=False),
                name="waiting_offer_has_order",
            ),
        ]
        indexes = [
            # The seat check reads a conference's WAITING seats on every order.
            models.Index(
                fields=["conference", "ticket_type"],
                condition=models.Q(status="waiting"),
                name="waiting_live_idx",
            ),
            models.Index(fields=["conference", "status"], name="waiting_conf_status_idx"),
            # The dashboard's version check reads a list's latest change on every poll.
            models.Index(fields=["conference", "updated_at"], name="waiting_conf_updated_idx"),
        ]

    def __str__(self):
        what = self.ticket_type.name if self.ticket_type_id else "any ticket"
        return f"{self.name} <{self.email}> waiting for {self.quantity} × {what}"

    def get_absolute_url(self):
        return reverse(
            "registration:waiting-entry",
            kwargs={"slug": self.conference.slug, "pk": self.pk, "secret": self.secret},
        )

    @property
    def is_live(self):
        return self.status in self.LIVE_STATUSES
