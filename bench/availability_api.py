"""The attendee availability API under load, with its cache off and on.

    .venv/bin/python bench/availability_api.py [--orders 20000] [--seconds 10]
        [--concurrency 32] [--workers 5]

Creates ``seatkeeper_bench_availability`` on the local PostgreSQL with one
conference (six ticket types, two add-ons, ``--orders`` orders sold), then for
each cache setting starts gunicorn (production settings) on 127.0.0.1:8203 and
lets ``--concurrency`` clients (asyncio and the lean client of ``bench/rawhttp.py``) GET
``/api/conferences/<slug>/availability`` for ``--seconds``:

- cache off: ``SEATKEEPER_AVAILABILITY_CACHE_SECONDS=0`` (every request builds
  the snapshot);
- cache on, 2 s, local memory (each gunicorn worker has its own cache);
- cache on, 2 s, Redis (``REDIS_URL``: one cache shared by all workers, as
  several app servers would share it).

Prints requests per second, p50/p99 latency, errors, and database transactions
per request (from pg_stat_database: with autocommit, one per query).
"""

import argparse
import asyncio
import os
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import psycopg  # noqa: E402
import rawhttp  # noqa: E402

SLUG = "avail"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


async def hammer(base, seconds, concurrency):
    latencies, statuses = [], {}
    deadline = time.perf_counter() + seconds
    async with rawhttp.Client(base) as client:

        async def client_loop():
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await client.get(f"/api/conferences/{SLUG}/availability")
                    key = response.status_code
                    if key == 200 and b'"ticket_types"' not in response.content:
                        key = "200 without ticket_types"
                except rawhttp.HTTPError as error:
                    key = type(error).__name__
                latencies.append(time.perf_counter() - started)
                statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client_loop() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies, statuses


def transactions(url):
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_stat_clear_snapshot()")
        return connection.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [name]
        ).fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8203)
    options = parser.parse_args()

    print(f"Machine: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    with common.bench_database("availability") as url:
        common.setup_django(url)
        make_conference(options.orders)
        from django.db import connections

        connections.close_all()
        settings = [
            ("off", {"SEATKEEPER_AVAILABILITY_CACHE_SECONDS": "0"}),
            ("2 s, local memory", {"SEATKEEPER_AVAILABILITY_CACHE_SECONDS": "2"}),
            ("2 s, Redis", {"SEATKEEPER_AVAILABILITY_CACHE_SECONDS": "2", "REDIS_URL": REDIS_URL}),
        ]
        rows = []
        for label, extra in settings:
            env = common.production_env(url, **extra)
            with common.gunicorn(
                env, port=options.port, workers=options.workers, threads=options.threads
            ) as base:
                # Warm up (and fail early on an error status).
                urllib.request.urlopen(f"{base}/api/conferences/{SLUG}/availability").read()
                before = transactions(url)
                seconds, latencies, statuses = asyncio.run(
                    hammer(base, options.seconds, options.concurrency)
                )
                after = transactions(url)
            ok = statuses.get(200, 0)
            errors = sum(n for key, n in statuses.items() if key != 200)
            rows.append(
                [
                    label,
                    f"{len(latencies) / seconds:.0f}",
                    common.ms(common.percentile(latencies, 0.5)),
                    common.ms(common.percentile(latencies, 0.99)),
                    ok,
                    errors,
                    f"{(after - before) / max(1, len(latencies)):.2f}",
                ]
            )
        print()
        print(
            f"{options.orders:,} orders sold; {options.concurrency} clients for "
            f"{options.seconds:g} s each; gunicorn {options.workers} workers × "
            f"{options.threads} threads on 127.0.0.1:{options.port}"
        )
        common.print_table(
            ["cache", "requests/s", "p50 ms", "p99 ms", "200s", "errors", "db xacts/request"],
            rows,
        )
        if any(row[5] for row in rows):
            sys.exit("FAILED: some requests did not answer 200 with a snapshot")


def make_conference(orders):
    from conference.models import Conference
    from registration.models import AddOn, TicketType

    conference = Conference.objects.create(
        name="Availability Conf",
        slug=SLUG,
        start_date="2030-01-01",
        end_date="2030-01-02",
        total_capacity=orders * 3,
    )
    ticket_types = [
        TicketType.objects.create(
            conference=conference,
            name=f"Type {n}",
            slug=f"type-{n}",
            price=100,
            total_quantity=orders,
        )
        for n in range(6)
    ]
    addons = [
        AddOn.objects.create(conference=conference, name=f"Extra {n}", slug=f"extra-{n}", price=10)
        for n in range(2)
    ]
    common.bulk_orders(conference, ticket_types, addons[0], count=orders)
    common.bulk_orders(
        conference,
        ticket_types,
        addons[1],
        count=40,
        start=10_000_000,
        status_sql="'pending'",
        hold_sql="now() + interval '30 minutes'",
    )


if __name__ == "__main__":
    main()
