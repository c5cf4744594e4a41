"""Load a demo conference with ticket types, add-ons, a realistic mix of orders and a login."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from capacity.services import get_availability
from conference.models import Conference
from registration import services
from registration.models import AddOn, Order, TicketType

DEMO_SLUG = "pyseat-2027"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "seatkeeper-demo"

TICKET_TYPES = [
    # slug, name, price, quantity, max per order
    ("early-bird", "Early Bird", "149.00", 60, 5),
    ("regular", "Regular", "299.00", 120, 10),
    ("student", "Student", "79.00", 25, 2),
    ("patron", "Patron", "799.00", 10, 2),
]
ADDONS = [
    ("workshop", "Workshop day", "120.00", 40),
    ("dinner", "Conference dinner", "65.00", 80),
    ("t-shirt", "T-shirt", "20.00", 0),
]


class Command(BaseCommand):
    help = "Create the demo conference (once) and print the admin login."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2027)

    def handle(self, *args, seed, **options):
        user = self.ensure_admin()
        conference = Conference.objects.filter(slug=DEMO_SLUG).first()
        if conference is None:
            with transaction.atomic():
                conference = self.create_conference(user)
            # Demo buyers get no confirmation emails: sent here, at once, to nowhere.
            with override_settings(
                EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
                Q_CLUSTER={**settings.Q_CLUSTER, "sync": True},
            ):
                self.create_orders(conference, random.Random(seed))
        availability = get_availability(conference)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo conference '{conference.name}': {availability.sold} sold, "
                f"{availability.held} held, {availability.remaining} of "
                f"{availability.capacity} seats left."
            )
        )
        self.stdout.write(
            f"  Ticket page:  http://127.0.0.1:8000/{conference.slug}/\n"
            f"  Dashboard:    http://127.0.0.1:8000/dashboard/{conference.slug}/\n"
            f"  Admin:        http://127.0.0.1:8000/admin/\n"
            f"  Login:        {ADMIN_USERNAME} / {ADMIN_PASSWORD}"
        )

    def ensure_admin(self):
        user, _ = get_user_model().objects.get_or_create(
            username=ADMIN_USERNAME,
            defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True},
        )
        user.set_password(ADMIN_PASSWORD)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
        return user

    def create_conference(self, user):
        today = timezone.localdate()
        conference = Conference.objects.create(
            name="PySeat 2027",
            slug=DEMO_SLUG,
            start_date=date(today.year + 1, 5, 12),
            end_date=date(today.year + 1, 5, 14),
            timezone="Europe/Berlin",
            total_capacity=200,
            hold_minutes=15,
            low_stock_threshold=10,
        )
        conference.organizers.add(user)
        for position, (slug, name, price, quantity, most) in enumerate(TICKET_TYPES):
            TicketType.objects.create(
                conference=conference,
                slug=slug,
                name=name,
                price=Decimal(price),
                total_quantity=quantity,
                max_per_order=most,
                position=position,
            )
        for position, (slug, name, price, quantity) in enumerate(ADDONS):
            AddOn.objects.create(
                conference=conference,
                slug=slug,
                name=name,
                price=Decimal(price),
                total_quantity=quantity,
                position=position,
            )
        return conference

    def create_orders(self, conference, rng):
        """Orders over the past week through the services, then dated back."""
        ticket_types = list(conference.ticket_types.all())
        addons = list(conference.addons.all())
        now = timezone.now()
        outcomes = ["paid"] * 70 + ["pending"] * 6 + ["expired"] * 8 + ["refunded"] * 4
        outcomes += ["partially_refunded"] * 2 + ["cancelled"] * 4
        rng.shuffle(outcomes)
        first_names = ["Ada", "Grace", "Alan", "Linus", "Guido", "Barbara", "Ken", "Margaret"]
        last_names = ["Lovelace", "Hopper", "Turing", "Torvalds", "Rossum", "Liskov", "Thompson"]
        for index, outcome in enumerate(outcomes):
            ticket_type = rng.choice(ticket_types[:3])
            first, last = rng.choice(first_names), rng.choice(last_names)
            try:
                order = services.place_order(
                    conference=conference,
                    email=f"{first}.{last}{index}@example.com".lower(),
                    name=f"{first} {last}",
                    tickets={ticket_type: rng.choice([1, 1, 1, 2])},
                    addons={rng.choice(addons): 1} if rng.random() < 0.4 else None,
                )
            except ValidationError:  # a sold-out type just means fewer demo orders
                continue
            created = now - timedelta(minutes=rng.randint(20, 7 * 24 * 60))
            if outcome == "pending":
                created = now - timedelta(minutes=rng.randint(1, 5))
                Order.objects.filter(pk=order.pk).update(created_at=created)
                continue
            if outcome == "expired":
                Order.objects.filter(pk=order.pk).update(
                    created_at=created, hold_expires_at=created + timedelta(minutes=15)
                )
                continue
            services.mark_paid(order, provider="demo")
            Order.objects.filter(pk=order.pk).update(
                created_at=created, paid_at=created + timedelta(minutes=rng.randint(1, 10))
            )
            if outcome == "refunded":
                services.refund_order(order)
            elif outcome == "partially_refunded":
                services.refund_order(order, partial=True)
            elif outcome == "cancelled":
                services.cancel_order(order)
        services.expire_holds()
        self.create_waiting_list(conference)

    def create_waiting_list(self, conference):
        """A few people in line for the sold-out Student tickets, and one bank transfer."""
        student = conference.ticket_types.get(slug="student")
        for index, (name, quantity) in enumerate([("Frances Allen", 1), ("Dennis Ritchie", 2)]):
            try:
                services.join_waiting_list(
                    conference=conference,
                    email=f"waiting{index}@example.com",
                    name=name,
                    quantity=quantity,
                    ticket_type=student,
                )
            except ValidationError:  # Student tickets not sold out in this demo
                return
        order = services.place_order(
            conference=conference,
            email="transfer@example.com",
            name="Niklaus Wirth",
            tickets={conference.ticket_types.get(slug="regular"): 1},
        )
        services.choose_bank_transfer(order)
