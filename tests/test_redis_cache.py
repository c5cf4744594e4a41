"""Production's cache backend (django-redis) against the Redis server that runs
beside PostgreSQL (127.0.0.1:6379): what Seatkeeper asks of it works there."""

import uuid

import pytest
from django.core.cache import caches
from django.test import RequestFactory, override_settings
from django_ratelimit.core import is_ratelimited

from capacity.api import CACHE_ERRORS

LOCATION = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_cache():
    """The cache as production configures it, under a prefix of its own."""
    settings = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": LOCATION,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    with override_settings(CACHES=settings):
        yield caches["default"]
        caches["default"].delete_pattern("*")


def test_the_cache_answers_as_djangos_does(redis_cache):
    assert redis_cache.get("missing", "default") == "default"
    redis_cache.set("figure", ({"seats": 3},), 30)
    assert redis_cache.get("figure") == ({"seats": 3},)
    assert redis_cache.add("figure", "other") is False
    assert redis_cache.add("new", 1) is True
    assert redis_cache.incr("new", 4) == 5
    with pytest.raises(ValueError):
        redis_cache.incr("never-set")


def test_the_order_rate_limit_counts_in_it(redis_cache):
    request = RequestFactory().post("/conf/", REMOTE_ADDR="203.0.113.9")
    answers = [
        is_ratelimited(request, group="t", key="ip", rate="3/m", method="POST", increment=True)
        for _ in range(5)
    ]
    assert answers == [False, False, False, True, True]


def test_an_unreachable_redis_raises_what_the_callers_catch():
    settings = {
        "default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    with override_settings(CACHES=settings), pytest.raises(CACHE_ERRORS):
        caches["default"].get("anything")
