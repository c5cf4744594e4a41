"""Shared pieces of the benchmarks: a throw-away PostgreSQL database, gunicorn, bulk data, tables.

Every benchmark runs on loopback only, creates its own database
(``seatkeeper_bench_<name>``) on the local PostgreSQL and drops it at the end.
Run from the project root with the project's interpreter, e.g.
``.venv/bin/python bench/seat_check.py``.

Also a tiny CLI for ``make serve``:
``python bench/common.py create-database postgres://postgres@127.0.0.1:5432/seatkeeper``.
"""

import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
# The server PostgreSQL runs on; benchmarks only ever use loopback.
PG_SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --- databases --------------------------------------------------------------------


def database_url(name, server_url=PG_SERVER_URL):
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _check_name(name):
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise ValueError(f"Not a safe database name: {name!r}")
    return name


def _maintenance_url(url):
    return urlunsplit(urlsplit(url)._replace(path="/postgres"))


def create_database(url, *, fresh=False):
    """Create the database of ``url`` unless it exists (``fresh``: drop it first)."""
    name = _check_name(urlsplit(url).path.lstrip("/"))
    with psycopg.connect(_maintenance_url(url), autocommit=True) as admin:
        if fresh:
            _drop(admin, name)
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    return url


def _drop(admin, name):
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        [name],
    )
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def drop_database(url):
    name = _check_name(urlsplit(url).path.lstrip("/"))
    with psycopg.connect(_maintenance_url(url), autocommit=True) as admin:
        _drop(admin, name)


@contextmanager
def bench_database(bench_name, *, keep=False):
    """A fresh, migrated ``seatkeeper_bench_<name>`` database for the duration of a run."""
    url = database_url(f"seatkeeper_bench_{bench_name}")
    create_database(url, fresh=True)
    try:
        manage("migrate", "--noinput", "-v", "0", env={"DATABASE_URL": url})
        yield url
    finally:
        if not keep:
            drop_database(url)


def production_env(url, **extra):
    """Environment for the app in production mode on loopback against ``url``."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SEATKEEPER_PRODUCTION": "1",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": url,
        "CONN_MAX_AGE": "60",
        "LOG_LEVEL": "ERROR",
        # Every simulated buyer comes from the loopback address: the limit is
        # still counted on each order POST, but never reached.
        "SEATKEEPER_ORDER_RATE": "100000000/m",
    }
    env.update({key: str(value) for key, value in extra.items()})
    return env


def manage(*args, env=None):
    """Run ``manage.py`` in a subprocess; raise with its output if it fails."""
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def setup_django(url, **env):
    """Configure Django in this process against ``url`` (call once, before any model import)."""
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": url})
    os.environ.update({key: str(value) for key, value in env.items()})
    import django

    django.setup()


# --- gunicorn ---------------------------------------------------------------------


@contextmanager
def gunicorn(env, *, port=8201, workers=5, threads=1, worker_class="", log_path=None):
    """Run gunicorn with config/gunicorn.py on 127.0.0.1:``port`` until the block ends."""
    import httpx

    environment = {
        **os.environ,
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_WORKER_CLASS": worker_class,
        "GUNICORN_LOG_LEVEL": "warning",
    }
    log = open(log_path or os.devnull, "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [GUNICORN, "-c", "config/gunicorn.py", "config.wsgi"],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}; see {log_path}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 30 s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _cpu_seconds_by_pid(predicate) -> dict:
    """{pid: CPU seconds (user + system) so far} of the processes whose /proc entry matches."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not predicate(pid):
                continue
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


