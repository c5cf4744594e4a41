# The README's two commands: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-requirements

.PHONY: run test install chromium gettext messages translations lint serve

$(PY):
	python3 -m venv $(VENV)

$(INSTALLED): requirements.txt | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(INSTALLED)

install: $(INSTALLED)

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "Chromium is missing: install it with 'sudo apt-get install -y chromium'." >&2; exit 1; \
		fi; \
	fi

# Debian's gettext compiles the translations (locale/*/LC_MESSAGES/django.po) and
# lets the suite check that they hold every string the code and templates mark.
gettext:
	@if ! command -v msgfmt >/dev/null || ! command -v xgettext >/dev/null; then \
		if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext; \
		else \
			echo "gettext is missing: install it with 'sudo apt-get install -y gettext'." >&2; exit 1; \
		fi; \
	fi

messages: install gettext
	$(PY) manage.py compilemessages --ignore=.venv -v 0

# After marking new strings: brings every catalogue up to date with the code and
# templates, then translate the new entries (the suite fails while one is missing).
translations: gettext
	$(PY) manage.py makemessages --locale de --locale fr --no-obsolete --add-location file \
		--ignore .venv --ignore tests --ignore bench --ignore staticfiles --ignore docs -v 0

# The task queue's worker (emails, waiting-list offers, reminders) runs beside the
# dev server and stops with it.
run: install messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	DEBUG=1 $(PY) manage.py qcluster & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

test: install chromium messages
	$(PY) -m pytest

# Production mode (DEBUG off, whitenoise, gunicorn) on loopback against PostgreSQL.
# TLS is the load balancer's job, so no HTTPS redirect here. Set SECRET_KEY to keep
# sessions across restarts; REDIS_URL to share the cache. See docs/deploy.md.
SERVE_PORT ?= 8080
SERVE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/seatkeeper
SERVE_ENV = SEATKEEPER_PRODUCTION=1 DATABASE_URL=$(SERVE_DATABASE_URL) \
	ALLOWED_HOSTS=127.0.0.1,localhost SECURE_SSL_REDIRECT=0 CONN_MAX_AGE=60 \
	SECRET_KEY="$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')}"
serve: install messages
	$(PY) bench/common.py create-database "$(SERVE_DATABASE_URL)"
	$(SERVE_ENV) $(PY) manage.py collectstatic --noinput -v 0
	$(SERVE_ENV) $(PY) manage.py migrate --noinput
	$(SERVE_ENV) GUNICORN_BIND=127.0.0.1:$(SERVE_PORT) $(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
