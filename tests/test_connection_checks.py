"""A persistent connection that can no longer be used is replaced before a request
uses it: Django's ``CONN_HEALTH_CHECKS``, on in ``config/settings.py``."""

import select
import socket
import struct
import threading
import time

import psycopg
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory

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


def get(path) -> int:
    """The status of a GET through Django's own WSGI handler, which, unlike the
    test client, runs the connection checks a real request starts with."""
    statuses = []
    environ = RequestFactory().get(path).environ
    b"".join(WSGIHandler()(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return int(statuses[0].split()[0])


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_closed_is_replaced_before_the_next_request(
    persistent_connection,
):
    assert get("/healthz") == 200
    first = backend_pid()
    terminate(first)
    assert get("/healthz") == 200
    assert backend_pid() != first


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_without_the_check_that_request_would_have_failed(persistent_connection, monkeypatch):
    """The control: the test above passes because of the check, not by luck."""
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", False)
    assert get("/healthz") == 200
    terminate(backend_pid())
    assert get("/healthz") == 503


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
def test_a_connection_the_network_dropped_is_replaced(through_a_proxy):
    """Nothing arrives on such a connection until it is asked a query."""
    assert get("/healthz") == 200
    through_a_proxy.generation += 1  # the old route is gone
    assert get("/healthz") == 200
