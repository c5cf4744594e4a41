"""What the order form costs the database: a fixed, small number of statements.

Savepoints are left out of the counts: they come from the test's own transaction
(a real request opens the order's transaction with BEGIN, which is not logged).
"""

import re

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from registration import services
from registration.models import Order
from tests.factories import make_addon, make_conference, make_entry, make_order, make_ticket_type

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SAVEPOINT = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
ON_POSTGRESQL = connection.vendor == "postgresql"

# A page first reads the conference by its slug with its live version
# (``capacity.api.public_conference``); an order POST reads its row alone
# (``posted_conference``). Once the ticket page has been opened, the catalogue
# for reading the form comes from the cache at the row's catalogue version
# (``_form_offers``). Under the lock: lock, seat counts with the blocked seats,
# catalogue (the snapshot); then order, lines. (A hold placed in a transaction
# of its own is also preceded by the commit setting on PostgreSQL: see the
# tests at the end.)
ORDER_PLACED = 6  # one more than a cached conference: its row, read first
# The same up to the snapshot; the refusal is shown from that snapshot (on a
# page that names no live version: its first poll draws afresh).
ORDER_REFUSED = 4
# With the cache off: the conference and the catalogue for the form, every time.
ORDER_PLACED_UNCACHED = 7
# The conference with its version, then the snapshot's two.
TICKET_PAGE = 3  # one more: the conference with its version, no longer cached
# The first view after a change costs the same: the form's catalogue is the snapshot's.
TICKET_PAGE_COLD = 3  # one less: the form's catalogue is taken from the snapshot


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def shop(ticket_types, *, capacity=1000):
    conference = make_conference(total_capacity=capacity)
    for n in range(ticket_types):
        make_ticket_type(conference, slug=f"type-{n}", total_quantity=100)
    make_addon(conference, slug="workshop", total_quantity=50)
    return conference


def statements_of(client, method, url, data=None):
    """The response and the SQL statements it ran, savepoints left out."""
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, method)(url, data) if data else getattr(client, method)(url)
    sql = [query["sql"] for query in captured if not query["sql"].startswith(SAVEPOINT)]
    return response, sql


