"""The public availability API, and the short cache public availability answers share.

A crowd of attendees polling a ticket page must not reach the database on
every request, so public answers (this API, the ticket page's live banners, the
embeddable banner) are cached per conference for
``SEATKEEPER_AVAILABILITY_CACHE_SECONDS``. Any write to the rows a snapshot is
made of starts a new cache generation, so an answer is never older than the
cache time and is fresh right after a change made by any process sharing the
cache (see ``connect_cache_invalidation``).
"""

import functools
import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from conference.models import Conference
from registration.models import AddOn, Order, OrderLineItem, TicketType, WaitingListEntry

from .availability import conference_by_slug, get_availability
from .models import BlockedSeats, CapacityChange

GENERATION_KEY = "seatkeeper:availability:generation"
# What reading an order form needs (the conference, its ticket types and
# add-ons) changes far less often than seats do: it has a generation of its own,
# which orders leave alone.
CATALOGUE_GENERATION_KEY = "seatkeeper:catalogue:generation"


# What the shared cache (Redis) raises when it cannot be reached. A cache that is
# down makes answers slower, never wrong and never an error: reads fall back to
# the database, and a generation that could not be started ends with the cache
# time anyway.
CACHE_ERRORS = (RedisError, OSError)
logger = logging.getLogger(__name__)


def _new_generation(key=GENERATION_KEY):
    try:
        cache.set(key, uuid.uuid4().hex, None)
    except CACHE_ERRORS as error:
        logger.warning("Cache unreachable, generation %s not renewed: %s", key, error)


def _forget(*keys):
    """Start new generations of ``keys`` now and again once the current transaction
    commits. The second time closes the window in which a request could cache
    what the database held before the commit."""
    for key in keys:
        _new_generation(key)
        transaction.on_commit(functools.partial(_new_generation, key), robust=True)


def forget_cached_availability(**kwargs):
    """Forget the cached public answers (seats changed)."""
    _forget(GENERATION_KEY)


def forget_cached_catalogue(**kwargs):
    """Forget the cached order forms as well as the public answers (the conference,
    a ticket type, an add-on or a capacity changed)."""
    _forget(GENERATION_KEY, CATALOGUE_GENERATION_KEY)


def connect_cache_invalidation():
    """Forget cached answers whenever a row a snapshot is made of is saved or deleted.

    Called once from ``CapacityConfig.ready``, so every process (web, admin,
    management commands) invalidates the shared cache, not only those that have
    loaded the URLconf. Overrides write with ``QuerySet.update()``, which sends
    no signal; the CapacityChange every override writes stands in for them.
    """
    catalogue = (Conference, TicketType, AddOn, CapacityChange)
    for model in (*catalogue, Order, OrderLineItem, BlockedSeats, WaitingListEntry):
        forget = forget_cached_catalogue if model in catalogue else forget_cached_availability
        uid = f"seatkeeper-availability-{model._meta.label_lower}"
        post_save.connect(forget, sender=model, dispatch_uid=uid)
        post_delete.connect(forget, sender=model, dispatch_uid=uid)


def cache_seconds() -> int:
    return max(0, int(settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS))


def cached_for_conference(name, slug, compute, *, generation_key=GENERATION_KEY):
    """``compute()`` for one conference, cached for the availability cache time.

    ``compute`` may return None (unknown conference); that is cached too, so a
    flood of requests for a wrong slug does not reach the database either.
    ``generation_key``: the generation that a change ends (CATALOGUE_GENERATION_KEY
    for what only the conference, its ticket types and add-ons are made of).
    """
    seconds = cache_seconds()
    if not seconds:
        return compute()
    try:
        generation = cache.get(generation_key, "0")
        key = f"seatkeeper:availability:{generation}:{name}:{slug}"
        hit = cache.get(key)
    except CACHE_ERRORS as error:
        logger.warning("Cache unreachable, %s answered from the database: %s", name, error)
        return compute()
    if hit is not None:
        return hit[0]
    value = compute()
    try:
        cache.set(key, (value,), seconds)
    except CACHE_ERRORS as error:
        logger.warning("Cache unreachable, %s not kept: %s", name, error)
    return value


def public_cache_control(response):
    """Let browsers and proxies reuse a public availability answer for the cache time."""
    seconds = cache_seconds()
    if seconds:
        patch_cache_control(response, public=True, max_age=seconds)
    else:
        patch_cache_control(response, no_cache=True, max_age=0)
    # Public data: a conference's own website may read it from the browser.
    response["Access-Control-Allow-Origin"] = "*"
    return response


def availability_payload(conference) -> dict:
    """The API's answer for one conference: the availability snapshot as JSON."""
    return get_availability(conference).as_dict()


@require_safe
def conference_availability(request, slug):
    """``GET /api/conferences/<slug>/availability``: the availability snapshot as JSON."""

    def compute():
        conference = conference_by_slug(slug)
        return None if conference is None else availability_payload(conference)

    payload = cached_for_conference("api", slug, compute)
    if payload is None:
        response = JsonResponse({"error": f"No conference called {slug!r}."}, status=404)
    else:
        response = JsonResponse(payload)
    return public_cache_control(response)
