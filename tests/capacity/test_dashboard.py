"""The organizer dashboard: access, widgets, the poll and its version, order actions."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from capacity.dashboard import project_sellout, sales
from capacity.models import BlockedSeats
from capacity.services import get_availability
from capacity.widgets import LiveDashboard, widget_versions
from registration import services
from registration.models import Order, OrderLineItem
from registration.permissions import MANAGE_ORDERS_PERMISSION
from tests.factories import (
    grant,
    make_addon,
    make_conference,
    make_order,
    make_ticket_type,
    make_user,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def organizer(conference):
    """An organizer of ``conference`` who may also manage its orders."""
    user = grant(make_user("organizer"), MANAGE_ORDERS_PERMISSION)
    conference.organizers.add(user)
    return user


@pytest.fixture
def organizer_client(client, organizer):
    client.force_login(organizer)
    return client


def dashboard_url(conference):
    return reverse("capacity:dashboard", kwargs={"slug": conference.slug})


def poll_url(conference):
    return reverse("capacity:dashboard-poll", kwargs={"slug": conference.slug})


def text_of(html, element_id):
    """The text inside the element with ``element_id`` (no nested tags expected)."""
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', html)
    assert match, f"#{element_id} not found"
    return match.group(1).strip()


def row_of(html, dom_id):
    match = re.search(rf'<tr id="{dom_id}"(.*?)</tr>', html, re.S)
    assert match, f"row #{dom_id} not found"
    return match.group(0)


# --- access ------------------------------------------------------------------------


def test_anonymous_is_redirected_to_login(client, conference):
    response = client.get(dashboard_url(conference))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/dashboard/{conference.slug}/"


def test_anonymous_poll_over_htmx_redirects_the_page_to_login(client, conference):
    response = client.get(
        poll_url(conference),
        headers={
            "HX-Request": "true",
            "HX-Current-URL": f"http://testserver/dashboard/{conference.slug}/",
        },
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next=/dashboard/{conference.slug}/"


def test_organizer_of_another_conference_gets_403(client, conference):
    other = make_conference()
    stranger = make_user()
    other.organizers.add(stranger)
    client.force_login(stranger)
    assert client.get(dashboard_url(conference)).status_code == 403
    assert client.get(poll_url(conference)).status_code == 403
    orders = reverse("capacity:orders", kwargs={"slug": conference.slug})
    assert client.get(orders).status_code == 403


def test_superuser_sees_every_dashboard(client, conference):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    response = client.get(dashboard_url(conference))
    assert response.status_code == 200
    assert conference.name in response.content.decode()


def test_organizer_sees_the_dashboard_and_unknown_slug_is_404(organizer_client, conference):
    assert organizer_client.get(dashboard_url(conference)).status_code == 200
    assert organizer_client.get("/dashboard/no-such-conference/").status_code == 404


def test_conference_list_shows_only_the_users_conferences(organizer_client, conference):
    hidden = make_conference(name="Not Mine Conf")
    response = organizer_client.get(reverse("capacity:conference-list"))
    html = response.content.decode()
    assert response.status_code == 200
    assert conference.name in html
    assert hidden.name not in html


def test_conference_list_needs_login(client):
    response = client.get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_logs_in_and_goes_to_the_dashboard(client, organizer):
    page = client.get("/accounts/login/?next=/dashboard/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode()
    response = client.post(
        "/accounts/login/",
        {"username": "organizer", "password": "pw-for-tests-only", "next": "/dashboard/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    wrong = client.post("/accounts/login/", {"username": "organizer", "password": "nope"})
    assert wrong.status_code == 200
    assert "correct username and password" in wrong.content.decode()


# --- widgets -------------------------------------------------------------------------


def test_venue_gauge_and_rows_show_the_snapshot(organizer_client, conference):
    regular = make_ticket_type(conference, slug="regular", name="Regular", total_quantity=40)
    make_order(conference, Order.Status.PAID, tickets=[(regular, 3)])
    make_order(conference, Order.Status.PENDING, tickets=[(regular, 2)])
    make_order(conference, Order.Status.PENDING, hold_minutes=-1, tickets=[(regular, 7)])
    BlockedSeats.objects.create(conference=conference, label="speakers", quantity=4)

    html = organizer_client.get(dashboard_url(conference)).content.decode()

    assert text_of(html, "venue-sold") == "3"
    assert text_of(html, "venue-held") == "2"
    assert text_of(html, "venue-blocked") == "4"
    assert text_of(html, "venue-remaining") == "91"
    assert text_of(html, "venue-capacity") == "100"
    row = row_of(html, "ticket-type-regular")
    assert 'data-sold="3"' in row and 'data-held="2"' in row and 'data-remaining="35"' in row
    assert '<svg class="capacity-bar' in html
    assert "style=" not in html


def test_unlimited_venue_says_unlimited(organizer_client):
    conference = make_conference(total_capacity=0)
    user = make_user()
    conference.organizers.add(user)
    organizer_client.force_login(user)
    make_ticket_type(conference, slug="open", total_quantity=0)
    html = organizer_client.get(dashboard_url(conference)).content.decode()
    assert text_of(html, "venue-remaining") == "Unlimited"
    assert "Unlimited capacity" in html
    assert 'data-state="unlimited"' in html


def test_over_capacity_by_override_and_sold_out_marker(organizer_client, conference):
    ticket = make_ticket_type(conference, slug="vip", total_quantity=0)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 103)])
    html = organizer_client.get(dashboard_url(conference)).content.decode()
    assert text_of(html, "venue-over-capacity") == "3 seats over capacity by override"
    assert 'class="capacity-mark"' in html
    assert 'data-sold-out="true"' in row_of(html, "ticket-type-vip")
    assert "Sold out" in html


def test_latest_orders_show_reference_buyer_tickets_status(organizer_client, conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 4)])
    html = organizer_client.get(dashboard_url(conference)).content.decode()
    section = html[html.index('id="latest-orders"') :]
    assert order.reference in section
    assert order.name in section
    assert re.search(r'data-field="tickets">4<', section)
    assert "Paid" in section


def test_poll_interval_comes_from_the_setting(organizer_client, conference, settings):
    settings.SEATKEEPER_DASHBOARD_POLL_SECONDS = 7
    html = organizer_client.get(dashboard_url(conference)).content.decode()
    assert 'hx-trigger="every 7s, tab-visible from:body' in html


def test_can_override_is_in_the_context(client, conference, organizer):
    client.force_login(organizer)
    assert client.get(dashboard_url(conference)).context["can_override"] is False
    client.force_login(make_user(is_superuser=True))
    assert client.get(dashboard_url(conference)).context["can_override"] is True


# --- the poll --------------------------------------------------------------------------


def test_poll_renders_every_widget_out_of_band_with_an_etag(organizer_client, conference):
    response = organizer_client.get(poll_url(conference), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert response["ETag"]
    assert "no-store" in response["Cache-Control"]
    for widget in [
        "dashboard-updated",
        "venue-gauge",
        "sales-stats",
        "sellout-projection",
        "item-rows",
        "sales-chart",
        "latest-orders",
        "overrides-panel",
    ]:
        assert re.search(rf'id="{widget}"[^>]*hx-swap-oob="true"', html, re.S), widget
    assert "<html" not in html


def test_unchanged_poll_is_304_without_rendering(organizer_client, conference):
    first = organizer_client.get(poll_url(conference))
    again = organizer_client.get(poll_url(conference), headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.templates == []
    assert again["ETag"] == first["ETag"]


def test_poll_after_a_sale_answers_with_the_new_numbers(organizer_client, conference):
    ticket = make_ticket_type(conference, slug="regular")
    first = organizer_client.get(poll_url(conference))
    services.place_order(
        conference=conference, email="a@example.com", name="A", tickets={ticket: 2}
    )
    second = organizer_client.get(poll_url(conference), headers={"If-None-Match": first["ETag"]})
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert text_of(second.content.decode(), "venue-held") == "2"


def test_page_hands_its_etag_to_the_poller(organizer_client, conference):
    page = organizer_client.get(dashboard_url(conference))
    etag = page.context["etag"]
    assert 'data-etag="{}"'.format(etag.replace('"', "&quot;")) in page.content.decode()
    poll = organizer_client.get(poll_url(conference), headers={"If-None-Match": etag})
    assert poll.status_code == 304


# --- the version ------------------------------------------------------------------------


MINUTE = datetime(2027, 3, 1, 10, 0, 5, tzinfo=UTC)


def dashboard_version(conference, *, now):
    """Every widget's version at ``now``, as the ETag carries them."""
    return widget_versions(conference, now=now).versions