def buyer(conference):
    """A CSRF-checking client that has opened the ticket page, and its form token."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(f"/{conference.slug}/")
    return client, TOKEN.search(page.content.decode()).group(1)


def order_form(token, **quantities):
    return {"name": "Ada", "email": "ada@example.com", "csrfmiddlewaretoken": token, **quantities}


def test_placing_an_order_costs_the_same_few_statements_for_3_or_30_ticket_types():
    counts = []
    for size in (3, 30):
        conference = shop(size)
        client, token = buyer(conference)
        data = order_form(token, **{"ticket-type-0": "2", "addon-workshop": "1"})
        response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
        assert response.status_code == 302, response.content.decode()[:500]
        assert Order.objects.filter(conference=conference).count() == 1
        counts.append(len(sql))
        assert len(sql) == ORDER_PLACED, "\n".join(sql)
    assert counts[0] == counts[1]


def test_the_seats_are_counted_once_per_order_under_the_lock_taken_first():
    conference = shop(3)
    client, token = buyer(conference)
    data = order_form(token, **{"ticket-type-1": "1"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 302
    seat_counts = [n for n, statement in enumerate(sql) if "registration_seatcounter" in statement]
    assert len(seat_counts) == 1
    conference_reads = [
        n for n, statement in enumerate(sql) if 'FROM "conference_conference"' in statement
    ]
    # The conference's row (to find the form's catalogue), then the lock: under
    # it the conference is not read again.
    assert conference_reads == [0, 1]
    if connection.vendor == "postgresql":
        assert sql[1].rstrip().endswith("FOR UPDATE")


def test_an_order_runs_lock_snapshot_then_order_and_lines():
    """The lock first, the snapshot under it, then the order with its lines; a
    refusal stops after the snapshot, and the ticket page is the snapshot alone."""
    conference = shop(3)
    client, token = buyer(conference)
    data = order_form(token, **{"ticket-type-0": "1", "addon-workshop": "1"})
    response, sent = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 302
    assert len(sent) == ORDER_PLACED, "\n".join(sent)
    row, lock, counts, catalogue, order, lines = sent
    assert 'FROM "conference_conference"' in row and "FOR UPDATE" not in row
    assert 'FROM "conference_conference"' in lock and "registration_seatcounter" in counts
    assert "registration_tickettype" in catalogue
    assert order.startswith('INSERT INTO "registration_order"')
    assert lines.startswith('INSERT INTO "registration_orderlineitem"')
    placed = Order.objects.get(conference=conference)
    assert placed.lines.count() == 2

    data = order_form(token, **{"ticket-type-0": "500"})
    response, sent = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 400
    assert len(sent) == ORDER_REFUSED
    response, sent = statements_of(client, "get", f"/{conference.slug}/")
    assert response.status_code == 200
    assert len(sent) == TICKET_PAGE


def test_with_the_cache_off_the_form_is_read_against_the_database(settings):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 0
    conference = shop(3)
    client, token = buyer(conference)
    data = order_form(token, **{"ticket-type-0": "1"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 302
    assert len(sql) == ORDER_PLACED_UNCACHED, "\n".join(sql)


def test_a_ticket_type_added_after_the_page_was_cached_can_be_ordered_at_once():
    conference = shop(1)
    client, token = buyer(conference)  # caches the form's catalogue
    make_ticket_type(conference, slug="late-addition", total_quantity=5)
    data = order_form(token, **{"ticket-late-addition": "2"})
    response = client.post(f"/{conference.slug}/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    order = Order.objects.get(conference=conference)
    assert [line.ticket_type.slug for line in order.lines.all()] == ["late-addition"]


def test_a_conference_deleted_after_its_form_was_cached_is_not_found():
    conference = shop(1)
    client, token = buyer(conference)
    slug = conference.slug
    conference.delete()
    response = client.post(f"/{slug}/", order_form(token, **{"ticket-type-0": "1"}))
    assert response.status_code == 404
    assert not Order.objects.exists()


def test_a_refused_order_is_shown_from_the_snapshot_it_was_refused_on():
    conference = shop(3, capacity=4)
    ticket_type = conference.ticket_types.get(slug="type-0")
    make_order(conference, tickets=[(ticket_type, 3)])
    client, token = buyer(conference)
    data = order_form(token, **{"ticket-type-0": "2"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    html = response.content.decode()
    assert response.status_code == 400
    assert f"Only 1 tickets remaining for {conference.name}" in html
    assert "Only 1 seat left" in html  # the banner, drawn from the same snapshot
    assert Order.objects.filter(conference=conference).count() == 1
    assert len(sql) == ORDER_REFUSED, "\n".join(sql)
    assert sum("registration_seatcounter" in statement for statement in sql) == 1


def test_the_ticket_page_costs_two_statements_and_writes_no_session():
    conference = shop(30)
    client = Client()
    response, sql = statements_of(client, "get", f"/{conference.slug}/")
    assert response.status_code == 200
    assert len(sql) == TICKET_PAGE_COLD, "\n".join(sql)
    response, sql = statements_of(client, "get", f"/{conference.slug}/")
    assert response.status_code == 200
    assert len(sql) == TICKET_PAGE, "\n".join(sql)
    assert not any("django_session" in statement for statement in sql)
    assert "sessionid" not in response.cookies


def test_an_anonymous_order_post_neither_reads_nor_writes_a_session():
    conference = shop(3)
    client, token = buyer(conference)
    data = order_form(token, **{"ticket-type-0": "1"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 302
    assert not any("django_session" in statement for statement in sql)
    assert "sessionid" not in response.cookies


def place(conference, price):
    """Place an order; return it and ``synchronous_commit`` as it stood when the
    order row was inserted (None on SQLite, which has no such setting)."""
    ticket_type = conference.ticket_types.get(slug="type-0")
    ticket_type.price = price
    ticket_type.save()
    seen = {}

    def record_setting(execute, sql, params, many, context):
        if ON_POSTGRESQL and sql.startswith(f'INSERT INTO "{Order._meta.db_table}"'):
            # The driver's own connection: not through this wrapper again.
            value = connection.connection.execute("SHOW synchronous_commit").fetchone()
            seen["synchronous_commit"] = value[0]
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(record_setting):
        order = services.place_order(
            conference=conference, email="a@example.com", name="Ada", tickets={ticket_type: 1}
        )
    if not ON_POSTGRESQL:  # SQLite has no such setting: nothing of it reaches it
        assert not any("synchronous_commit" in query["sql"] for query in captured)
    return order, seen.get("synchronous_commit")


@pytest.mark.django_db(transaction=True)
def test_a_new_hold_commits_without_waiting_for_the_disk_on_postgresql():
    order, setting = place(shop(3), price=10)
    assert order.status == Order.Status.PENDING
    assert setting == ("off" if ON_POSTGRESQL else None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("setting", [True, False])
def test_a_free_order_is_paid_so_it_waits_for_the_disk(settings, setting):
    settings.SEATKEEPER_ASYNC_HOLD_COMMIT = setting
    order, synchronous_commit = place(shop(3), price=0)
    assert order.status == Order.Status.PAID
    assert synchronous_commit == ("on" if ON_POSTGRESQL else None)


@pytest.mark.django_db(transaction=True)
def test_with_the_setting_off_a_hold_waits_for_the_disk(settings):
    settings.SEATKEEPER_ASYNC_HOLD_COMMIT = False
    order, synchronous_commit = place(shop(3), price=10)
    assert order.status == Order.Status.PENDING
    assert synchronous_commit == ("on" if ON_POSTGRESQL else None)


@pytest.mark.django_db(transaction=True)
def test_after_the_hold_commits_the_connection_waits_for_the_disk_again():
    """The setting is the transaction's own: the next transaction (a payment) waits."""
    order, synchronous_commit = place(shop(3), price=10)
    assert synchronous_commit == ("off" if ON_POSTGRESQL else None)
    if ON_POSTGRESQL:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


