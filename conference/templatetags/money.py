"""``{{ amount|money }}``: a price in settings.SEATKEEPER_CURRENCY, written the way
the active language writes it ("€149.00" in English, "149,00 €" in German)."""

import functools
from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.conf import settings
from django.utils.translation import get_language, to_locale

register = template.Library()


def format_money(amount, language=None) -> str:
    """``amount`` (a Decimal, int or numeric string) in the conference currency for
    ``language`` (the active language when None)."""
    locale = to_locale(language or get_language() or settings.LANGUAGE_CODE)
    return _formatted(Decimal(amount), settings.SEATKEEPER_CURRENCY, locale)


# A ticket page writes the same few prices on every view: Babel is asked once each.
@functools.lru_cache(maxsize=4096)
def _formatted(amount: Decimal, currency: str, locale: str) -> str:
    return format_currency(amount, currency, locale=locale)


@register.filter
def money(amount) -> str:
    if amount is None or amount == "":
        return ""
    return format_money(amount)
