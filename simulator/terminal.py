"""Text from data (firm and scenario names, paths, error lines) made safe for a terminal.

``printable(text)`` writes control characters (C0, DEL, C1: ESC starts ANSI sequences),
line and paragraph separators, bidirectional overrides and lone surrogates as visible escapes
(``\\x1b``, ``\\n``, ``\\u202e``), the way Python's ``repr`` does, and leaves everything else as
it is. ``literal(text)`` is that as a ``rich.text.Text``, which rich prints literally: no
``[bold]`` or ``[link=...]`` markup is interpreted.
"""

from __future__ import annotations

import unicodedata

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def _escape(char: str) -> str:
    if char in _BIDI or unicodedata.category(char) in _ESCAPED_CATEGORIES:
        return char.encode("unicode_escape", "backslashreplace").decode("ascii")
    return char


def printable(text: object) -> str:
    """``str(text)`` with every character that could steer a terminal escaped visibly."""
    text = str(text)
    if text.isprintable() and not _BIDI.intersection(text):
        return text
    return "".join(_escape(char) for char in text)


def literal(text: object):
    """``printable(text)`` as a rich Text: printed as these characters, never as markup."""
    from rich.text import Text

    return Text(printable(text))
