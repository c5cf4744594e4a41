"""CPU per request of the order path, in-process: Django's and its PostgreSQL backend's.

    .venv/bin/python bench/order_cpu.py [--rounds 8] [--requests 150]
        [--against /path/to/another/checkout] [--redis redis://127.0.0.1:6379]

The launch rush (bench/launch_rush.py) measures what a buyer sees, but on a
shared two-core machine its figures move with the machine. This measures the
cost of the code itself, with no HTTP server and no concurrency: a worker
process creates ``seatkeeper_bench_ordercpu_<n>`` on the local PostgreSQL, a
conference like the rush's with room for every order, loads the WSGI
application with production settings and calls it directly, timing the CPU
that the process and its PostgreSQL backend (``/proc/<pid>/stat``) spend per
request:

- **placed**: an order POST that places an order (302);
- **refused**: an order POST asking for more than one order may hold (400,
  the ticket page drawn again with the reason);
- **page**: the ticket page (GET);
- **live**: the ticket page's live poll right after an order (placed first and
  not counted), which moved the conference's version: the banner, badges and
  inputs drawn again;
- **banner**: the same for the embeddable banner's poll.

``--against`` runs a second worker on another checkout of Seatkeeper (say a
``git worktree`` of an older commit) and alternates the two, round by round
and kind by kind, so that the machine's drift hits both alike; it prints the
medians, the change, and the median and quartiles of the ratio of the two
codes' CPU round by round. Both workers use this script and the other
checkout's own code and settings.

``--redis`` puts the cache in Redis, as production does (the rate limit's
counts, sessions, cached pages); without it the workers cache in local memory.
"""

import argparse
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

HERE = Path(__file__).resolve()
KINDS = ("placed", "refused", "page", "live", "banner")
# Kinds timed right after an order placed (and not counted) before each request.
AFTER_AN_ORDER = ("live", "banner")
TICKS = os.sysconf("SC_CLK_TCK")
HTMX = {"HTTP_HX_REQUEST": "true"}


def process_cpu(pid) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def worker(tree, name):
    """Serve ``<kind> <n>`` lines on stdin with ``{"app": ms, "db": ms}`` per request."""
    sys.path[:0] = [str(Path(tree) / "bench"), str(tree)]
    os.chdir(tree)
    import common  # the checkout's own bench helpers

    with common.bench_database(name) as url:
        # One backend for the whole run: its CPU is read from /proc/<pid>/stat
        # around each sample, and a connection replaced once CONN_MAX_AGE has
        # passed would end in the middle of one.
        env = common.production_env(url, LOG_LEVEL="ERROR", CONN_MAX_AGE=86400)
        if os.environ.get("ORDER_CPU_REDIS_URL"):
            # Production's cache: the rate limit, sessions and cached pages in Redis.
            env["REDIS_URL"] = os.environ["ORDER_CPU_REDIS_URL"]
            import redis

            redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        os.environ.update(env)
        common.manage("collectstatic", "--noinput", "-v", "0", env=env)
        import logging

        import django

        django.setup()
        logging.disable(logging.WARNING)  # alike for both checkouts: no line per request
        import launch_rush
        from django.core.wsgi import get_wsgi_application
        from django.db import connection

        launch_rush.make_conference(10**7)
        application = get_wsgi_application()

        def call(method, path, body=b"", cookie="", address="127.0.0.1", headers=()):
            answer = {}

            def start_response(status, headers, exc_info=None):
                answer.update(status=status, headers=headers)

            environ = {
                "REQUEST_METHOD": method,
                "PATH_INFO": path,
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "8201",
                "HTTP_HOST": "127.0.0.1:8201",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": address,
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "CONTENT_LENGTH": str(len(body)),
                "CONTENT_TYPE": "application/x-www-form-urlencoded",
                "HTTP_COOKIE": cookie,
                "HTTP_REFERER": f"http://127.0.0.1:8201/{launch_rush.SLUG}/",
                **dict(headers),
            }
            content = b"".join(application(environ, start_response))
            return answer["status"], answer["headers"], content

        page = f"/{launch_rush.SLUG}/"
        _, headers, content = call("GET", page)
        cookie = next(
            value.strip().split(";")[0]
            for key, value in headers
            if key == "Set-Cookie" and value.strip().startswith("csrftoken=")
        )
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', content).group(1)
        sequence = iter(range(10**9))

        def order(quantity):
            n = next(sequence)
            form = {
                "ticket-regular": quantity,
                "name": f"Buyer {n}",
                "email": f"buyer{n}@example.com",
                "csrfmiddlewaretoken": token.decode(),
            }
            # Each buyer from an address of their own, as in a real rush: the
            # per-address limit counts their first order POST.
            address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
            return call("POST", page, urlencode(form).encode(), cookie, address)

        requests = {
            "placed": lambda: order("1"),
            "refused": lambda: order("50"),  # more than max_per_order
            "page": lambda: call("GET", page),
            "live": lambda: call("GET", f"{page}live/", headers=HTMX),
            "banner": lambda: call("GET", f"{page}embed/banner/", headers=HTMX),
        }
        expected = dict.fromkeys(requests, "200") | {"placed": "302", "refused": "400"}
        for kind, request in requests.items():
            for _ in range(30):  # warm up
                status = request()[0]
                assert status.startswith(expected[kind]), (kind, status)
        print("ready", flush=True)
        for line in sys.stdin:
            kind, count = line.split()
            request = requests[kind]
            request()
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend = cursor.fetchone()[0]
            if kind in AFTER_AN_ORDER:
                app = db = 0.0
                for _ in range(int(count)):
                    order("1")
                    started = time.process_time(), process_cpu(backend)
                    request()
                    app += time.process_time() - started[0]
                    db += process_cpu(backend) - started[1]
            else:
                app, db = time.process_time(), process_cpu(backend)
                for _ in range(int(count)):
                    request()
                app, db = time.process_time() - app, process_cpu(backend) - db
            print(json.dumps({"app": 1000 * app / int(count), "db": 1000 * db / int(count)}))
            sys.stdout.flush()
        connection.close()


