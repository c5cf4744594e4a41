"""On PostgreSQL, statements are bound on the server and prepared once a
connection has sent them a few times (``config/settings.py``); a setting turns
that off for poolers that cannot keep prepared statements."""

import pytest
from django.db import connection

from tests.test_production import run_django

SERVER_SIDE = (
    "from django.conf import settings as s\n"
    "o = s.DATABASES['default'].get('OPTIONS', {})\n"
    "print(o.get('server_side_binding'), o.get('prepare_threshold'), o.get('keepalives_idle'))"
)
URL = "postgres://u@db.example:5432/seatkeeper?keepalives_idle=10"


def test_postgresql_statements_are_bound_on_the_server_and_prepared():
    result = run_django(env={"DATABASE_URL": URL}, code=SERVER_SIDE)
    assert result.returncode == 0, result.stderr
    # The options of DATABASE_URL are kept beside them.
    assert result.stdout.split() == ["True", "5", "10"]


def test_a_pooler_without_prepared_statements_can_turn_them_off():
    result = run_django(
        env={"DATABASE_URL": URL, "DATABASE_PREPARED_STATEMENTS": "0"}, code=SERVER_SIDE
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", "None", "10"]


def prepared(statement) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", [statement]
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite prepares nothing here")
@pytest.mark.django_db
def test_a_statement_sent_again_and_again_is_prepared_by_its_connection():
    sent = []
    for n in range(10):
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::int + 41", [n])
            assert cursor.fetchone() == (n + 41,)
        sent.append(prepared("SELECT $1::int + 41"))
    # Parsed and planned the first times, then prepared once and reused.
    assert sent[0] is False
    assert sent[-1] is True
