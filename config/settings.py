"""Seatkeeper settings, read from the environment.

Development and tests run on an embedded SQLite file with no configuration.
Production sets ``SEATKEEPER_PRODUCTION=1`` plus ``SECRET_KEY``,
``ALLOWED_HOSTS``, ``DATABASE_URL``, the mail server (``EMAIL_HOST`` …) and
optionally ``REDIS_URL``. Production mode refuses to start half-configured:
DEBUG is always off, the secret key must be long, mail must really be sent,
and demo payments need ``SEATKEEPER_ALLOW_DEMO_PAYMENTS=1`` (docs/deploy.md).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = env_bool("SEATKEEPER_PRODUCTION")
# Production never runs in debug mode, whatever DEBUG says.
DEBUG = False if PRODUCTION else env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when SEATKEEPER_PRODUCTION=1.")
    # Only ever used on a developer's machine and in tests.
    SECRET_KEY = "insecure-development-key-not-for-production"
MIN_SECRET_KEY_LENGTH = 50
if PRODUCTION and len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
    raise ImproperlyConfigured(
        f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters when "
        "SEATKEEPER_PRODUCTION=1 (python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "csp",
    "django_htmx",
    "django_tables2",
    "template_partials",
    "django_q",
    "conference",
    "registration",
    "capacity",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The reader's language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # Every template translates and formats money without a {% load %}.
            "builtins": ["django.templatetags.i18n", "conference.templatetags.money"],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# SQLite: IMMEDIATE transactions make writers serialize at BEGIN, which is the
# conference lock on this database (select_for_update is a no-op there).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
        # With persistent connections, each one is checked before a request
        # reuses it, so a restarted database costs no request an error.
        conn_health_checks=True,
    )
}
# Lets several test runs share one machine without sharing a test database:
# each run has its own unless told a name.
TEST_DB_SUFFIX = os.environ.get("SEATKEEPER_TEST_DB_SUFFIX", f"_{os.getpid()}")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    # A file, not memory: threads in race tests need a shared database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db{TEST_DB_SUFFIX}.sqlite3")}
elif TEST_DB_SUFFIX:
    DATABASES["default"]["TEST"] = {"NAME": f"test_seatkeeper_{TEST_DB_SUFFIX}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis: one redis-py client per server, where Django's own
            # backend builds one per operation, and one round trip per increment.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Login throttling (django-axes), on the admin's login and the organizers' alike:
# after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair gets a 429 until AXES_COOLOFF_TIME has passed. A right password
# resets the count; `manage.py axes_reset` lifts every lockout at once.
AUTHENTICATION_BACKENDS = [
    "config.auth.WebLoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SEATKEEPER_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SEATKEEPER_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/login_locked.html"

# Pages, forms, messages and emails speak the reader's language; the catalogues
# are locale/<lang>/LC_MESSAGES/django.po, compiled by `make run` and `make test`.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Each language's named date formats (DATE_FORMAT, SHORT_DATETIME_FORMAT, ...).
FORMAT_MODULE_PATH = ["config.formats"]
LANGUAGE_COOKIE_SECURE = PRODUCTION
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Prices are in this ISO 4217 currency, written the reader's way ("€149.00", "149,00 €").
SEATKEEPER_CURRENCY = os.environ.get("SEATKEEPER_CURRENCY", "EUR")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Sessions are written to the database and read from the cache: an organizer's
# dashboard polls every few seconds, and each poll would otherwise read its session
# from the database before anything else.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/"

# Development prints emails to the console; production sends them through SMTP
# (or a provider's backend, e.g. django-anymail's) and refuses one that sends nothing.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_BACKENDS_THAT_SEND_NOTHING = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
}
if PRODUCTION and EMAIL_BACKEND in EMAIL_BACKENDS_THAT_SEND_NOTHING:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND {EMAIL_BACKEND} sends no email: attendees would get nothing and "
        "their order links would end up in the logs. Use SMTP (the default when "
        "SEATKEEPER_PRODUCTION=1) or a provider's backend."
    )
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tickets@seatkeeper.invalid")

DJANGO_TABLES2_TEMPLATE = "django_tables2/bootstrap5.html"

# The task queue (django-q2): emails, waiting-list offers and transfer reminders
# run in `manage.py qcluster`, queued in the default database (see docs/deploy.md).
# No seat count depends on it. django-q2 reads this once, when it is imported;
# registration.emails passes "sync" with every task, so tests can override it.
Q_CLUSTER = {
    "name": "seatkeeper",
    "orm": "default",
    "workers": int(os.environ.get("Q_CLUSTER_WORKERS", "2")),
    # A task killed after `timeout` seconds is tried again `retry` seconds after
    # it was taken, at most `max_attempts` times (a mail server that is down).
    "timeout": 60,
    "retry": 120,
    "max_attempts": 5,
    # Seconds between looks at an empty queue.
    "poll": 1,
    # A worker that was down runs a missed schedule once, not once per minute missed.
    "catch_up": False,
    "save_limit": 250,
    "label": "Task queue",
    "sync": env_bool("SEATKEEPER_TASKS_SYNC"),
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # The load balancer probes app servers over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

# No inline scripts or styles anywhere: scripts are static files (htmx from
# django-htmx, the page scripts in static/js/). No page may be framed, except
# the embeddable banner, whose view allows every site.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
# The level is on the handler too: Django's own loggers propagate to the root's
# handlers whatever the root's level.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "level": LOG_LEVEL}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # A 4xx is the client's (a refused order is a 400: a line per buyer in a
    # sold-out rush); server errors are still logged. Refused CSRF checks and
    # bad hosts are logged by django.security, which this leaves alone.
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Seatkeeper ---------------------------------------------------------------
# The conference lock. Only tests switch it off, to prove their races really race.
SEATKEEPER_SEAT_LOCK = True
# Seconds to sleep between the seat checks and the writes. Tests set it to widen
# the race window; it is 0 in every real deployment.
SEATKEEPER_PAUSE_AFTER_CHECK = 0.0
# On PostgreSQL, commit a new hold (a PENDING order) without waiting for its WAL
# to reach the disk. The conference lock is held until the commit returns, so
# that wait would be spent by every order of the conference one after another.
# A PostgreSQL crash can then lose the holds of the last moments (never a
# payment: paying commits synchronously, which also flushes every earlier hold).
# Nothing can be oversold: a lost hold's seats are lost with it. See docs/deploy.md.
SEATKEEPER_ASYNC_HOLD_COMMIT = env_bool("SEATKEEPER_ASYNC_HOLD_COMMIT", True)
# Most add-ons of one kind in a single order.
SEATKEEPER_ADDON_MAX_PER_ORDER = 10
# Poll intervals, in seconds, while seats are moving: the dashboard's and the
# attendee pages'. Once nothing changed for SEATKEEPER_QUIET_AFTER_SECONDS, every
# poller comes back every SEATKEEPER_QUIET_POLL_SECONDS (capacity/polling.py).
SEATKEEPER_DASHBOARD_POLL_SECONDS = int(os.environ.get("SEATKEEPER_DASHBOARD_POLL_SECONDS", "2"))
SEATKEEPER_PUBLIC_POLL_SECONDS = int(os.environ.get("SEATKEEPER_PUBLIC_POLL_SECONDS", "5"))
SEATKEEPER_QUIET_AFTER_SECONDS = int(os.environ.get("SEATKEEPER_QUIET_AFTER_SECONDS", "60"))
SEATKEEPER_QUIET_POLL_SECONDS = int(os.environ.get("SEATKEEPER_QUIET_POLL_SECONDS", "30"))
# Seconds the public availability answer may be cached.
SEATKEEPER_AVAILABILITY_CACHE_SECONDS = int(
    os.environ.get("SEATKEEPER_AVAILABILITY_CACHE_SECONDS", "2")
)
# Payment providers the order page offers, in order (see registration/payments.py).
# "demo" marks an order paid with no money: production refuses it unless a
# staging site says SEATKEEPER_ALLOW_DEMO_PAYMENTS=1.
SEATKEEPER_PAYMENT_PROVIDERS = env_list(
    "SEATKEEPER_PAYMENT_PROVIDERS", "manual" if PRODUCTION else "demo,manual"
)
SEATKEEPER_ALLOW_DEMO_PAYMENTS = env_bool("SEATKEEPER_ALLOW_DEMO_PAYMENTS", not PRODUCTION)
if "demo" in SEATKEEPER_PAYMENT_PROVIDERS and not SEATKEEPER_ALLOW_DEMO_PAYMENTS:
    raise ImproperlyConfigured(
        "SEATKEEPER_PAYMENT_PROVIDERS offers 'demo', which marks orders paid for free. "
        "Remove it, or set SEATKEEPER_ALLOW_DEMO_PAYMENTS=1 on a staging site."
    )
# Hours before a bank-transfer hold lapses that its buyer is reminded by email.
SEATKEEPER_TRANSFER_REMINDER_HOURS = int(os.environ.get("SEATKEEPER_TRANSFER_REMINDER_HOURS", "24"))
# Where attendees reach the site; links in emails start with it.
SEATKEEPER_SITE_URL = os.environ.get("SEATKEEPER_SITE_URL", "http://127.0.0.1:8000")
# Order POSTs one client address may make (django-ratelimit's notation: 20/m is
# twenty a minute). Counted in the cache, so set REDIS_URL to share it between
# app servers. Behind a proxy set SEATKEEPER_TRUSTED_PROXY=1 (docs/deploy.md).
SEATKEEPER_ORDER_RATE = os.environ.get("SEATKEEPER_ORDER_RATE", "20/m")
if env_bool("SEATKEEPER_TRUSTED_PROXY"):
    # The address the trusted proxy saw: the last one it appended.
    RATELIMIT_IP_META_KEY = "config.proxy.client_address"
    AXES_CLIENT_IP_CALLABLE = "config.proxy.client_address"
# A cache that cannot be reached lets orders through: the conference lock, not
# the rate limit, is what keeps seats from being oversold.
RATELIMIT_FAIL_OPEN = True
