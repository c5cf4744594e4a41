"""Benchmark the organizer dashboard's poll against gunicorn and PostgreSQL.

One command, from the project root:

    .venv/bin/python bench/dashboard_poll.py

It creates its own database (``seatkeeper_bench_dashboard`` next to the one in
DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/postgres``), migrates
it, bulk-loads a conference with 20 ticket types and 50,000 orders, starts
gunicorn on 127.0.0.1:8202, logs in as an organizer and polls with httpx:

* changed:   every poll renders every widget (no matching ETag, as when the
             numbers moved since the client's last poll);
* unchanged: every poll sends the ETag of the last answer and gets 304 before
             anything is rendered.

Before gunicorn starts, it measures in-process (Django's test client) the CPU of
a poll right after one new order (the ETag of the poll before it sent back: only
the widgets that moved are drawn), of an unchanged poll and of one drawing every
widget (``--rounds``).

It prints latency (median, p99) and polls per second for each case, then stops
gunicorn and drops the database.

``--against /path/to/another/checkout`` compares two codes on the same data
instead: after the load, ``--turns`` times, a process of each checkout (in turn,
the order alternating) measures the in-process cases, and the script prints the
median of each code's figures, the change, and the median and quartiles of the
per-turn ratio. The other checkout needs the same schema; no gunicorn runs.

Everything is bounded (fixed durations, a startup deadline) and stays on the
loopback interface.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "127.0.0.1", 8202
BASE_URL = f"http://{HOST}:{PORT}"
BENCH_DB = "seatkeeper_bench_dashboard"
SLUG = "bench-conf"
USERNAME, PASSWORD = "bench-organizer", "bench-password-123"
STARTUP_DEADLINE = 30  # seconds for gunicorn to answer


def database_urls(base_url):
    """(admin URL to create/drop databases with, URL of the bench database)."""
    parts = urlsplit(base_url)
    if not parts.scheme.startswith("postgres"):
        sys.exit("DATABASE_URL must point at PostgreSQL for this benchmark.")
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    bench = urlunsplit(parts._replace(path=f"/{BENCH_DB}"))
    return admin, bench


def recreate_database(admin_url, *, drop_only=False):
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop_only:
            connection.execute(f'CREATE DATABASE "{BENCH_DB}"')


def load_data(bench_url, *, ticket_types, orders):
    """Migrate and bulk-load the bench conference (in this process, through Django)."""
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from capacity.counters import (
        drop_seat_triggers,
        install_seat_triggers,
        rebuild_seat_counters,
    )
    from conference.models import Conference
    from registration.models import AddOn, Order, OrderLineItem, TicketType

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    # A bulk load, the usual way: counter triggers off, counters rebuilt once after.
    drop_seat_triggers()
    rng = random.Random(2027)
    now = timezone.now()
    conference = Conference.objects.create(
        name="Bench Conf",
        slug=SLUG,
        start_date=(now + timedelta(days=90)).date(),
        end_date=(now + timedelta(days=92)).date(),
        timezone="Europe/Berlin",
        total_capacity=orders * 3,
    )
    organizer = get_user_model().objects.create_user(USERNAME, password=PASSWORD)
    conference.organizers.add(organizer)
    types = TicketType.objects.bulk_create(
        [
            TicketType(
                conference=conference,
                slug=f"type-{n}",
                name=f"Ticket type {n}",
                price=Decimal("100.00") + n,
                total_quantity=orders // 4,
                position=n,
            )
            for n in range(ticket_types)
        ]
    )
    addons = AddOn.objects.bulk_create(
        [
            AddOn(conference=conference, slug=f"addon-{n}", name=f"Add-on {n}", price=20)
            for n in range(5)
        ]
    )
    statuses = [Order.Status.PAID] * 14 + [
        Order.Status.PENDING,
        Order.Status.EXPIRED,
        Order.Status.CANCELLED,
        Order.Status.REFUNDED,
        Order.Status.PARTIALLY_REFUNDED,
    ]
    order_rows = []
    for n in range(orders):
        status = rng.choice(statuses)
        created = now - timedelta(minutes=rng.randint(0, 14 * 24 * 60))
        order_rows.append(
            Order(
                conference=conference,
                reference=f"BENCH-{n:08d}",
                email=f"buyer{n}@example.com",
                name=f"Buyer {n}",
                status=status,
                created_at=created,
                hold_expires_at=(
                    now + timedelta(minutes=rng.randint(1, 15))
                    if status == Order.Status.PENDING
                    else created + timedelta(minutes=15)
                ),
                paid_at=created if status in Order.COMMITTED_STATUSES else None,
                total=Decimal("100.00"),
            )
        )
    created_orders = Order.objects.bulk_create(order_rows, batch_size=5000)
    lines = []
    for order in created_orders:
        ticket_type = rng.choice(types)
        quantity = rng.choice([1, 1, 1, 2, 3])
        lines.append(
            OrderLineItem(
                order=order,
                kind=OrderLineItem.Kind.TICKET,
                ticket_type=ticket_type,
                description=ticket_type.name,
                quantity=quantity,
                unit_price=ticket_type.price,
                line_total=ticket_type.price * quantity,
            )
        )
        if rng.random() < 0.3:
            addon = rng.choice(addons)
            lines.append(
                OrderLineItem(
                    order=order,
                    kind=OrderLineItem.Kind.ADDON,
                    addon=addon,
                    description=addon.name,
                    quantity=1,
                    unit_price=addon.price,
                    line_total=addon.price,
                )
            )
    OrderLineItem.objects.bulk_create(lines, batch_size=10000)
    rebuild_seat_counters()
    install_seat_triggers()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    connection.close()
    return len(created_orders), len(lines), time.perf_counter() - started


def start_gunicorn(bench_url, workers):
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "CONN_MAX_AGE": "60",
        "DEBUG": "0",
        "LOG_LEVEL": "ERROR",
    }
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "config.wsgi",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during startup")
        try:
            if httpx.get(f"{BASE_URL}/accounts/login/", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop(process)
    raise RuntimeError(f"gunicorn did not answer within {STARTUP_DEADLINE}s")


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def logged_in_cookies():
    with httpx.Client(base_url=BASE_URL, timeout=10) as client:
        client.get("/accounts/login/")
        response = client.post(
            "/accounts/login/",
            data={
                "username": USERNAME,
                "password": PASSWORD,
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
                "next": f"/dashboard/{SLUG}/",
            },
            headers={"Referer": f"{BASE_URL}/accounts/login/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"login failed: {response.status_code}")
        return dict(client.cookies)


def run_case(cookies, *, conditional, clients, seconds):
    """Poll from ``clients`` threads for ``seconds``; return latencies (ms) and status counts."""
    poll_url = f"/dashboard/{SLUG}/poll/?chart=hour"
    latencies, statuses, lock = [], {}, threading.Lock()
    stop_at = time.monotonic() + seconds

    def poller():
        own_latencies, own_statuses, etag = [], {}, None
        with httpx.Client(base_url=BASE_URL, cookies=cookies, timeout=10) as client:
            headers = {"HX-Request": "true"}
            while time.monotonic() < stop_at:
                if conditional and etag:
                    headers["If-None-Match"] = etag
                started = time.perf_counter()
                response = client.get(poll_url, headers=headers)
                own_latencies.append((time.perf_counter() - started) * 1000)
                own_statuses[response.status_code] = own_statuses.get(response.status_code, 0) + 1
                etag = response.headers.get("ETag", etag)
        with lock:
            latencies.extend(own_latencies)
            for status, count in own_statuses.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=poller) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 30)
    elapsed = time.perf_counter() - started
    return latencies, statuses, elapsed


def process_cpu(pid) -> float:
    """CPU seconds (user + system) a process has spent so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(rounds, tag=""):
    """CPU per poll in this process (Django's test client, no HTTP server): the
    dashboard's own thread (``time.thread_time``) and its PostgreSQL backend.

    Three cases, ``rounds`` times each: a poll right after one new order (placed
    from another thread, on its own connection, so its cost is not counted) sending
    the ETag of the poll before; the same poll again (nothing moved: 304); a poll
    without an ETag (every widget drawn).
    """
    from concurrent.futures import ThreadPoolExecutor

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from conference.models import Conference
    from registration import services

    conference = Conference.objects.get(slug=SLUG)
    ticket_type = conference.ticket_types.first()
    client = Client()
    client.force_login(get_user_model().objects.get(username=USERNAME))
    url = f"/dashboard/{SLUG}/poll/?chart=hour"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    def poll(etag):
        headers = {"HX-Request": "true", **({"If-None-Match": etag} if etag else {})}
        app, db = time.thread_time(), process_cpu(backend)
        response = client.get(url, headers=headers)
        spent = (time.thread_time() - app, process_cpu(backend) - db)
        return response, spent

    def place(n):
        services.place_order(
            conference=conference,
            email=f"poll-bench-{tag}{n}@example.com",
            name="Poll Bench",
            tickets={ticket_type: 1},
        )

    costs = {"after one new order": [], "unchanged (304)": [], "everything": []}
    statuses = {name: {} for name in costs}
    etag = poll(None)[0]["ETag"]
    for _ in range(3):  # warm up: templates, plans
        poll(None)
    with ThreadPoolExecutor(1) as other_thread:
        for n in range(rounds):
            other_thread.submit(place, n).result()
            for name, sent in (
                ("after one new order", etag),
                ("unchanged (304)", None),
                ("everything", ""),
            ):
                response, spent = poll(etag if sent is None else sent)
                if name == "after one new order":
                    etag = response["ETag"]
                costs[name].append(spent)
                code = response.status_code
                statuses[name][code] = statuses[name].get(code, 0) + 1
    return costs, statuses


