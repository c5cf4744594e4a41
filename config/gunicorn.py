"""gunicorn settings for Seatkeeper: ``gunicorn -c config/gunicorn.py config.wsgi``.

Every value can be overridden from the environment, so one file serves a
laptop (``make serve``) and each app server behind the load balancer.

Workers are processes (one Python interpreter each, so they use every core);
threads inside a worker overlap the time a request waits on PostgreSQL. Orders
are short transactions that queue on the conference lock in the database, not
in the app server, so more workers than cores help only up to the point where
they wait on each other there. Measured on 2 cores in docs/performance.md.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# gthread keeps connections alive between requests (``keepalive`` below); sync
# closes each one after its response. GUNICORN_WORKER_CLASS picks either.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS") or ("gthread" if threads > 1 else "sync")
# Requests waiting for a worker; beyond this the kernel refuses connections.
backlog = int(os.environ.get("GUNICORN_BACKLOG", "2048"))

# A request that takes longer than this is stuck; its worker is replaced (its
# open transaction dies with the connection and rolls back).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10

# Behind a load balancer: trust X-Forwarded-* only from it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "seatkeeper"