def test_version_changes_when_the_earliest_hold_expires_without_any_write(conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    Order.objects.filter(pk=order.pk).update(hold_expires_at=MINUTE + timedelta(seconds=20))
    before = dashboard_version(conference, now=MINUTE)
    assert dashboard_version(conference, now=MINUTE + timedelta(seconds=10)) == before
    assert dashboard_version(conference, now=MINUTE + timedelta(seconds=30)) != before


def test_version_changes_with_orders_blocks_ticket_types_and_the_conference(conference):
    now = MINUTE
    ticket = make_ticket_type(conference, total_quantity=10)
    versions = [dashboard_version(conference, now=now)]
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    versions.append(dashboard_version(conference, now=now))
    services.cancel_order(order)
    versions.append(dashboard_version(conference, now=now))
    BlockedSeats.objects.create(conference=conference, label="press", quantity=2)
    versions.append(dashboard_version(conference, now=now))
    ticket.total_quantity = 12
    ticket.save()
    versions.append(dashboard_version(conference, now=now))
    ticket.is_active = False
    ticket.save()
    versions.append(dashboard_version(conference, now=now))
    conference.total_capacity = 150
    conference.save()
    versions.append(dashboard_version(conference, now=now))
    assert len({tuple(sorted(version.items())) for version in versions}) == len(versions)


def test_version_changes_when_a_sale_window_opens(conference):
    make_ticket_type(conference, available_from=MINUTE + timedelta(seconds=20))
    before = dashboard_version(conference, now=MINUTE)
    assert dashboard_version(conference, now=MINUTE + timedelta(seconds=30)) != before


def test_version_changes_every_minute_for_time_relative_figures(conference):
    assert dashboard_version(conference, now=MINUTE) != dashboard_version(
        conference, now=MINUTE + timedelta(minutes=1)
    )


# --- sales, chart, projection -----------------------------------------------------------------


def placed(conference, ticket, quantity, *, ago, status=Order.Status.PAID, now):
    order = make_order(conference, status, tickets=[(ticket, quantity)])
    Order.objects.filter(pk=order.pk).update(
        created_at=now - ago, hold_expires_at=now + timedelta(minutes=10)
    )
    return order


def test_sales_last_hour_and_today_count_seats_still_taken():
    conference = make_conference(timezone="Europe/Berlin")
    ticket = make_ticket_type(conference)
    now = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    placed(conference, ticket, 2, ago=timedelta(minutes=10), now=now)
    placed(conference, ticket, 1, ago=timedelta(minutes=20), status=Order.Status.PENDING, now=now)
    placed(conference, ticket, 5, ago=timedelta(minutes=30), status=Order.Status.CANCELLED, now=now)
    placed(conference, ticket, 3, ago=timedelta(hours=5), now=now)  # 08:00 Berlin: today
    placed(conference, ticket, 4, ago=timedelta(hours=13), now=now)  # 00:00 Berlin: today
    placed(conference, ticket, 6, ago=timedelta(hours=14), now=now)  # yesterday in Berlin

    stats = sales(conference, now=now, tz=ZoneInfo("Europe/Berlin")).stats

    assert (stats.hour_sold, stats.hour_held, stats.hour_orders) == (2, 1, 2)
    assert (stats.today_sold, stats.today_held, stats.today_orders) == (9, 1, 4)
    assert stats.today_revenue == Decimal("900.00")


def test_sales_figures_are_the_same_whatever_the_charts_period():
    # The last Sunday of October in Berlin lasts 25 hours: at 23:30 its midnight is
    # further back than the first bar of the hourly chart, yet its sales count.
    conference = make_conference(timezone="Europe/Berlin")
    ticket = make_ticket_type(conference)
    dinner = make_addon(conference, price=Decimal("30.00"))
    now = datetime(2027, 10, 31, 22, 30, tzinfo=UTC)  # 23:30 in Berlin
    just_after_midnight = now - timedelta(hours=24)
    placed(conference, ticket, 2, ago=now - just_after_midnight, now=now)
    placed(conference, ticket, 1, ago=timedelta(minutes=5), now=now)
    with_dinner = placed(conference, ticket, 1, ago=timedelta(minutes=50), now=now)
    OrderLineItem.objects.create(
        order=with_dinner, addon=dinner, quantity=2, unit_price=dinner.price, line_total=60
    )
    tz = ZoneInfo("Europe/Berlin")
    assert just_after_midnight.astimezone(tz).hour == 0

    hourly = sales(conference, now=now, tz=tz, granularity="hour")
    daily = sales(conference, now=now, tz=tz, granularity="day")

    assert hourly.stats == daily.stats
    stats = hourly.stats
    assert (stats.hour_sold, stats.hour_orders) == (2, 2)
    assert (stats.today_sold, stats.today_orders) == (4, 3)
    assert stats.today_revenue == 4 * ticket.price + Decimal("60")
    assert stats.first_seat_in_hour == now - timedelta(minutes=50)
    # The hourly chart starts after that midnight; the daily one has it in today's bar.
    assert (hourly.chart.total, daily.chart.bars[-1].sold) == (2, 4)


def test_chart_puts_seats_in_their_hour_and_day():
    conference = make_conference(timezone="Europe/Berlin")
    ticket = make_ticket_type(conference)
    now = datetime(2027, 3, 1, 12, 30, tzinfo=UTC)
    placed(conference, ticket, 2, ago=timedelta(minutes=10), now=now)
    placed(conference, ticket, 3, ago=timedelta(hours=2), now=now)
    placed(conference, ticket, 4, ago=timedelta(days=3), now=now)
    tz = ZoneInfo("Europe/Berlin")

    hourly = sales(conference, now=now, tz=tz, granularity="hour").chart
    assert len(hourly.bars) == 24
    assert hourly.bars[-1].label == "13:00" and hourly.bars[-1].sold == 2
    assert hourly.bars[-3].label == "11:00" and hourly.bars[-3].sold == 3
    assert hourly.total == 5

    daily = sales(conference, now=now, tz=tz, granularity="day").chart
    assert len(daily.bars) == 14
    assert daily.bars[-1].sold == 5
    assert daily.bars[-4].sold == 4
    assert daily.peak == 5 and daily.bars[-1].sold_height == daily.plot_height


def projection_for(conference, now):
    availability = get_availability(conference, now=now)
    tz = ZoneInfo(conference.timezone)
    stats = sales(conference, now=now, tz=tz).stats
    return project_sellout(conference, availability, stats, now=now, tz=tz)


def test_projection_from_the_last_hours_pace():
    conference = make_conference(total_capacity=100, start_date=date(2027, 6, 1))
    ticket = make_ticket_type(conference)
    now = timezone.now().replace(microsecond=0)
    placed(conference, ticket, 40, ago=timedelta(minutes=40), now=now)
    placed(conference, ticket, 20, ago=timedelta(minutes=5), now=now)
    # 60 seats in 40 minutes: 90 per hour; 40 left: sold out in 26m40s.
    projection = projection_for(conference, now)
    assert projection.state == "eta"
    assert projection.seats_per_hour == pytest.approx(90)
    assert projection.eta == now + timedelta(minutes=26, seconds=40)


def test_projection_states(organizer_client):
    user = make_user()
    organizer_client.force_login(user)
    now = timezone.now()
    quiet = make_conference(total_capacity=100, start_date=date(2027, 6, 1))
    assert projection_for(quiet, now).state == "no_sales"
    soon = make_conference(total_capacity=1000, start_date=timezone.localdate())
    soon.end_date = soon.start_date
    soon.save()
    placed(soon, make_ticket_type(soon), 1, ago=timedelta(minutes=30), now=now)
    assert projection_for(soon, now).state == "not_at_pace"
    full = make_conference(total_capacity=2, start_date=date(2027, 6, 1))
    placed(full, make_ticket_type(full), 2, ago=timedelta(minutes=30), now=now)
    assert projection_for(full, now).state == "sold_out"
    full.organizers.add(user)
    html = organizer_client.get(dashboard_url(full)).content.decode()
    assert 'data-state="sold_out"' in html


def test_projection_text_in_the_conference_timezone(organizer_client, conference):
    conference.timezone = "Asia/Tokyo"
    conference.save()
    ticket = make_ticket_type(conference)
    now = timezone.now()
    placed(conference, ticket, 50, ago=timedelta(minutes=30), now=now)
    html = organizer_client.get(dashboard_url(conference)).content.decode()
    eta = datetime.fromisoformat(re.search(r'data-eta="([^"]+)"', html).group(1))
    assert eta.utcoffset() == timedelta(hours=9)
    assert f"sold out around <strong>{eta:%H:%M}" in html or eta.date() != now.date()


def test_live_dashboard_uses_one_snapshot(conference):
    ticket = make_ticket_type(conference, slug="t", total_quantity=10)
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 10)])
    dash = LiveDashboard(conference)
    assert dash.availability.sold == 10
    assert dash.ticket_rows[0].item.sold_out
    assert dash.ticket_rows[0].dom_id == "ticket-type-t"


