"""Seatkeeper in English, German and French: the catalogues are complete and up to
date, every page a person reads is drawn in the reader's language, and what
machines read (contract messages in English, the API's JSON) does not change."""

import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import formats, translation

from capacity.services import validate_global_capacity
from conference.templatetags.money import format_money
from registration import services
from registration.models import Order, WaitingListEntry
from tests.factories import (
    grant,
    make_conference,
    make_entry,
    make_order,
    make_ticket_type,
    make_user,
)
from tests.template_text import untranslated_text

TRANSLATED = ["de", "fr"]
TEMPLATES = sorted(
    path for path in (Path(settings.BASE_DIR) / "templates").rglob("*.*") if path.is_file()
)


def catalogue(language, root=settings.BASE_DIR):
    with open(Path(root) / "locale" / language / "LC_MESSAGES" / "django.po", "rb") as po:
        return read_po(po)


def message_keys(messages):
    return {(message.id, message.context) for message in messages if message.id}


# --- the catalogues ------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_every_template_marks_what_a_person_reads(template):
    assert untranslated_text(template) == []


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_translated(language):
    messages = [message for message in catalogue(language) if message.id]
    assert len(messages) > 100
    missing = [
        message.id
        for message in messages
        if message.fuzzy or not (all(message.string) if message.pluralizable else message.string)
    ]
    assert missing == []


def test_catalogues_hold_every_string_the_code_marks(tmp_path):
    """What `make translations` would add to a catalogue is already in it."""
    copy = tmp_path / "seatkeeper"
    shutil.copytree(
        settings.BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv",
            "staticfiles",
            "__pycache__",
            "*.sqlite3*",
            "test-results",
            ".*cache",
            ".hypothesis",
            "*.mo",
        ),
    )
    subprocess.run(
        ["make", "--silent", "translations", f"PY={sys.executable}"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    for language in TRANSLATED:
        new = message_keys(catalogue(language, copy)) - message_keys(catalogue(language))
        assert new == set(), f"run `make translations` and translate the new {language} entries"


# --- what the reader gets ----------------------------------------------------------


@pytest.fixture
def sold_out(db):
    """A conference whose only ticket type is sold out, with one order and one person waiting."""
    conference = make_conference(name="Polyglot Conf", slug="polyglot", total_capacity=100)
    ticket_type = make_ticket_type(
        conference, name="Regular", slug="regular", total_quantity=2, price=Decimal("149.00")
    )
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 2)])
    entry = make_entry(conference, ticket_type, email="wait@example.com")
    organizer = make_user("organizer")
    conference.organizers.add(organizer)
    grant(organizer, "capacity.override_capacity", "registration.manage_orders")
    return {"conference": conference, "order": order, "entry": entry, "organizer": organizer}


def public_pages(sold_out):
    conference, order, entry = sold_out["conference"], sold_out["order"], sold_out["entry"]
    slug = conference.slug
    return [
        "/",
        f"/{slug}/",
        f"/{slug}/live/",
        f"/{slug}/embed/banner/",
        order.get_absolute_url(),
        entry.get_absolute_url(),
        "/accounts/login/",
    ]


def organizer_pages(sold_out):
    slug = sold_out["conference"].slug
    return [
        "/dashboard/",
        f"/dashboard/{slug}/",
        f"/dashboard/{slug}/orders/",
        f"/dashboard/{slug}/waiting/",
        f"/dashboard/{slug}/capacity/",
        f"/dashboard/{slug}/orders/{sold_out['order'].reference}/",
    ]


