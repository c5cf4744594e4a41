"""A persistent connection the server has closed is replaced before a request uses it,
and a quiet one is reused without a round trip (``config.health``)."""

import select
import time

import psycopg
import pytest
from django.core.signals import request_started
from django.db import connection

from config.health import close_connections_the_server_closed

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="a SQLite connection is a file, not a server's"
    ),
]


@pytest.fixture
def persistent_connection(monkeypatch):
    """Connections kept across requests, as CONN_MAX_AGE keeps them in production."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)
    connection.close()
    yield
    connection.close()


def backend_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate(pid):
    """End a backend from outside, as a database restart would, and wait until its
    client can tell (the server's goodbye has reached the socket)."""
    params = connection.get_connection_params()
    with psycopg.connect(**{**params, "autocommit": True}) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    raw = connection.connection
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if select.select([raw.fileno()], [], [], 0.05)[0]:
            return
    raise AssertionError("the server's goodbye never arrived")


def test_a_connection_the_server_closed_is_replaced_before_the_next_request(
    client, persistent_connection
):
    assert client.get("/healthz").status_code == 200
    first = backend_pid()
    terminate(first)
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert backend_pid() != first


def test_without_the_check_that_request_would_have_failed(client, persistent_connection):
    """The control: the test above passes because of the check, not by luck."""
    assert client.get("/healthz").status_code == 200
    terminate(backend_pid())
    request_started.disconnect(dispatch_uid="seatkeeper-connection-checks")
    try:
        response = client.get("/healthz")
    finally:
        request_started.connect(
            close_connections_the_server_closed, dispatch_uid="seatkeeper-connection-checks"
        )
    assert response.status_code == 503


def test_a_quiet_connection_is_reused_without_a_round_trip(client, persistent_connection):
    assert client.get("/healthz").status_code == 200
    pid = backend_pid()
    raw = connection.connection

    def no_query(*args, **kwargs):
        raise AssertionError("the check sent a query")

    raw.execute = no_query  # shadows the driver's method on this connection only
    try:
        close_connections_the_server_closed()
    finally:
        del raw.execute
    assert connection.connection is raw
    assert backend_pid() == pid