# --- order detail and actions ----------------------------------------------------------------


def order_url(conference, order, action=None):
    if action:
        return reverse(
            "capacity:order-action",
            kwargs={"slug": conference.slug, "reference": order.reference, "action": action},
        )
    return reverse("capacity:order", kwargs={"slug": conference.slug, "reference": order.reference})


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def test_order_detail_lists_the_actions_its_status_allows(organizer_client, conference):
    ticket = make_ticket_type(conference)
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    html = organizer_client.get(order_url(conference, pending)).content.decode()
    assert 'id="action-mark-paid"' in html and 'id="action-extend-hold"' in html
    assert 'id="action-refund"' not in html
    refunded = make_order(conference, Order.Status.REFUNDED, tickets=[(ticket, 1)])
    html = organizer_client.get(order_url(conference, refunded)).content.decode()
    assert 'id="action-' not in html


def test_mark_paid_asks_for_confirmation_then_pays(organizer_client, conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    confirm = organizer_client.get(order_url(conference, order, "mark-paid"))
    assert confirm.status_code == 200
    assert "Record a manual payment" in confirm.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING

    response = organizer_client.post(order_url(conference, order, "mark-paid"), follow=True)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.payment_provider == "manual"
    assert f"Order {order.reference} is marked as paid." in messages_of(response)


def test_late_payment_refused_by_the_service_is_shown_as_a_message(organizer_client):
    conference = make_conference(total_capacity=1)
    user = grant(make_user(), MANAGE_ORDERS_PERMISSION)
    conference.organizers.add(user)
    organizer_client.force_login(user)
    ticket = make_ticket_type(conference)
    lapsed = make_order(conference, Order.Status.PENDING, hold_minutes=-5, tickets=[(ticket, 1)])
    make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])

    response = organizer_client.post(order_url(conference, lapsed, "mark-paid"), follow=True)

    lapsed.refresh_from_db()
    assert lapsed.status == Order.Status.PENDING
    assert any("no longer free" in message for message in messages_of(response))


