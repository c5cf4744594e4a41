"""A sale day over HTTP: a launch rush while attendees and organizers watch the numbers live.

    .venv/bin/python bench/sale_day.py [--seconds 60] [--attendees 1000]
        [--organizers 20] [--buyers 6000] [--capacity 8500] [--concurrency 16]
        [--workers 5] [--threads 2]

Production settings on loopback: gunicorn with config/gunicorn.py on
127.0.0.1:8204, PostgreSQL (its own database, ``seatkeeper_bench_saleday``),
Redis as the cache (``BENCH_SALE_DAY_REDIS_URL``, default database 9 of the
local Redis, emptied before and after the run). The conference and the buyers
are those of ``bench/launch_rush.py``; its low-stock threshold is the venue's
capacity, so every banner names the seats left ("Only N seats left"), which is
what the watchers read.

Before the clock starts, every buyer opens the ticket page (CSRF cookie and
token) and every organizer logs in and opens the dashboard. Then, for
``--seconds`` (everything stops by itself at the end):

* the buyers POST their orders, ``--concurrency`` in flight, as in the rush;
* ``--attendees`` attendees poll, half of them the ticket page's live banner
  (``/<slug>/live/``, with the version the last answer named), half the
  embeddable banner (``/<slug>/embed/banner/``), each coming back after the
  interval the last answer gave (``every Ns`` of the poll element), starting at
  random moments of the first interval;
* ``--organizers`` logged-in organizers poll the dashboard
  (``/dashboard/<slug>/poll/``) with the ETag of their last answer, at the
  interval it gave.

**Freshness.** Each buyer's 302 is a commit, observed at the moment its
response arrived; together they give the seats taken over time. Every poll
answer shows a number of seats left (an unchanged answer shows what the
screen already showed). The state it shows stopped being true at the first
observed commit that took more seats than it counts; its staleness is how
long before the next answer replaced it (or the run ended) that was: the age
of the number on the screen at its worst. Staleness at the moment each answer
arrived is printed too. An answer that shows more seats taken than the buyers
had seen by then (the buyers see their commit a response later) is fresh.

Prints the figures as a Markdown table, then, last, exactly:
``freshness: attendee_p99_s=<float> organizer_p99_s=<float> orders_per_s=<int>
oversold=<int> errors=<int>``.
"""

import argparse
import asyncio
import bisect
import collections
import html
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
import launch_rush  # noqa: E402
import rawhttp  # noqa: E402

SLUG = launch_rush.SLUG
REDIS_URL = os.environ.get("BENCH_SALE_DAY_REDIS_URL", "redis://127.0.0.1:6379/9")
ORGANIZER_PASSWORD = "bench-organizer-password-1"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# What a banner says about the venue.
SEATS_LEFT = re.compile(r"Only (\d+) seats? left|(is sold out)")
VENUE_REMAINING = re.compile(r'id="venue-remaining"\s+data-value="(\d*)"')
EVERY = re.compile(r"every (\d+(?:\.\d+)?)s")


def element(text, element_id):
    """The opening tag of the element with ``element_id`` in ``text``, or ""."""
    match = re.search(rf'<[a-z]+ id="{re.escape(element_id)}"[^>]*>', text)
    return match.group(0) if match else ""


def poll_interval(tag, default):
    """The seconds of the ``every Ns`` trigger in a poll element's tag, or ``default``."""
    match = EVERY.search(tag)
    return float(match.group(1)) if match else default


def attribute(tag, name):
    match = re.search(rf'{name}="([^"]*)"', tag)
    return html.unescape(match.group(1)) if match else None


async def pause(seconds, deadline):
    """Sleep ``seconds``, but never past ``deadline``."""
    await asyncio.sleep(max(0.0, min(seconds, deadline - time.monotonic())))


class Watchers:
    """What every poller showed, when, and everything that went wrong."""

    def __init__(self):
        self.shown = {"attendee": [], "organizer": []}  # lists of [(time, seats taken), …]
        self.polls = collections.Counter()
        self.errors = collections.Counter()

    def error(self, what):
        self.errors[what] += 1


