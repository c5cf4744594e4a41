"""A launch rush over HTTP: concurrent buyers race for fewer seats than they want.

    .venv/bin/python bench/launch_rush.py [--buyers 6000] [--capacity 8500]
        [--concurrency 16] [--workers 4] [--threads 1] [--worker-class gthread]

Creates ``seatkeeper_bench_rush`` on the local PostgreSQL, a conference whose
venue holds ``--capacity`` seats and whose three ticket types together offer
more (so both the venue cap and the per-type caps bind), and starts gunicorn
(config/gunicorn.py, production settings) on 127.0.0.1:8201.

Every buyer first opens the ticket page (GET ``/<slug>/``: CSRF cookie and
token), as buyers do while waiting for the sale to open. Then the gate opens:
all buyers POST the real order form (``ticket-<slug>``, ``name``, ``email``,
``csrfmiddlewaretoken``) with at most ``--concurrency`` requests in flight
(asyncio and the lean client of ``bench/rawhttp.py``, which leaves the CPU to
the server). The client keeps its connections open; gthread workers (the
default here, and what config/gunicorn.py runs with more than one thread)
keep them too, sync workers close each one after its response. A 302 to the
order page is an order; a 400 re-rendering the form with "sold out" / "Only N …
remaining" is a refusal; anything else is an error.
Only the rush is timed.

Prints orders per second, latency (p50/p99) of the order POSTs, outcomes, and
seats taken against capacity, venue-wide and per ticket type (taken must never
exceed capacity; with demand above capacity it should equal it).
"""

import argparse
import asyncio
import collections
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import rawhttp  # noqa: E402

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SLUG = "rush"
# (slug, share of buyers who want it, its quantity as a share of the venue)
TICKET_TYPES = [("early-bird", 0.5, 0.4), ("regular", 0.3, 0.6), ("student", 0.2, 0.3)]
PLACED = "order placed (302)"


async def open_page(client, buyer):
    response = await client.get(f"/{SLUG}/")
    if response.status_code != 200:
        raise RuntimeError(f"GET /{SLUG}/ answered {response.status_code}")
    buyer["cookie"] = f"csrftoken={response.cookie('csrftoken')}"
    buyer["token"] = TOKEN.search(response.text).group(1)


async def place(client, buyer, outcomes, latencies):
    """POST one buyer's order; count and return its outcome (``PLACED`` for an order)."""
    form = {
        f"ticket-{buyer['slug']}": str(buyer["quantity"]),
        "name": buyer["name"],
        "email": buyer["email"],
        "csrfmiddlewaretoken": buyer["token"],
    }
    started = time.perf_counter()
    try:
        response = await client.post(
            f"/{SLUG}/",
            data=form,
            headers={"Cookie": buyer["cookie"], "Referer": f"{client.base}/{SLUG}/"},
        )
    except rawhttp.HTTPError as error:
        outcome = f"transport error ({type(error).__name__})"
        outcomes[outcome] += 1
        return outcome
    elapsed = time.perf_counter() - started
    latencies["all"].append(elapsed)
    if response.status_code == 302 and "/orders/" in response.header("location"):
        outcome = PLACED
        latencies["placed"].append(elapsed)
    elif response.status_code == 400 and re.search(r"sold out|remaining", response.text):
        outcome = "refused: seats gone (400)"
    elif response.status_code >= 500:
        outcome = f"server error ({response.status_code})"
    else:
        outcome = f"other ({response.status_code})"
    outcomes[outcome] += 1
    return outcome


async def gather_limited(coroutines, limit):
    semaphore = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with semaphore:
            await coroutine

    await asyncio.gather(*(run(c) for c in coroutines))


