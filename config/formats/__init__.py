"""Seatkeeper's named date formats per language (settings.FORMAT_MODULE_PATH).

Templates write ``|date:"SHORT_DATETIME_FORMAT"`` and each language says how its
readers write a date; names not set here fall back to Django's own formats.
Times are 24-hour in every language, and a time zone's abbreviation follows where
a reader may be elsewhere (``T``).
"""