async def attendee(client, kind, capacity, deadline, watchers, default_interval):
    """One attendee's open page: poll, show what the answer says, come back when told."""
    path = f"/{SLUG}/live/" if kind == "ticket page" else f"/{SLUG}/embed/banner/"
    poller_id = "live-poller" if kind == "ticket page" else "seatkeeper-banner"
    interval = default_interval
    history, taken = [], None
    await asyncio.sleep(random.uniform(0, default_interval))
    while time.monotonic() < deadline:
        try:
            response = await client.get(path, headers={"HX-Request": "true"})
        except rawhttp.HTTPError as error:
            watchers.error(f"{kind}: {type(error).__name__}")
            await pause(interval, deadline)
            continue
        arrived = time.monotonic()
        watchers.polls[f"{kind} {response.status_code}"] += 1
        if response.status_code == 200:
            text = response.text
            tag = element(text, poller_id)
            interval = poll_interval(tag, interval)
            if kind == "ticket page":
                path = attribute(tag, "hx-get") or path
                has_banner = 'id="venue-banner"' in text
            else:
                has_banner = bool(tag)
            if has_banner:
                match = SEATS_LEFT.search(text)
                if match is None:
                    watchers.error(f"{kind}: no seats-left banner")
                else:
                    taken = capacity - (0 if match.group(2) else int(match.group(1)))
        elif response.status_code != 204:
            watchers.error(f"{kind}: {response.status_code}")
        if taken is not None:
            history.append((arrived, taken))
        await pause(interval, deadline)
    watchers.shown["attendee"].append(history)


async def log_in(client, username):
    """An organizer's cookies after logging in, and the dashboard's poll state."""
    page = await client.get(f"/accounts/login/?next=/dashboard/{SLUG}/")
    csrf = page.cookie("csrftoken")
    response = await client.post(
        "/accounts/login/",
        data={
            "username": username,
            "password": ORGANIZER_PASSWORD,
            "csrfmiddlewaretoken": TOKEN.search(page.text).group(1),
            "next": f"/dashboard/{SLUG}/",
        },
        headers={"Cookie": f"csrftoken={csrf}", "Referer": f"{client.base}/accounts/login/"},
    )
    if response.status_code != 302:
        raise RuntimeError(f"log in as {username}: {response.status_code}")
    cookie = f"csrftoken={csrf}; sessionid={response.cookie('sessionid')}"
    dashboard = await client.get(f"/dashboard/{SLUG}/", headers={"Cookie": cookie})
    if dashboard.status_code != 200:
        raise RuntimeError(f"dashboard for {username}: {dashboard.status_code}")
    tag = element(dashboard.text, "dashboard-poller")
    return {
        "cookie": cookie,
        "path": attribute(tag, "hx-get"),
        "etag": attribute(tag, "data-etag"),
        "interval": poll_interval(tag, 5.0),
    }


def dashboard_taken(text, capacity, taken):
    """Seats taken by the venue gauge in a poll answer; ``taken`` when it has none."""
    match = VENUE_REMAINING.search(text)
    return capacity - int(match.group(1)) if match and match.group(1) else taken


