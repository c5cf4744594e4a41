"""A persistent connection the server has closed is replaced before a request uses it,
and a quiet one is reused without a round trip (``config.health``)."""

import os
import select
import socket
import struct
import threading
import time

import psycopg
import pytest
from django.core.signals import request_started
from django.db import connection

from config import health
from config.health import close_connections_the_server_closed

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="a SQLite connection is a file, not a server's"
)


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


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_the_next_request(
    client, persistent_connection
):
    assert client.get("/healthz").status_code == 200
    first = backend_pid()
    terminate(first)
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert backend_pid() != first


@postgresql_only
@pytest.mark.django_db(transaction=True)
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


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_in_steady_use_is_reused_without_a_round_trip(client, persistent_connection):
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


class DroppingProxy:
    """A TCP proxy to PostgreSQL that can forget its connections, as a failover or
    a dropped route does: nothing reaches the client until it writes, then a reset."""

    def __init__(self, port):
        self.generation = 0
        self.sockets = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream_port = port
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        generation = self.generation
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        self.sockets += [client, upstream]
        threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()
        try:
            while data := client.recv(65536):
                if self.generation != generation:
                    # Closed with no linger: the client's write is answered by a reset.
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    client.close()
                    break
                upstream.sendall(data)
        except OSError:
            pass
        _drop(client)
        _drop(upstream)

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass

    def close(self):
        self.listener.close()
        for each in self.sockets:
            _drop(each)


def _drop(each):
    """Close a socket another thread may be blocked reading: shutdown wakes it."""
    try:
        each.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    each.close()


@pytest.fixture
def through_a_proxy(persistent_connection, monkeypatch):
    proxy = DroppingProxy(int(connection.settings_dict["PORT"] or 5432))
    monkeypatch.setitem(connection.settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(connection.settings_dict, "PORT", str(proxy.port))
    connection.close()
    yield proxy
    connection.close()
    proxy.close()
    wait_until_alone_in_the_database()


def wait_until_alone_in_the_database():
    """The proxy's server sessions end when it closes their sockets; the test
    database can only be dropped once they have."""
    others = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 5
    with connection.cursor() as cursor:
        while True:
            cursor.execute(others)
            if cursor.fetchone()[0] == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    connection.close()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_quiet_connection_the_network_dropped_is_replaced(client, through_a_proxy, monkeypatch):
    """Nothing arrives on such a connection: after a quiet while it is asked a query."""
    assert client.get("/healthz").status_code == 200
    through_a_proxy.generation += 1  # the old route is gone
    monkeypatch.setattr(health, "QUIET_SECONDS", 0.0)  # as if a second had passed
    assert client.get("/healthz").status_code == 200


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_busy_connection_the_network_dropped_fails_one_request(client, through_a_proxy):
    """The price of not asking a connection in steady use: the request that finds
    its route gone fails, and the next one has a new connection."""
    assert client.get("/healthz").status_code == 200
    through_a_proxy.generation += 1
    assert client.get("/healthz").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_the_socket_is_looked_at_whatever_its_number():
    """select() cannot take a descriptor above 1023; a busy server has such descriptors."""
    ours, theirs = socket.socketpair()
    high = os.dup2(ours.fileno(), 1500)

    class Connection:
        def fileno(self):
            return high

    try:
        assert not health._has_something_to_read(Connection())
        theirs.sendall(b"goodbye")
        assert health._has_something_to_read(Connection())
    finally:
        os.close(high)
        ours.close()
        theirs.close()