class ServerCPU:
    """CPU seconds spent by gunicorn on ``port`` and by PostgreSQL serving ``database``
    between ``start()`` and ``stop()``.

    gunicorn's processes are found by the ``GUNICORN_BIND`` in their environment;
    PostgreSQL's by their process title (``postgres: [cluster:] user database host …``),
    so neither other work on the machine nor PostgreSQL's background processes
    count. Processes come and go (a connection older than ``CONN_MAX_AGE`` is
    replaced), so a thread samples them twice a second and each process counts
    from its first sample to its last.
    """

    def __init__(self, port, database):
        gunicorn_bind = f"GUNICORN_BIND=127.0.0.1:{port}".encode()
        backend = f" {database} ".encode()

        def is_gunicorn(pid):
            with open(f"/proc/{pid}/environ", "rb") as environ:
                return gunicorn_bind in environ.read().split(b"\0")

        def is_backend(pid):
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                title = cmdline.read()
            return title.startswith(b"postgres: ") and backend in title

        self.groups = {"gunicorn": is_gunicorn, "postgresql": is_backend}
        self.first, self.last = {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        for name, predicate in self.groups.items():
            for pid, seconds in _cpu_seconds_by_pid(predicate).items():
                self.first.setdefault((name, pid), seconds)
                self.last[(name, pid)] = seconds

    def _run(self):
        while not self._stop.wait(0.5):
            self._sample()

    def start(self):
        self._sample()
        self._thread.start()

    def stop(self) -> dict:
        """{"gunicorn": seconds, "postgresql": seconds} since ``start()``."""
        self._stop.set()
        self._thread.join()
        self._sample()
        spent = dict.fromkeys(self.groups, 0.0)
        for (name, pid), seconds in self.last.items():
            spent[name] += seconds - self.first[(name, pid)]
        return spent


# --- bulk data (in a process where setup_django ran) ---------------------------------

# Of every 100 bulk orders: what they became. Pending orders are added apart, so
# that the number of live holds stays what a real sale has (a few dozen), not a
# share of everything ever sold.
STATUS_MIX_SQL = """CASE
    WHEN g % 100 < 90 THEN 'paid'
    WHEN g % 100 < 94 THEN 'partially_refunded'
    WHEN g % 100 < 97 THEN 'cancelled'
    WHEN g % 100 < 99 THEN 'refunded'
    ELSE 'expired' END"""


def _copy_rows_sql(table, template_id, overrides, source, where="TRUE"):
    """INSERT copying every column of a template row, except ``overrides`` (SQL expressions).

    Copying the template keeps the loader right when models gain columns.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        columns = [
            column.name
            for column in connection.introspection.get_table_description(cursor, table)
            if column.name != "id"
        ]
    select = ", ".join(overrides.get(column, f"t.{column}") for column in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select}"
        f" FROM {table} t, {source} WHERE t.id = {int(template_id)} AND ({where})"
    )


def bulk_orders(
    conference,
    ticket_types,
    addon,
    *,
    count,
    start=0,
    status_sql=STATUS_MIX_SQL,
    hold_sql="now() - interval '1 day'",
    batch=20_000,
    triggers=True,
):
    """Add ``count`` orders (numbered from ``start``) with their lines.

    Each order has one ticket line (type ``g % len(ticket_types)``, 1 to 3 seats);
    every fifth also one add-on. Statuses follow ``status_sql`` (an SQL expression
    of the order number ``g``). With ``triggers=False`` the counter triggers are
    switched off during the load and the counters rebuilt from the lines after it
    (what an operator would do for a one-off import: ``check_seats --fix``).
    """
    from django.db import connection, transaction

    from registration.models import Order, OrderLineItem

    template = Order.objects.create(
        conference=conference,
        email="bulk@example.com",
        name="Bulk",
        status="cancelled",
        reference=f"TEMPLATE-{start}-{secrets.token_hex(4)}",
    )
    template_line = OrderLineItem.objects.create(
        order=template,
        ticket_type=ticket_types[0],
        quantity=1,
        unit_price=10,
        line_total=10,
        description="bulk",
    )
    type_ids = "ARRAY[" + ", ".join(str(t.pk) for t in ticket_types) + "]::bigint[]"
    for low in range(start, start + count, batch):
        high = min(start + count, low + batch) - 1
        with transaction.atomic(), connection.cursor() as cursor:
            if not triggers:
                # Triggers (and foreign-key checks) off for this transaction only.
                cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM registration_order")
            before = cursor.fetchone()[0]
            cursor.execute(
                _copy_rows_sql(
                    "registration_order",
                    template.pk,
                    {
                        "reference": "'BULK-' || lpad(g::text, 10, '0')",
                        "secret": "md5(g::text)",
                        "status": status_sql,
                        "hold_expires_at": hold_sql,
                        "created_at": "now() - (g || ' seconds')::interval",
                        "paid_at": "now() - (g || ' seconds')::interval",
                    },
                    f"generate_series({low}, {high}) AS g",
                )
            )
            number = "(substr(o.reference, 6)::bigint)"
            cursor.execute(
                _copy_rows_sql(
                    "registration_orderlineitem",
                    template_line.pk,
                    {
                        "order_id": "o.id",
                        "ticket_type_id": f"({type_ids})[1 + {number} % {len(ticket_types)}]",
                        "quantity": f"1 + {number} % 3",
                    },
                    "registration_order o",
                    f"o.id > {before}",
                )
            )
            if addon is not None:
                cursor.execute(
                    _copy_rows_sql(
                        "registration_orderlineitem",
                        template_line.pk,
                        {
                            "order_id": "o.id",
                            "kind": "'addon'",
                            "ticket_type_id": "NULL",
                            "addon_id": str(addon.pk),
                        },
                        "registration_order o",
                        f"o.id > {before} AND {number} % 5 = 0",
                    )
                )
    template.delete()
    if not triggers:
        from capacity.counters import rebuild_seat_counters

        rebuild_seat_counters()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --- figures ----------------------------------------------------------------------


def percentile(values, fraction):
    """Nearest-rank percentile of ``values`` (``fraction`` in 0..1)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values):
    return statistics.median(values) if values else float("nan")


def ratio_summary(ratios) -> str:
    """``median (first quartile–third quartile)`` of the ratios of two codes' figures,
    measured turn about (one ratio per turn)."""
    low, middle, high = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else list(ratios) * 3
    return f"{middle:.3f} ({low:.3f}–{high:.3f})"


def print_table(headers, rows):
    """A Markdown table, so a run pastes straight into docs/performance.md."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in cells:
        print("| " + " | ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) + " |")


def machine():
    """One line describing where the figures come from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{memory_kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        memory = "RAM unknown"
    with psycopg.connect(PG_SERVER_URL) as connection:
        server = connection.execute("SHOW server_version").fetchone()[0]
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}; PostgreSQL {server} on loopback; "
        f"Python {platform.python_version()}"
    )


def ms(seconds):
    return f"{seconds * 1000:.2f}"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "create-database":
        create_database(sys.argv[2])
    else:
        sys.exit("usage: python bench/common.py create-database postgres://…/name")
