"""The Content-Security-Policy: no inline script on any page, no framing but the
embeddable banner's."""

import re

import pytest
from django.urls import reverse

from registration.models import Order
from tests.factories import make_order, make_ticket_type, make_user

pytestmark = pytest.mark.django_db


def policy(response):
    header = response["Content-Security-Policy"]
    return {
        directive.split()[0]: directive.split()[1:]
        for directive in (part.strip() for part in header.split(";"))
        if directive
    }


def assert_no_inline_script(html):
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    assert "hx-on" not in html
    assert "js:" not in html and "javascript:" not in html


@pytest.fixture
def pages(conference):
    ticket = make_ticket_type(conference)
    order = make_order(conference, Order.Status.PENDING, tickets=[(ticket, 1)])
    slug = {"slug": conference.slug}
    return {
        "ticket page": reverse("registration:conference", kwargs=slug),
        "order page": order.get_absolute_url(),
        "dashboard": reverse("capacity:dashboard", kwargs=slug),
        "orders": reverse("capacity:orders", kwargs=slug),
        "order detail": reverse("capacity:order", kwargs={**slug, "reference": order.reference}),
        "overrides": reverse("capacity:overrides", kwargs=slug),
        "waiting list": reverse("capacity:waiting-list", kwargs=slug),
        "login": reverse("login"),
        "admin": reverse("admin:index"),
    }


def test_every_page_forbids_inline_scripts_and_framing(client, pages):
    client.force_login(make_user(is_superuser=True, is_staff=True))
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 200, name
        directives = policy(response)
        assert directives["script-src"] == ["'self'"], name
        assert directives["style-src"] == ["'self'"], name
        assert directives["frame-ancestors"] == ["'none'"], name
        assert response["X-Frame-Options"] == "DENY", name
        assert_no_inline_script(response.content.decode())


def test_pages_load_the_page_script_and_turn_htmx_eval_off(client, pages):
    html = client.get(pages["ticket page"]).content.decode()
    assert "js/seatkeeper.js" in html
    assert '"allowEval": false' in html


def test_the_embeddable_banner_may_be_framed_by_any_site(client, conference):
    response = client.get(reverse("registration:embed-banner", kwargs={"slug": conference.slug}))
    assert policy(response)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in response
    assert policy(response)["script-src"] == ["'self'"]
    assert_no_inline_script(response.content.decode())
