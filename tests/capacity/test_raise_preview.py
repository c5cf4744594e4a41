"""The "Adjust capacity" dialog says whom a raise reaches on the waiting list."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from capacity.models import CapacityChange
from conference.models import Conference
from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import make_addon, make_conference, make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def organizer(conference, *, override=True):
    user = make_user()
    conference.organizers.add(user)
    if override:
        user.user_permissions.add(Permission.objects.get(codename="override_capacity"))
    return user


@pytest.fixture
def sold_out():
    """Five venue seats, all sold; waiting: Regular ×1, ×2, any ×1, Regular ×1."""
    conference = make_conference(total_capacity=5)
    regular = make_ticket_type(conference, name="Regular", slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 5)])
    for email, quantity, ticket_type in (
        ("ada@example.com", 1, regular),
        ("grace@example.com", 2, regular),
        ("alan@example.com", 1, None),
        ("edsger@example.com", 1, regular),
    ):
        services.join_waiting_list(
            conference=conference,
            email=email,
            name=email.split("@")[0],
            quantity=quantity,
            ticket_type=ticket_type,
        )
    return conference, regular


@pytest.fixture
def overrider_client(client, sold_out):
    client.force_login(organizer(sold_out[0]))
    return client


def venue_preview(client, conference, total, **headers):
    url = reverse("capacity:override-adjust-venue-preview", kwargs={"slug": conference.slug})
    return client.get(url, {"total": total}, headers=headers)


def preview_text(response):
    match = re.search(r'<p id="adjust-raise-preview"[^>]*>(.*?)</p>', response.content.decode())
    assert match, response.content.decode()[:500]
    return match.group(1).strip()


@pytest.mark.parametrize(
    ("total", "text"),
    [
        ("6", "Raising to 6 offers seats to the next person in line."),
        # Two free seats: Ada (1), then Grace (2) does not fit, Alan (any, 1) does.
        ("7", "Raising to 7 offers seats to the next 2 people in line."),
        ("9", "Raising to 9 offers seats to the next 3 people in line."),
        ("10", "Raising to 10 offers seats to the next 4 people in line."),
        ("0", "Making it unlimited offers seats to the next 4 people in line."),
        ("5", ""),  # not a raise
        ("3", ""),
        ("abc", ""),
        ("-4", ""),
        ("99999999999999999999", ""),
        ("", ""),
    ],
)
def test_the_venue_preview_counts_the_people_a_raise_reaches(
    overrider_client, sold_out, total, text
):
    conference, _ = sold_out
    response = venue_preview(overrider_client, conference, total, **HTMX)
    assert response.status_code == 200
    assert preview_text(response) == text


def test_a_raise_too_small_for_the_next_in_line_says_so():
    conference = make_conference(total_capacity=3)
    regular = make_ticket_type(conference, slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3)])
    services.join_waiting_list(
        conference=conference, email="big@example.com", name="Big", quantity=4, ticket_type=regular
    )
    from capacity.services import capacity_state
    from capacity.waiting import raise_preview

    assert raise_preview(conference, capacity_state(conference), 5) == (
        "Raising to 5 is not enough for anyone in line yet (1 waiting)."
    )
    assert raise_preview(conference, capacity_state(conference), 7) == (
        "Raising to 7 offers seats to the next person in line."
    )


def test_a_ticket_type_preview_counts_its_own_line_and_any(overrider_client, sold_out):
    conference, regular = sold_out
    Conference.objects.filter(pk=conference.pk).update(total_capacity=100)
    regular.total_quantity = 5
    regular.save()
    url = reverse(
        "capacity:override-adjust-preview",
        kwargs={"slug": conference.slug, "kind": "ticket", "pk": regular.pk},
    )
    # Free now: none of Regular (5 of 5 sold). Raising to 7 fits Ada (1) and, after
    # Grace (2 does not fit the one seat left), the "any" entry (1).
    assert (
        preview_text(overrider_client.get(url, {"total": 7}))
        == "Raising to 7 offers seats to the next 2 people in line."
    )


def test_the_preview_writes_nothing(overrider_client, sold_out):
    conference, _ = sold_out
    venue_preview(overrider_client, conference, "9")
    assert Conference.objects.get(pk=conference.pk).total_capacity == 5
    assert not CapacityChange.objects.exists()
    assert not WaitingListEntry.objects.exclude(status=WaitingListEntry.Status.WAITING).exists()


def test_the_dialog_asks_for_the_preview_as_the_capacity_is_typed(overrider_client, sold_out):
    conference, _ = sold_out
    url = reverse("capacity:override-adjust-venue", kwargs={"slug": conference.slug})
    html = overrider_client.get(url, headers=HTMX).content.decode()
    preview_url = reverse(
        "capacity:override-adjust-venue-preview", kwargs={"slug": conference.slug}
    )
    total_input = re.search(r'<input[^>]*name="total"[^>]*>', html).group(0)
    assert f'hx-get="{preview_url}"' in total_input
    assert 'hx-target="#adjust-raise-preview"' in total_input
    assert re.search(r'<p id="adjust-raise-preview"[^>]*hidden', html)


def test_a_refused_raise_keeps_the_preview_of_what_was_typed(overrider_client, sold_out):
    conference, _ = sold_out
    url = reverse("capacity:override-adjust-venue", kwargs={"slug": conference.slug})
    response = overrider_client.post(url, {"total": "8", "reason": ""}, headers=HTMX)
    assert preview_text(response) == "Raising to 8 offers seats to the next 2 people in line."
    assert Conference.objects.get(pk=conference.pk).total_capacity == 5


def test_add_ons_have_no_waiting_list_and_no_preview(overrider_client, sold_out):
    conference, _ = sold_out
    addon = make_addon(conference, total_quantity=5)
    dialog = reverse(
        "capacity:override-adjust",
        kwargs={"slug": conference.slug, "kind": "addon", "pk": addon.pk},
    )
    html = overrider_client.get(dialog, headers=HTMX).content.decode()
    assert "hx-get" not in re.search(r'<input[^>]*name="total"[^>]*>', html).group(0)
    preview = reverse(
        "capacity:override-adjust-preview",
        kwargs={"slug": conference.slug, "kind": "addon", "pk": addon.pk},
    )
    assert preview_text(overrider_client.get(preview, {"total": 50})) == ""


def test_unknown_targets_are_404(overrider_client, sold_out):
    conference, _ = sold_out
    other_ticket = make_ticket_type(make_conference())
    for kind, pk in (("ticket", other_ticket.pk), ("widget", 1), ("ticket", 999999)):
        url = reverse(
            "capacity:override-adjust-preview",
            kwargs={"slug": conference.slug, "kind": kind, "pk": pk},
        )
        assert overrider_client.get(url, {"total": 9}).status_code == 404


def test_only_organizers_who_may_override_get_a_preview(client, sold_out):
    conference, _ = sold_out
    anonymous = venue_preview(client, conference, "9")
    assert anonymous.status_code == 302
    client.force_login(organizer(conference, override=False))
    assert venue_preview(client, conference, "9").status_code == 403
    client.force_login(make_user(is_staff=True))
    assert venue_preview(client, conference, "9").status_code == 403
