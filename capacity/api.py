"""The public availability API, and the short cache public availability answers share.

A crowd of attendees polling a ticket page must not rebuild its answer on every
request, so public answers (this API, the ticket page's live banners, the
embeddable banner, the order form's catalogue) are cached for
``SEATKEEPER_AVAILABILITY_CACHE_SECONDS`` under the conference's live version
(``capacity.counters.version.public_conference_row``). Every page and poll
reads the conference by its slug with that version in one statement
(``public_conference``); an order POST reads the row alone
(``posted_conference``), the form's catalogue being cached at the row's
catalogue version. Database triggers move the version with every write
to what a public page shows, whoever writes it (services, the admin,
``QuerySet.update``, raw SQL, another process), so an edit is seen at once by
the next request on every app server, and a renamed or deleted conference is
never answered from the cache.
"""

import functools
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.utils.cache import get_conditional_response, patch_cache_control, quote_etag
from django.views.decorators.http import require_safe
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError

from conference.models import Conference

from .availability import get_availability
from .counters.version import public_conference_row, version_of
from .rows import load_rows, select_sql

# What the shared cache (Redis) raises when it cannot be reached. A cache that is
# down makes answers slower, never wrong and never an error: they are computed
# from the database.
CACHE_ERRORS = (ConnectionInterrupted, RedisError, OSError)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicConference:
    """A conference as its public pages read it: the row, fresh, and its live version
    ("" when read without it, by ``posted_conference``)."""

    conference: Conference
    version: str
    # When it last changed (``capacity.polling``), read only when asked for.
    last_change: datetime | None = None

    @property
    def catalogue_version(self) -> str:
        """The version of what the order form is read from: the conference's own
        row (with its ``catalogue_version``, which writes to ticket types and
        add-ons move) but not its ``seats_version``, which every sale moves."""
        row = [
            field.value_from_object(self.conference)
            for field in Conference._meta.concrete_fields
            if field.name != "seats_version"
        ]
        return version_of(row)


def public_conference(slug, *, with_changes=False) -> PublicConference | None:
    """The conference a public page names, with its live version, in one statement;
    None for an unknown slug. ``with_changes``: with when it last changed too,
    which a poll's next delay follows."""
    found = public_conference_row(slug, with_changes=with_changes)
    return None if found is None else PublicConference(*found)


def posted_conference(slug) -> PublicConference | None:
    """The conference an order form posts to: its row alone, fresh, by a statement
    simpler to plan than ``public_conference``'s. It has no live version (""):
    the order is decided under the lock, and the order form's offers are cached
    at the row's ``catalogue_version``."""
    found = load_rows(Conference, _by_slug_sql(), [slug])
    return PublicConference(found[0], version="") if found else None


@functools.cache
def _by_slug_sql() -> str:
    return select_sql(Conference, "slug")


def cache_seconds() -> int:
    return max(0, int(settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS))


def cached_for_conference(name, public: PublicConference, compute, *, version=None):
    """``compute()`` for one conference at its live version (or at ``version``),
    cached for the availability cache time (not at all when that is 0, nor while
    the cache is unreachable)."""
    version = version or public.version
    if not version:
        raise ValueError(f"No version to cache {name} at: the conference was read without it.")
    seconds = cache_seconds()
    if not seconds:
        return compute()
    key = f"seatkeeper:public:{public.conference.pk}:{version}:{name}"
    try:
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


def unchanged_since(request, etag):
    """A 304 when the request already holds ``etag`` (``If-None-Match``), else None."""
    etag = quote_etag(etag)
    response = get_conditional_response(request, etag=etag)
    return None if response is None else public_cache_control(response)


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
    public = public_conference(slug)
    if public is None:
        response = JsonResponse({"error": f"No conference called {slug!r}."}, status=404)
        return public_cache_control(response)
    if unchanged := unchanged_since(request, public.version):
        return unchanged
    payload = cached_for_conference("api", public, lambda: availability_payload(public.conference))
    response = JsonResponse(payload)
    response["ETag"] = quote_etag(public.version)
    return public_cache_control(response)