def test_inside_a_callers_transaction_a_hold_waits_for_the_disk():
    """SET LOCAL would last to the end of the caller's transaction, and what the
    caller writes next (a payment, say) must wait for the disk."""
    with transaction.atomic():  # within the test's own transaction too
        order, synchronous_commit = place(shop(3), price=10)
        assert order.status == Order.Status.PENDING
        assert synchronous_commit == ("on" if ON_POSTGRESQL else None)
        if ON_POSTGRESQL:
            with connection.cursor() as cursor:
                cursor.execute("SHOW synchronous_commit")
                assert cursor.fetchone()[0] == "on"


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
    }
}


def test_with_the_shared_cache_down_buyers_still_see_the_page_and_order():
    conference = shop(1, capacity=3)
    with override_settings(CACHES=UNREACHABLE_REDIS):
        client, token = buyer(conference)
        data = order_form(token, **{"ticket-type-0": "2"})
        assert client.post(f"/{conference.slug}/", data).status_code == 302
        refused = client.post(f"/{conference.slug}/", data)
        assert refused.status_code == 400
        assert "Only 1 tickets remaining" in refused.content.decode()
        assert client.get(f"/{conference.slug}/live/").status_code == 200
        api = client.get(f"/api/conferences/{conference.slug}/availability")
        assert api.json()["remaining"] == 1
    assert Order.objects.filter(conference=conference).count() == 1


def test_people_waiting_cost_no_statement_more():
    """The seats waited for are one more branch of the seat counts' statement."""
    conference = shop(3)
    ticket_type = conference.ticket_types.get(slug="type-0")
    ticket_type.total_quantity = 10
    ticket_type.save()
    make_entry(conference, ticket_type, 2)
    make_entry(conference, None, 3)
    make_entry(conference, conference.ticket_types.get(slug="type-1"), 4)
    # Sold out to newcomers by the line: the page offers to join it.
    conference.ticket_types.filter(slug="type-2").update(total_quantity=3)
    make_entry(conference, conference.ticket_types.get(slug="type-2"), 3)
    client, token = buyer(conference)

    data = order_form(token, **{"ticket-type-0": "2", "addon-workshop": "1"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 302, response.content.decode()[:500]
    assert len(sql) == ORDER_PLACED, "\n".join(sql)
    (counts,) = [statement for statement in sql if "registration_seatcounter" in statement]
    assert "registration_waitinglistentry" in counts

    # 8 of the type are free, 5 of them waited for: 4 more is a refusal for the line.
    data = order_form(token, **{"ticket-type-0": "4"})
    response, sql = statements_of(client, "post", f"/{conference.slug}/", data)
    assert response.status_code == 400
    assert "waiting list" in response.content.decode()
    assert len(sql) == ORDER_REFUSED, "\n".join(sql)

    response, sql = statements_of(client, "get", f"/{conference.slug}/")
    assert response.status_code == 200
    assert "waiting list" in response.content.decode().lower()
    assert len(sql) == TICKET_PAGE, "\n".join(sql)
    assert Order.objects.filter(conference=conference).count() == 1