def summary(costs) -> dict:
    """Per case: (Django's median ms, PostgreSQL's mean ms) of the polls measured."""
    return {
        name: (
            statistics.median(1000 * app for app, _ in spent),
            1000 * sum(db for _, db in spent) / len(spent),
        )
        for name, spent in costs.items()
    }


def measure_checkout(tree, bench_url, rounds, tag):
    """``summary`` of the in-process cases, measured by a process running ``tree``'s code."""
    env = {**os.environ, "DATABASE_URL": bench_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    script = str(Path(__file__).resolve())
    command = [sys.executable, script, "--measure", str(tree), "--rounds", str(rounds)]
    command += ["--tag", tag]
    output = subprocess.run(
        command, env=env, cwd=tree, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def compare(bench_url, against, rounds, turns):
    """Both codes measured ``turns`` times each, alternating which goes first."""
    trees = {"against": Path(against).resolve(), "this": ROOT}
    figures = {name: [] for name in trees}
    for turn in range(turns):
        order = list(trees.items()) if turn % 2 == 0 else list(reversed(trees.items()))
        for name, tree in order:
            figures[name].append(measure_checkout(tree, bench_url, rounds, f"{turn}{name}-"))
    print(f"{turns} turns of {rounds} polls per case and code; medians over the turns, ms of CPU")
    print(f"- against: {trees['against']}\n- this: {ROOT}\n")
    header = (
        f"{'case':<22} {'code':<8} {'Django':>7} {'PostgreSQL':>10} {'change (Django)':>15}"
        "  per-turn ratio of Django's: median (quartiles)"
    )
    print(header)
    print("-" * len(header))
    for case in figures["this"][0]:
        before = statistics.median(turn[case][0] for turn in figures["against"])
        for name in trees:
            django_ms = statistics.median(turn[case][0] for turn in figures[name])
            postgres_ms = statistics.median(turn[case][1] for turn in figures[name])
            change = ratios = ""
            if name == "this":
                change = f"{100 * (django_ms / before - 1):+.0f} %"
                ratios = common.ratio_summary(
                    [
                        mine[case][0] / theirs[case][0]
                        for mine, theirs in zip(figures["this"], figures["against"], strict=True)
                    ]
                )
            figures_ms = f"{django_ms:>7.2f} {postgres_ms:>10.2f}"
            print(f"{case:<22} {name:<8} {figures_ms} {change:>15}  {ratios}")
    print()


def print_in_process(rounds, costs, statuses):
    print(f"In-process CPU per poll, {rounds} polls per case (ms; PostgreSQL: the backend's")
    print("CPU over all polls of the case, divided by their number; it counts 10 ms ticks)\n")
    header = f"{'case':<22} {'Django median':>13} {'Django p90':>10} {'PostgreSQL':>10}  statuses"
    print(header)
    print("-" * len(header))
    for name, spent in costs.items():
        django_ms = sorted(1000 * app for app, _ in spent)
        postgres_ms = 1000 * sum(db for _, db in spent) / len(spent)
        codes = ", ".join(f"{code}×{count}" for code, count in sorted(statuses[name].items()))
        print(
            f"{name:<22} {statistics.median(django_ms):>13.2f} "
            f"{django_ms[int(0.9 * (len(django_ms) - 1))]:>10.2f} {postgres_ms:>10.2f}  {codes}"
        )
    print()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--ticket-types", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="per case")
    parser.add_argument("--clients", type=int, default=4, help="concurrent pollers")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--rounds", type=int, default=50, help="in-process polls per case (0: skip)"
    )
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--turns", type=int, default=6, help="measurements of each code")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tag", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        # One turn of --against: this process runs the code of that checkout.
        sys.path[:0] = [str(args.measure)]
        import django

        django.setup()
        print(json.dumps(summary(in_process(args.rounds, args.tag)[0])))
        return

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    admin_url, bench_url = database_urls(base_url)
    recreate_database(admin_url)
    server = None
    try:
        orders, lines, load_seconds = load_data(
            bench_url, ticket_types=args.ticket_types, orders=args.orders
        )
        print(
            f"Loaded {orders:,} orders ({lines:,} lines), {args.ticket_types} ticket types "
            f"in {load_seconds:.1f}s"
        )
        if args.against:
            from django.db import connections

            connections.close_all()
            compare(bench_url, args.against, args.rounds, args.turns)
            return
        if args.rounds:
            print_in_process(args.rounds, *in_process(args.rounds))
        server = start_gunicorn(bench_url, args.workers)
        cookies = logged_in_cookies()
        # Warm up: connections, template loading, PostgreSQL caches.
        run_case(cookies, conditional=False, clients=1, seconds=1)
        print(
            f"gunicorn {args.workers} sync workers on {BASE_URL}; {args.clients} concurrent "
            f"pollers, {args.seconds:g}s per case; {os.cpu_count()} CPUs shared with PostgreSQL\n"
        )
        header = (
            f"{'case':<10} {'polls':>7} {'polls/s':>9} {'median ms':>10} {'p99 ms':>8}  statuses"
        )
        print(header)
        print("-" * len(header))
        for name, conditional in (("changed", False), ("unchanged", True)):
            latencies, statuses, elapsed = run_case(
                cookies, conditional=conditional, clients=args.clients, seconds=args.seconds
            )
            codes = ", ".join(f"{code}×{count}" for code, count in sorted(statuses.items()))
            print(
                f"{name:<10} {len(latencies):>7} {len(latencies) / elapsed:>9.1f} "
                f"{statistics.median(latencies):>10.1f} "
                f"{percentile(latencies, 0.99):>8.1f}  {codes}"
            )
    finally:
        if server is not None:
            stop(server)
        from django.db import connections

        connections.close_all()
        recreate_database(admin_url, drop_only=True)


if __name__ == "__main__":
    main()