def visible_text(html) -> str:
    html = re.sub(r"(?s)<(script|style)\b.*?</\1>", " ", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def english_left(text, language) -> list[str]:
    """Catalogue sentences shown in English on a page drawn in ``language``."""
    left = []
    for message in catalogue(language):
        if message.pluralizable or not isinstance(message.id, str):
            continue
        english = " ".join(message.id.split())
        if "%" in english or len(english.split()) < 3 or message.string == message.id:
            continue
        if english in text:
            left.append(english)
    return left


@pytest.mark.parametrize("language", TRANSLATED)
def test_public_pages_are_drawn_in_the_browsers_language(client, sold_out, language):
    for url in public_pages(sold_out):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        html = response.content.decode()
        if "<html" in html:
            assert f'<html lang="{language}">' in html, url
        assert english_left(visible_text(html), language) == [], url
        assert "Accept-Language" in response.get("Vary", ""), url


@pytest.mark.parametrize("language", TRANSLATED)
def test_organizer_pages_are_drawn_in_the_browsers_language(client, sold_out, language):
    client.force_login(sold_out["organizer"])
    for url in organizer_pages(sold_out):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert f'<html lang="{language}">' in html, url
        assert english_left(visible_text(html), language) == [], url


def test_the_ticket_page_in_german_says_sold_out_and_prices_the_german_way(client, sold_out):
    html = client.get("/polyglot/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5").content
    text = visible_text(html.decode())
    assert "Ausverkauft" in text
    assert "149,00 €" in text  # a no-break space, made plain by visible_text
    assert "Sold out" not in text


def test_english_stays_the_default_and_keeps_its_words(client, sold_out):
    text = visible_text(client.get("/polyglot/").content.decode())
    assert "Sold out" in text
    assert "€149.00" in text


def test_the_switchers_cookie_wins_over_the_browser(client, sold_out):
    response = client.post(
        "/i18n/setlang/", {"language": "fr", "next": "/polyglot/"}, HTTP_ACCEPT_LANGUAGE="de"
    )
    assert response.status_code == 302
    assert response["Location"] == "/polyglot/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "fr"
    html = client.get("/polyglot/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="fr">' in html
    assert "Complet" in visible_text(html)


def test_the_switcher_refuses_an_unknown_language_and_a_foreign_next(client, sold_out):
    response = client.post("/i18n/setlang/", {"language": "xx", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert not response["Location"].startswith("https://evil.example")
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_cached_live_pieces_are_kept_per_language(client, sold_out, settings):
    settings.SEATKEEPER_AVAILABILITY_CACHE_SECONDS = 60
    english = client.get("/polyglot/live/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    german = client.get("/polyglot/live/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Sold out" in visible_text(english)
    assert "Ausverkauft" in visible_text(german)
    banner = client.get("/polyglot/embed/banner/", HTTP_ACCEPT_LANGUAGE="fr")
    english_banner = client.get("/polyglot/embed/banner/", HTTP_ACCEPT_LANGUAGE="en")
    assert banner["ETag"] != english_banner["ETag"]


def test_the_api_answers_the_same_json_in_every_language(client, sold_out):
    url = "/api/conferences/polyglot/availability"
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    for language in TRANSLATED:
        assert client.get(url, HTTP_ACCEPT_LANGUAGE=language).json() == english


# --- formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "written"),
    [("en", "€149.00"), ("de", "149,00\xa0€"), ("fr", "149,00\xa0€")],
)
def test_money_is_written_the_readers_way(language, written):
    with translation.override(language):
        assert format_money(Decimal("149")) == written


@pytest.mark.parametrize(
    ("language", "day", "moment"),
    [
        ("en", "4 June 2027", "4 Jun 2027, 14:30 UTC"),
        ("de", "4. Juni 2027", "4. Juni 2027, 14:30 UTC"),
        ("fr", "4 juin 2027", "4 juin 2027, 14:30 UTC"),
    ],
)
def test_dates_are_written_the_readers_way(language, day, moment):
    with translation.override(language):
        assert formats.date_format(date(2027, 6, 4), "DATE_FORMAT") == day
        assert (
            formats.date_format(datetime(2027, 6, 4, 14, 30, tzinfo=UTC), "DATETIME_FORMAT")
            == moment
        )


# --- messages and what is kept -----------------------------------------------------------


@pytest.mark.django_db
def test_contract_messages_are_english_in_english_and_translated_otherwise():
    conference = make_conference(total_capacity=2)
    ticket_type = make_ticket_type(conference, slug="regular")
    make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 2)])

    def refusal():
        with transaction.atomic(), pytest.raises(ValidationError) as refused:
            validate_global_capacity(conference, 1)
        return " ".join(refused.value.messages)

    with translation.override("en"):
        assert "sold out" in refusal()
    with translation.override("de"):
        assert "sold out" not in refusal()
        assert "ausverkauft" in refusal().lower()


@pytest.mark.django_db
def test_an_order_keeps_the_language_it_was_placed_in_and_its_email_speaks_it(
    client, django_capture_on_commit_callbacks
):
    conference = make_conference(slug="lang", total_capacity=10)
    make_ticket_type(conference, name="Regular", slug="regular", price=Decimal("0"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/lang/",
            {"name": "Ada", "email": "ada@example.com", "ticket-regular": "1"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.language == "de"
    assert order.status == Order.Status.PAID
    [email] = mail.outbox
    assert "Bestellung" in email.subject or "Bestellung" in email.body


@pytest.mark.django_db
def test_an_offer_speaks_the_language_of_the_entry_it_answers():
    conference = make_conference(total_capacity=1)
    ticket_type = make_ticket_type(conference, slug="regular")
    order = make_order(conference, Order.Status.PAID, tickets=[(ticket_type, 1)])
    with translation.override("fr"):
        entry = services.join_waiting_list(
            conference=conference, email="wait@example.com", name="Wait", ticket_type=ticket_type
        )
    assert entry.language == "fr"
    services.cancel_order(order)  # in English: the offer still speaks French
    entry.refresh_from_db()
    assert entry.status == WaitingListEntry.Status.OFFERED
    assert entry.order.language == "fr"
