"""Seat check latency at 1k, 10k and 100k orders: the seat counters vs the naive aggregate.

    .venv/bin/python bench/seat_check.py [--sizes 1000,10000,100000] [--repeat 200]
        [--live-holds 50]

Creates ``seatkeeper_bench_seatcheck`` on the local PostgreSQL, grows one
conference to each size (bulk INSERT … SELECT generate_series; by default with
the counter triggers off and the counters rebuilt afterwards, as for a one-off
import — ``--load-with-triggers`` keeps them on), checks that the counters
equal a recount of the lines and that the fast and naive answers agree, then
times on the same data in the same run:

- ``count_seats``: the per-item counts the seat check under the lock reads
  (sold and held counters, plus the holds expiring in the current minute)
  against the naive grouped aggregate over every line;
- ``get_global_sold_count``: the venue count, fast against naive;
- the whole check as ``place_order`` runs it: lock the conference and build the
  availability snapshot (ticket types, add-ons, counts, blocked seats), one
  round trip (``locked_conference(…, with_availability=True)``), then commit.

Prints a Markdown table (median and p99 in milliseconds, and the ratio of the
medians) and drops the database.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

LAPSED_HOLDS = 200  # pending orders past their hold that housekeeping has not expired yet


def timed(function, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def timed_pair(fast, naive, repeat, naive_repeat):
    """Time both, interleaved, so a busy moment on the machine hits both alike."""
    fast_samples, naive_samples = [], []
    for n in range(repeat):
        fast_samples += timed(fast, 1)
        if n * naive_repeat // repeat != (n + 1) * naive_repeat // repeat:
            naive_samples += timed(naive, 1)
    return fast_samples, naive_samples


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=200, help="timings per fast measurement")
    parser.add_argument(
        "--live-holds",
        type=int,
        default=50,
        help="pending orders with an unexpired hold, expiring over the next 15 minutes "
        "(a few dozen in a quiet sale, about a thousand in a launch rush)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--load-with-triggers",
        action="store_true",
        help="bulk-load with the counter triggers on (slow: one trigger call per line)",
    )
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]

    print(f"Machine: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    with common.bench_database("seatcheck", keep=options.keep) as url:
        common.setup_django(url)
        run(sizes, options.repeat, options.load_with_triggers, options.live_holds)


def run(sizes, repeat, load_with_triggers, live_holds):
    from django.db import connection
    from django.utils import timezone

    from capacity.counters import (
        find_counter_drift,
        naive_seat_totals,
        naive_venue_seats_taken,
        seat_totals,
        seat_totals_query,
        venue_seats_taken,
    )
    from capacity.services import get_global_sold_count, locked_conference
    from conference.models import Conference
    from registration.models import AddOn, Order, TicketType

    conference = Conference.objects.create(
        name="Bench Conf",
        slug="bench",
        start_date="2030-01-01",
        end_date="2030-01-02",
        total_capacity=0,
    )
    ticket_types = [
        TicketType.objects.create(conference=conference, name=name, slug=name, price=100)
        for name in ("early", "regular", "student")
    ]
    addon = AddOn.objects.create(conference=conference, name="Dinner", slug="dinner", price=50)
    common.bulk_orders(
        conference,
        ticket_types,
        addon,
        count=live_holds,
        start=10_000_000,
        status_sql="'pending'",
        # One every second or so: the holds of a sale spread over the hold's length.
        hold_sql="now() + interval '1 second' + ((g % 900) || ' seconds')::interval",
    )
    common.bulk_orders(
        conference,
        ticket_types,
        addon,
        count=LAPSED_HOLDS,
        start=20_000_000,
        status_sql="'pending'",
        hold_sql="now() - interval '5 minutes'",
    )

    rows = []
    loaded = 0
    for size in sizes:
        started = time.perf_counter()
        common.bulk_orders(
            conference,
            ticket_types,
            addon,
            count=size - loaded,
            start=loaded,
            triggers=load_with_triggers,
        )
        load_seconds = time.perf_counter() - started
        loaded = size
        orders = Order.objects.filter(conference=conference).count()

        drift = find_counter_drift(conference)
        assert not drift, f"counters drift after the bulk load: {drift}"
        now = timezone.now()
        assert seat_totals(conference, now) == naive_seat_totals(conference, now)
        assert venue_seats_taken(conference, now) == naive_venue_seats_taken(conference, now)
        with connection.cursor() as cursor:
            sql, params = seat_totals_query(conference, now)
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "order_live_hold_idx" in plan, plan
        lines_scanned = "Seq Scan on registration_orderlineitem" in plan

        naive_repeat = max(20, min(repeat, int(2_000_000 / size)))

        def full_check():
            with locked_conference(conference, with_availability=True):
                pass

        pairs = [
            (
                "count_seats",
                lambda: seat_totals(conference, timezone.now()),
                lambda: naive_seat_totals(conference, timezone.now()),
            ),
            (
                "get_global_sold_count",
                lambda: get_global_sold_count(conference),
                lambda: naive_venue_seats_taken(conference, timezone.now()),
            ),
        ]
        for name, fast, naive in pairs:
            fast(), naive()  # warm caches and plans
            fast_samples, naive_samples = timed_pair(fast, naive, repeat, naive_repeat)
            rows.append(
                [
                    f"{size:,}",
                    f"{orders:,}",
                    name,
                    common.ms(common.median(fast_samples)),
                    common.ms(common.percentile(fast_samples, 0.99)),
                    common.ms(common.median(naive_samples)),
                    common.ms(common.percentile(naive_samples, 0.99)),
                    f"{common.median(naive_samples) / common.median(fast_samples):.0f}×",
                ]
            )
        full_check()
        check_samples = timed(full_check, repeat)
        rows.append(
            [
                f"{size:,}",
                f"{orders:,}",
                "lock + snapshot (place_order's check)",
                common.ms(common.median(check_samples)),
                common.ms(common.percentile(check_samples, 0.99)),
                "",
                "",
                "",
            ]
        )
        print(
            f"loaded {size:,} orders in {load_seconds:.1f} s "
            f"(triggers {'on' if load_with_triggers else 'off, counters rebuilt'}); "
            "counters match the lines; "
            f"plan uses order_live_hold_idx; lines seq-scanned: {lines_scanned}",
            flush=True,
        )

    print()
    print(f"Live holds: {live_holds}; lapsed, unexpired pending orders: {LAPSED_HOLDS}.")
    common.print_table(
        [
            "orders",
            "in table",
            "measure",
            "fast median ms",
            "fast p99 ms",
            "naive median ms",
            "naive p99 ms",
            "ratio",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
