"""Checks of what a person types, shared by ordering and the waiting list."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from capacity.numbers import parse_whole_number


def whole_quantity(value, name) -> int:
    """``value`` as an int, or ValidationError saying the quantity for ``name`` is not one
    (plain ASCII digits only: ``capacity.numbers``)."""
    number = parse_whole_number(value)
    if number is None:
        raise ValidationError(
            _("The quantity for %(name)s must be a whole number.") % {"name": name}
        )
    return number


def clean_buyer(email, name) -> tuple[str, str]:
    """(email, name) stripped, or ValidationError listing what is missing or wrong."""
    name = (name or "").strip()
    email = (email or "").strip()
    problems = []
    if not name:
        problems.append(_("Enter your name."))
    elif len(name) > 200:
        problems.append(_("Your name is too long (200 characters at most)."))
    try:
        validate_email(email)
    except ValidationError:
        problems.append(_("Enter a valid email address."))
    if problems:
        raise ValidationError(problems)
    return email, name
