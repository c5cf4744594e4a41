"""Whole numbers typed by people (quantities, capacities): plain ASCII digits only.

Python's ``int()`` also reads "３" (full width), "٣" (Arabic-Indic), "1_0" and
"+2", and Django's ``IntegerField`` adds "3.0". Every quantity and capacity a
person types, in a form or passed to a service as text, goes through
``parse_whole_number`` instead, so all of those are refused with the same
message as "abc". A leading minus is read, so that a negative number gets the
message about being negative rather than about not being a number.
"""

import re

from django import forms
from django.core.exceptions import ValidationError

# Optional spaces around, an optional minus, then ASCII digits only.
WHOLE_NUMBER = re.compile(r"\s*(-?[0-9]+)\s*", flags=re.ASCII)


def parse_whole_number(value) -> int | None:
    """``value`` as an int when it is an int (not a bool) or text of plain ASCII
    digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str):
        return None
    match = WHOLE_NUMBER.fullmatch(value)
    if match is None:
        return None
    try:
        return int(match[1])
    except ValueError:  # thousands of digits: past what Python converts
        return None


class WholeNumberField(forms.IntegerField):
    """An IntegerField that reads only plain ASCII digits (``parse_whole_number``)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        number = parse_whole_number(value)
        if number is None:
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return number
