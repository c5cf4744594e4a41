"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

There is no skip here: when Chromium cannot start, these tests fail.
"""

import os

import pytest
from django.db import connections

# Playwright's sync API runs an event loop in this thread; the Django ORM calls in
# the test body are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("SEATKEEPER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": CHROMIUM_ARGS,
        "headless": True,
    }


@pytest.fixture(autouse=True)
def _close_connections_after_browser_test():
    """The browser test body holds its own Django connection; close it so the
    test database can be flushed and, on PostgreSQL, dropped."""
    yield
    connections.close_all()


@pytest.fixture
def fast_polls(settings):
    """Poll every second in browser tests so 'without a reload' is quick to see."""
    settings.SEATKEEPER_DASHBOARD_POLL_SECONDS = 1
    settings.SEATKEEPER_PUBLIC_POLL_SECONDS = 1
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 0
    return settings


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """An English browser unless a test asks for another language."""
    return {**browser_context_args, "locale": "en-US"}