async def organizer(client, state, capacity, deadline, watchers):
    """One organizer's open dashboard: poll with the last ETag, come back when told."""
    interval, etag, path = state["interval"], state["etag"], state["path"]
    # The dashboard was opened before the sale: nothing taken.
    history, taken = [], 0
    await asyncio.sleep(random.uniform(0, interval))
    while time.monotonic() < deadline:
        headers = {"Cookie": state["cookie"], "HX-Request": "true"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            response = await client.get(path, headers=headers)
        except rawhttp.HTTPError as error:
            watchers.error(f"dashboard: {type(error).__name__}")
            await pause(interval, deadline)
            continue
        arrived = time.monotonic()
        watchers.polls[f"dashboard {response.status_code}"] += 1
        if response.status_code == 200:
            etag = response.header("etag") or etag
            text = response.text
            interval = poll_interval(element(text, "dashboard-poller"), interval)
            taken = dashboard_taken(text, capacity, taken)
        elif response.status_code == 304:
            etag = response.header("etag") or etag
        else:
            watchers.error(f"dashboard: {response.status_code}")
        history.append((arrived, taken))
        await pause(interval, deadline)
    watchers.shown["organizer"].append(history)


async def buy(client, buyers, deadline, concurrency, commits, outcomes, latencies):
    """The rush: ``concurrency`` buyers in flight until all have tried or time is up."""
    queue = collections.deque(buyers)

    async def worker():
        while queue and time.monotonic() < deadline:
            buyer = queue.popleft()
            outcome = await launch_rush.place(client, buyer, outcomes, latencies)
            if outcome == launch_rush.PLACED:
                commits.append((time.monotonic(), buyer["quantity"]))

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started, len(queue)


async def sale_day(base, database, options, buyers, usernames, capacity):
    watchers = Watchers()
    commits, outcomes, latencies = [], collections.Counter(), {"all": [], "placed": []}
    async with (
        rawhttp.Client(base) as buyer_client,
        rawhttp.Client(base) as attendee_client,
        rawhttp.Client(base) as organizer_client,
    ):
        await launch_rush.gather_limited(
            [launch_rush.open_page(buyer_client, buyer) for buyer in buyers], options.concurrency
        )
        states = [await log_in(organizer_client, username) for username in usernames]
        random.shuffle(buyers)
        server_cpu = common.ServerCPU(urlsplit(base).port, database)
        server_cpu.start()
        own_cpu = time.process_time()
        started = time.monotonic()
        deadline = started + options.seconds
        kinds = ["ticket page", "embed banner"]
        tasks = [
            attendee(
                attendee_client,
                kinds[n % 2],
                capacity,
                deadline,
                watchers,
                options.attendee_interval,
            )
            for n in range(options.attendees)
        ]
        tasks += [
            organizer(organizer_client, state, capacity, deadline, watchers) for state in states
        ]
        rush = buy(
            buyer_client, buyers, deadline, options.concurrency, commits, outcomes, latencies
        )
        results = await asyncio.wait_for(asyncio.gather(rush, *tasks), options.seconds + 60)
        ended = time.monotonic()
        cpu = {**server_cpu.stop(), "load generator": time.process_time() - own_cpu}
    rush_seconds, untried = results[0]
    return {
        "watchers": watchers,
        "commits": commits,
        "outcomes": outcomes,
        "latencies": latencies,
        "rush_seconds": rush_seconds,
        "untried": untried,
        "ended": ended,
        "seconds": ended - started,
        "cpu": cpu,
    }


def staleness(commits, ended):
    """(ages when replaced, ages on arrival) of every poll answer, per kind of watcher."""
    commits = sorted(commits)
    times = [moment for moment, _ in commits]
    taken_after, total = [], 0
    for _, seats in commits:
        total += seats
        taken_after.append(total)

    def stale_since(taken):
        """When a state showing ``taken`` seats stopped being true (None: still true)."""
        index = bisect.bisect_right(taken_after, taken)
        return times[index] if index < len(times) else None

    def age(taken, moment):
        since = stale_since(taken)
        return 0.0 if since is None or since >= moment else moment - since

    return lambda histories: (
        [
            age(taken, replaced)
            for history in histories
            for (_, taken), replaced in zip(
                history, [moment for moment, _ in history[1:]] + [ended], strict=True
            )
        ],
        [age(taken, arrived) for history in histories for arrived, taken in history],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--attendees", type=int, default=1000)
    parser.add_argument("--organizers", type=int, default=20)
    parser.add_argument("--buyers", type=int, default=6000)
    parser.add_argument("--capacity", type=int, default=8500)
    parser.add_argument("--concurrency", type=int, default=16, help="order POSTs in flight")
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument(
        "--attendee-interval",
        type=float,
        default=5.0,
        help="seconds before an attendee's first poll is due (later ones: as the server says)",
    )
    parser.add_argument("--port", type=int, default=8204)
    parser.add_argument("--seed", type=int, default=14)
    options = parser.parse_args()
    random.seed(options.seed)

    print(f"Machine: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    import redis

    cache = redis.Redis.from_url(REDIS_URL)
    cache.flushdb()
    try:
        with common.bench_database("saleday") as url:
            env = common.production_env(url, REDIS_URL=REDIS_URL)
            common.manage("collectstatic", "--noinput", "-v", "0", env=env)
            common.setup_django(url, REDIS_URL=REDIS_URL)
            conference, ticket_types = launch_rush.make_conference(options.capacity)
            usernames = make_organizers(conference, options.organizers)
            buyers = launch_rush.make_buyers(options.buyers)
            from django.db import connections

            connections.close_all()
            log_path = Path("/tmp") / f"seatkeeper-bench-saleday-{os.getpid()}.log"
            with common.gunicorn(
                env,
                port=options.port,
                workers=options.workers,
                threads=options.threads,
                worker_class="gthread" if options.threads > 1 else "sync",
                log_path=log_path,
            ) as base:
                database = urlsplit(url).path.lstrip("/")
                result = asyncio.run(
                    sale_day(base, database, options, buyers, usernames, options.capacity)
                )
            report(options, conference, result)
            connections.close_all()
    finally:
        cache.flushdb()
        cache.close()


def make_organizers(conference, count):
    from django.contrib.auth import get_user_model

    from conference.models import Conference

    # Every banner names the seats left, so a watcher always reads a number.
    Conference.objects.filter(pk=conference.pk).update(
        low_stock_threshold=conference.total_capacity
    )
    users = get_user_model()
    usernames = [f"organizer-{n}" for n in range(count)]
    for username in usernames:
        conference.organizers.add(users.objects.create_user(username, password=ORGANIZER_PASSWORD))
    return usernames


def report(options, conference, result):
    from capacity.services import get_availability
    from registration.models import Order

    availability = get_availability(conference)
    outcomes, watchers = result["outcomes"], result["watchers"]
    placed = outcomes[launch_rush.PLACED]
    orders_in_db = Order.objects.filter(conference=conference).count()
    oversold = max(0, availability.taken - options.capacity) + sum(
        max(0, item.taken - item.capacity) for item in availability.ticket_types
    )
    buyer_errors = sum(n for key, n in outcomes.items() if not key.startswith(("order", "refused")))
    errors = buyer_errors + sum(watchers.errors.values())
    if orders_in_db != placed:
        errors += abs(orders_in_db - placed)
    ages = staleness(result["commits"], result["ended"])
    attendee_replaced, attendee_arrival = ages(watchers.shown["attendee"])
    organizer_replaced, organizer_arrival = ages(watchers.shown["organizer"])
    orders_per_s = placed / result["rush_seconds"] if result["rush_seconds"] else 0.0
    polls = sum(watchers.polls.values())
    cpu = result["cpu"]
    requests = polls + len(result["latencies"]["all"])

    print()
    print(
        f"{options.seconds:g} s; {options.buyers} buyers ({options.concurrency} in flight), "
        f"{options.attendees} attendees, {options.organizers} organizers; "
        f"{options.capacity} seats; gunicorn {options.workers} workers × {options.threads} "
        f"threads on 127.0.0.1:{options.port}, Redis cache"
    )
    p99 = common.percentile
    common.print_table(
        ["figure", "value"],
        [
            ["run (s)", f"{result['seconds']:.1f}"],
            [
                "rush (s), buyers not served in time",
                f"{result['rush_seconds']:.1f}, {result['untried']}",
            ],
            ["orders placed (302) / in the database", f"{placed} / {orders_in_db}"],
            ["orders per second", f"{orders_per_s:.0f}"],
            [
                "order POSTs per second",
                f"{len(result['latencies']['all']) / result['rush_seconds']:.0f}",
            ],
            ["p99 latency, order POSTs (ms)", common.ms(p99(result["latencies"]["all"], 0.99))],
            ["seats taken / venue capacity", f"{availability.taken} / {options.capacity}"],
            ["oversold seats", oversold],
            *[[f"polls: {kind}", n] for kind, n in sorted(watchers.polls.items())],
            ["polls per second", f"{polls / result['seconds']:.0f}"],
            [
                "attendee staleness when replaced p50 / p99 (s)",
                f"{p99(attendee_replaced, 0.5):.2f} / {p99(attendee_replaced, 0.99):.2f}",
            ],
            [
                "attendee staleness on arrival p50 / p99 (s)",
                f"{p99(attendee_arrival, 0.5):.2f} / {p99(attendee_arrival, 0.99):.2f}",
            ],
            [
                "organizer staleness when replaced p50 / p99 (s)",
                f"{p99(organizer_replaced, 0.5):.2f} / {p99(organizer_replaced, 0.99):.2f}",
            ],
            [
                "organizer staleness on arrival p50 / p99 (s)",
                f"{p99(organizer_arrival, 0.5):.2f} / {p99(organizer_arrival, 0.99):.2f}",
            ],
            *[[f"CPU, {name} (s)", f"{spent:.1f}"] for name, spent in cpu.items()],
            ["CPU per request, gunicorn (ms)", f"{1000 * cpu['gunicorn'] / max(1, requests):.2f}"],
            *[
                [f"error: {what}", n]
                for what, n in sorted({**outcomes, **watchers.errors}.items())
                if what in watchers.errors or not what.startswith(("order", "refused"))
            ],
            ["errors", errors],
        ],
    )
    print(
        f"freshness: attendee_p99_s={p99(attendee_replaced, 0.99):.2f} "
        f"organizer_p99_s={p99(organizer_replaced, 0.99):.2f} "
        f"orders_per_s={round(orders_per_s)} oversold={oversold} errors={errors}"
    )


if __name__ == "__main__":
    main()
