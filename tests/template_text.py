"""Finds the words a person would read in a template that no translation tag covers.

A template's text is parsed as HTML with every template tag and variable taken out
(and whole ``{% blocktranslate %}`` … ``{% endblocktranslate %}`` and
``{% comment %}`` blocks with them, and blocks named ``…_class``, which hold CSS
classes): what is left that has letters, in an element's
text or in an attribute a person reads (``title``, ``alt``, ``placeholder``,
``aria-label``, ``value`` of a button), was written in one language only.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

# Two letters in a row make a word; "×", "·", "–", numbers and units do not.
WORD = re.compile(r"[^\W\d_]{2,}")
READABLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description"}
# Names that are the same in every language.
NOT_WORDS = {"Seatkeeper"}
UNREAD_ELEMENTS = {"script", "style"}
# Stands in for a tag or a variable: not a letter, so it never makes a word.
HOLE = "\x00"


def template_source_without_translations(source: str) -> str:
    """``source`` with tags, variables, comments and translated blocks replaced by HOLE."""
    pieces = []
    skipping = None
    for token in Lexer(source).tokenize():
        if skipping:
            if token.token_type == TokenType.BLOCK and token.contents.split()[0] == skipping:
                skipping = None
            continue
        if token.token_type == TokenType.TEXT:
            pieces.append(token.contents)
            continue
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0]
            if name in {"blocktranslate", "blocktrans"}:
                skipping = "end" + name
            elif name == "comment":
                skipping = "endcomment"
            elif name == "block" and token.contents.split()[1].endswith("_class"):
                skipping = "endblock"
        pieces.append(HOLE)
    return "".join(pieces)


class _UntranslatedText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found = []
        self._unread_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in UNREAD_ELEMENTS:
            self._unread_depth += 1
        attributes = dict(attrs)
        for name, value in attrs:
            readable = name in READABLE_ATTRIBUTES or (
                name == "value" and attributes.get("type") in {"submit", "button", "reset"}
            )
            if readable and value:
                self._check(value, f"{tag}[{name}]")

    def handle_endtag(self, tag):
        if tag in UNREAD_ELEMENTS and self._unread_depth:
            self._unread_depth -= 1

    def handle_data(self, data):
        if not self._unread_depth:
            self._check(data, "text")

    def _check(self, text, where):
        words = [word for word in WORD.findall(text) if word not in NOT_WORDS]
        if words:
            self.found.append(f"{where}: {' '.join(text.replace(HOLE, '…').split())!r}")


def untranslated_text(path: Path) -> list[str]:
    """What a person reads in the template at ``path`` that is not marked for translation."""
    parser = _UntranslatedText()
    parser.feed(template_source_without_translations(path.read_text()))
    parser.close()
    return parser.found