async def rush(base, database, buyers, concurrency):
    """Open every buyer's page, then time the POSTs. Returns (seconds, outcomes,
    latencies, CPU seconds spent during the POSTs by gunicorn, PostgreSQL and this process)."""
    async with rawhttp.Client(base) as client:
        await gather_limited([open_page(client, buyer) for buyer in buyers], concurrency)
        outcomes = collections.Counter()
        latencies = {"all": [], "placed": []}
        random.shuffle(buyers)
        server_cpu = common.ServerCPU(client.port, database)
        server_cpu.start()
        own_cpu = time.process_time()
        started = time.perf_counter()
        await gather_limited(
            [place(client, buyer, outcomes, latencies) for buyer in buyers], concurrency
        )
        seconds = time.perf_counter() - started
        cpu = {**server_cpu.stop(), "load generator": time.process_time() - own_cpu}
        return seconds, outcomes, latencies, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=6000)
    parser.add_argument("--capacity", type=int, default=8500)
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker")
    parser.add_argument(
        "--worker-class",
        default="gthread",
        choices=["gthread", "sync"],
        help="gthread keeps connections alive between requests, sync closes each one",
    )
    parser.add_argument("--port", type=int, default=8201)
    parser.add_argument("--seed", type=int, default=6)
    options = parser.parse_args()
    random.seed(options.seed)

    print(f"Machine: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    with common.bench_database("rush") as url:
        env = common.production_env(url)
        common.manage("collectstatic", "--noinput", "-v", "0", env=env)
        common.setup_django(url)
        conference, ticket_types = make_conference(options.capacity)
        buyers = make_buyers(options.buyers)
        demand = sum(buyer["quantity"] for buyer in buyers)
        log_path = Path("/tmp") / f"seatkeeper-bench-rush-{os.getpid()}.log"
        with common.gunicorn(
            env,
            port=options.port,
            workers=options.workers,
            threads=options.threads,
            worker_class=options.worker_class,
            log_path=log_path,
        ) as base:
            database = urlsplit(url).path.lstrip("/")
            result = asyncio.run(rush(base, database, buyers, options.concurrency))
        report(options, conference, ticket_types, demand, *result)
        from django.db import connections

        connections.close_all()


def make_conference(capacity):
    from conference.models import Conference
    from registration.models import TicketType

    conference = Conference.objects.create(
        name="Rush Conf",
        slug=SLUG,
        start_date="2030-01-01",
        end_date="2030-01-02",
        total_capacity=capacity,
        hold_minutes=15,
    )
    ticket_types = [
        TicketType.objects.create(
            conference=conference,
            name=slug.replace("-", " ").title(),
            slug=slug,
            price=100,
            total_quantity=round(capacity * share_of_venue),
            max_per_order=4,
        )
        for slug, _, share_of_venue in TICKET_TYPES
    ]
    return conference, ticket_types


def make_buyers(count):
    slugs = [slug for slug, _, _ in TICKET_TYPES]
    weights = [share for _, share, _ in TICKET_TYPES]
    return [
        {
            "slug": random.choices(slugs, weights)[0],
            "quantity": random.choice([1, 1, 2, 2, 3]),
            "name": f"Buyer {n}",
            "email": f"buyer{n}@example.com",
        }
        for n in range(count)
    ]


def report(options, conference, ticket_types, demand, seconds, outcomes, latencies, cpu):
    from capacity.services import get_availability
    from registration.models import Order, OrderLineItem

    availability = get_availability(conference)
    placed = outcomes[PLACED]
    orders_in_db = Order.objects.filter(conference=conference).count()
    seats_in_db = sum(
        OrderLineItem.objects.filter(order__conference=conference).values_list(
            "quantity", flat=True
        )
    )
    errors = sum(n for key, n in outcomes.items() if not key.startswith(("order", "refused")))
    server_errors = sum(n for key, n in outcomes.items() if key.startswith("server error"))
    oversold = max(0, availability.taken - options.capacity)

    print()
    print(
        f"{options.buyers} buyers wanting {demand} seats, {options.capacity} seats in the venue; "
        f"{options.concurrency} requests in flight; gunicorn {options.workers} workers × "
        f"{options.threads} threads ({options.worker_class}) on 127.0.0.1:{options.port}"
    )
    common.print_table(
        ["figure", "value"],
        [
            ["rush duration (s)", f"{seconds:.2f}"],
            ["orders placed", placed],
            ["orders per second", f"{placed / seconds:.0f}"],
            ["order POSTs per second (placed + refused)", f"{len(latencies['all']) / seconds:.0f}"],
            *[
                [f"CPU per order POST, {name} (ms)", f"{1000 * spent / len(latencies['all']):.2f}"]
                for name, spent in cpu.items()
            ],
            ["p50 latency, all POSTs (ms)", common.ms(common.percentile(latencies["all"], 0.5))],
            ["p99 latency, all POSTs (ms)", common.ms(common.percentile(latencies["all"], 0.99))],
            ["p50 latency, placed (ms)", common.ms(common.percentile(latencies["placed"], 0.5))],
            ["p99 latency, placed (ms)", common.ms(common.percentile(latencies["placed"], 0.99))],
            *[[outcome, n] for outcome, n in sorted(outcomes.items())],
            ["errors (not placed, not refused)", errors],
            ["5xx responses", server_errors],
            ["orders in the database", orders_in_db],
            ["seats taken / venue capacity", f"{availability.taken} / {options.capacity}"],
            *[
                [f"  {item.slug}: taken / quantity", f"{item.taken} / {item.capacity}"]
                for item in availability.ticket_types
            ],
            ["seats on order lines in the database", seats_in_db],
            ["oversold seats", oversold],
        ],
    )
    problems = []
    if oversold or any(item.taken > item.capacity for item in availability.ticket_types):
        problems.append("OVERSOLD")
    if server_errors:
        problems.append("5xx responses")
    if orders_in_db != placed or seats_in_db != availability.taken:
        problems.append("orders in the database do not match the 302s")
    if problems:
        print("FAILED: " + ", ".join(problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