def redis_database(url, number) -> str:
    """``url`` (any database or query it names aside) naming database ``number``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{number}", query=""))


def start(tree, name, redis_url=None):
    environment = dict(os.environ)
    if redis_url:
        environment["ORDER_CPU_REDIS_URL"] = redis_url
    process = subprocess.Popen(
        [sys.executable, str(HERE), "--worker", str(tree), name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=environment,
    )
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker on {tree} did not start")
    return process


def measure(process, kind, count):
    process.stdin.write(f"{kind} {count}\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests", type=int, default=150, help="per kind and round")
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="Redis as the cache, as in production (each worker flushes and uses"
        " database 10 + its number), e.g. redis://127.0.0.1:6379",
    )
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.worker:
        return worker(*options.worker)

    sys.path.insert(0, str(HERE.parent))
    import common

    print(f"Machine: {common.machine()}; load average {os.getloadavg()[0]:.2f}")
    trees = {"this": HERE.parent.parent}
    if options.against:
        trees = {"against": options.against.resolve(), **trees}
    workers = {
        label: start(tree, f"ordercpu_{n}", options.redis and redis_database(options.redis, 10 + n))
        for n, (label, tree) in enumerate(trees.items())
    }
    samples = {(label, kind): [] for label in trees for kind in KINDS}
    try:
        for n in range(options.rounds):
            order = list(workers) if n % 2 == 0 else list(reversed(workers))
            for kind in KINDS:
                for label in order:
                    samples[label, kind].append(measure(workers[label], kind, options.requests))
    finally:
        for process in workers.values():
            process.stdin.close()
            process.wait()

    def median(label, kind, part):
        return statistics.median(sample[part] for sample in samples[label, kind])

    def round_ratios(kind):
        """This code's CPU over the other's, round by round (the two ran side by side)."""
        ratios = [
            (mine["app"] + mine["db"]) / (theirs["app"] + theirs["db"])
            for mine, theirs in zip(samples["this", kind], samples["against", kind], strict=True)
        ]
        return common.ratio_summary(ratios)

    print(f"\n{options.rounds} rounds of {options.requests} requests per kind; medians, ms of CPU")
    for label, tree in trees.items():
        print(f"- {label}: {tree}")
    rows = []
    for kind in KINDS:
        for label in trees:
            app, db = median(label, kind, "app"), median(label, kind, "db")
            row = [kind, label, f"{app:.2f}", f"{db:.2f}", f"{app + db:.2f}"]
            if label == "this" and "against" in trees:
                before = median("against", kind, "app") + median("against", kind, "db")
                row.append(f"{100 * ((app + db) / before - 1):+.0f} %")
                row.append(round_ratios(kind))
            elif "against" in trees:
                row += ["", ""]
            rows.append(row)
    headers = ["request", "code", "Django", "PostgreSQL", "both"]
    if "against" in trees:
        headers += ["change", "per-round ratio: median (quartiles)"]
    common.print_table(headers, rows)


if __name__ == "__main__":
    main()