def test_refund_partial_refund_cancel(organizer_client, conference):
    ticket = make_ticket_type(conference)
    paid = make_order(conference, Order.Status.PAID, tickets=[(ticket, 1)])
    organizer_client.post(order_url(conference, paid, "partial-refund"))
    paid.refresh_from_db()
    assert paid.status == Order.Status.PARTIALLY_REFUNDED
    organizer_client.post(order_url(conference, paid, "refund"))
    paid.refresh_from_db()
    assert paid.status == Order.Status.REFUNDED
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    organizer_client.post(order_url(conference, pending, "cancel"))
    pending.refresh_from_db()
    assert pending.status == Order.Status.CANCELLED


def test_refund_of_a_pending_order_is_refused_with_a_message(organizer_client, conference):
    ticket = make_ticket_type(conference)
    pending = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    response = organizer_client.post(order_url(conference, pending, "refund"), follow=True)
    pending.refresh_from_db()
    assert pending.status == Order.Status.PENDING
    assert any("Only paid orders can be refunded" in m for m in messages_of(response))
    # The confirmation page is not even offered.
    confirm = organizer_client.get(order_url(conference, pending, "refund"), follow=True)
    assert any("does not apply" in m for m in messages_of(confirm))


def test_extend_hold_validates_minutes(organizer_client, conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    hold = order.hold_expires_at
    for bad in ["", "abc", "0", "-5", "99999999"]:
        response = organizer_client.post(
            order_url(conference, order, "extend-hold"), {"minutes": bad}
        )
        assert response.status_code == 200
        assert response.context["form"].errors
    order.refresh_from_db()
    assert order.hold_expires_at == hold
    organizer_client.post(order_url(conference, order, "extend-hold"), {"minutes": "30"})
    order.refresh_from_db()
    assert order.hold_expires_at == hold + timedelta(minutes=30)


def test_order_actions_are_for_organizers_only(client, conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    client.force_login(make_user())
    assert client.post(order_url(conference, order, "cancel")).status_code == 403
    assert client.get(order_url(conference, order)).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING


def test_unknown_action_and_foreign_order_are_404(organizer_client, conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    assert organizer_client.post(order_url(conference, order, "explode")).status_code == 404
    other = make_conference()
    foreign = make_order(other, Order.Status.PENDING, tickets=[(make_ticket_type(other), 1)])
    assert organizer_client.get(order_url(conference, foreign)).status_code == 404


def test_order_action_without_csrf_token_is_refused(conference, organizer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(organizer)
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    assert client.post(order_url(conference, order, "cancel")).status_code == 403
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
