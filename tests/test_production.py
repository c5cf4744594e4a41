"""Production settings boot cleanly, and /healthz tells the load balancer the truth."""

import logging
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION_ENV = {
    "SEATKEEPER_PRODUCTION": "1",
    "SECRET_KEY": secrets.token_urlsafe(60),
    "ALLOWED_HOSTS": "tickets.example.com,127.0.0.1",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def run_django(*args, env=None, code=None):
    """Run manage.py (or a snippet after django.setup()) in a fresh interpreter."""
    environment = {
        key: value
        for key, value in os.environ.items()
        # The browser tests' conftest sets DJANGO_ALLOW_ASYNC_UNSAFE for the whole run;
        # a production process must not inherit it.
        if not key.startswith(
            ("SEATKEEPER_", "DATABASE_URL", "REDIS_URL", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
        )
    }
    environment.update(env or {})
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if code is not None:
        command = [sys.executable, "-c", "import django; django.setup()\n" + code]
    else:
        command = [sys.executable, "manage.py", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=settings.BASE_DIR,
        env=environment,
    )


def test_production_settings_pass_the_deploy_checks():
    result = run_django("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_turn_on_what_they_promise():
    code = (
        "from django.conf import settings as s\n"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS > 0, s.DATABASES['default']['ENGINE'],"
        " s.CACHES['default']['BACKEND'], s.STORAGES['staticfiles']['BACKEND'])"
    )
    result = run_django(env=PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "True",
        "True",
        "True",
        "True",
        "django.db.backends.postgresql",
        "django_redis.cache.RedisCache",
        "whitenoise.storage.CompressedManifestStaticFilesStorage",
    ]


def test_production_refuses_to_start_without_a_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_django("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_healthz_is_not_redirected_to_https_for_the_load_balancer():
    code = (
        "from django.test import Client\n"
        "r = Client().get('/healthz', HTTP_HOST='127.0.0.1')\n"
        "print(r.status_code, r.content.decode())"
    )
    result = run_django(env=PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("200 ")


def test_healthz_answers_503_when_the_database_is_unreachable():
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nowhere"}
    code = (
        "from django.test import Client\n"
        "r = Client().get('/healthz', HTTP_HOST='127.0.0.1')\n"
        "print(r.status_code, r.content.decode())"
    )
    result = run_django(env=env, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("503 ")
    assert "unreachable" in result.stdout


def test_refused_orders_leave_the_log_alone_and_server_errors_do_not():
    """A 400 (a refused order) is logged by django.request at WARNING: in a sold-out
    rush, a line per buyer. Server errors and security warnings still get through."""
    assert not logging.getLogger("django.request").isEnabledFor(logging.WARNING)
    assert logging.getLogger("django.request").isEnabledFor(logging.ERROR)
    assert logging.getLogger("django.security.csrf").isEnabledFor(logging.WARNING)


# --- production mode cannot be half-on ---------------------------------------------


def test_production_refuses_demo_payments_at_start_up():
    env = {**PRODUCTION_ENV, "SEATKEEPER_PAYMENT_PROVIDERS": "demo,manual"}
    result = run_django("check", env=env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SEATKEEPER_ALLOW_DEMO_PAYMENTS" in result.stderr


def test_a_staging_site_may_allow_demo_payments_explicitly():
    env = {
        **PRODUCTION_ENV,
        "SEATKEEPER_PAYMENT_PROVIDERS": "demo,manual",
        "SEATKEEPER_ALLOW_DEMO_PAYMENTS": "1",
    }
    code = "from django.conf import settings as s\nprint(','.join(s.SEATKEEPER_PAYMENT_PROVIDERS))"
    result = run_django(env=env, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "demo,manual"


def test_production_offers_bank_transfer_only_by_default():
    code = "from django.conf import settings as s\nprint(','.join(s.SEATKEEPER_PAYMENT_PROVIDERS))"
    result = run_django(env=PRODUCTION_ENV, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "manual"


def test_production_turns_debug_off_whatever_debug_says():
    code = "from django.conf import settings as s\nprint(s.DEBUG)"
    result = run_django(env={**PRODUCTION_ENV, "DEBUG": "1"}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    # The same DEBUG=1 outside production mode is honoured: the test can tell.
    development = run_django(env={"DEBUG": "1"}, code=code)
    assert development.stdout.strip() == "True"


@pytest.mark.parametrize("key", ["x", "a" * 49])
def test_production_refuses_a_short_secret_key(key):
    result = run_django("check", env={**PRODUCTION_ENV, "SECRET_KEY": key})
    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    ],
)
def test_production_refuses_an_email_backend_that_sends_nothing(backend):
    result = run_django("check", env={**PRODUCTION_ENV, "EMAIL_BACKEND": backend})
    assert result.returncode != 0
    assert "sends no email" in result.stderr


def test_production_sends_email_over_smtp_as_configured():
    env = {
        **PRODUCTION_ENV,
        "EMAIL_HOST": "smtp.example.com",
        "EMAIL_PORT": "587",
        "EMAIL_HOST_USER": "tickets",
        "EMAIL_USE_TLS": "1",
    }
    code = (
        "from django.conf import settings as s\n"
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER, s.EMAIL_USE_TLS)"
    )
    result = run_django(env=env, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        "587",
        "tickets",
        "True",
    ]


def test_development_keeps_printing_emails_and_offering_demo_payments():
    code = (
        "from django.conf import settings as s\n"
        "print(s.EMAIL_BACKEND, ','.join(s.SEATKEEPER_PAYMENT_PROVIDERS))"
    )
    result = run_django(env={}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.core.mail.backends.console.EmailBackend",
        "demo,manual",
    ]
