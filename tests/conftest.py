import pytest

from tests.factories import make_conference


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hashing a test user's password at full strength costs about a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def conference(db):
    return make_conference()


@pytest.fixture(autouse=True)
def _orders_not_rate_limited(settings):
    """Tests post many orders from one address; tests of the limit set their own rate."""
    settings.SEATKEEPER_ORDER_RATE = "100000/m"


@pytest.fixture
def rate_window_held(monkeypatch):
    """django-ratelimit counts in fixed windows: a test whose requests straddle a
    window's end would see its count start again. Hold its clock still."""
    import types

    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1e9))


@pytest.fixture(autouse=True)
def _tasks_run_at_once(settings):
    """Queued tasks (emails) run in the test's own process when they are queued."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}


@pytest.fixture(autouse=True)
def _english_outside_requests():
    """A test client request leaves its language active in the thread (as a server
    thread would until its next request): each test starts in English."""
    from django.utils import translation

    translation.activate("en")
    yield
    translation.activate("en")
