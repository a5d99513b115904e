"""Showing settings values and field paths in messages, always bounded in length.

Values come from a hand-editable file and can be anything, including a 10 MB string or a
deeply nested table. Every warning and error that mentions one goes through `show_value`
(and every path through `format_path`), so no message ever carries more than a short,
recognisable excerpt of what the user wrote.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence

VALUE_CHARS = 80
"""Longest excerpt of a value shown in any message."""
KEY_CHARS = 40
"""Longest excerpt of one table key shown inside a field path."""
ROOT_PATH = "(settings)"
"""Path used for problems that concern the whole file rather than one field."""

_REPR = reprlib.Repr()
_REPR.maxstring = VALUE_CHARS - 6
_REPR.maxother = VALUE_CHARS - 6
_REPR.maxlong = VALUE_CHARS - 6
_REPR.maxlist = 6
_REPR.maxtuple = 6
_REPR.maxdict = 4
_REPR.maxlevel = 2


def cut(text: str, limit: int = VALUE_CHARS) -> str:
    """`text` itself when short enough, else its first `limit - 1` characters and an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_value(value: object, limit: int = VALUE_CHARS) -> str:
    """A Python-literal excerpt of `value` (strings quoted) of at most `limit` characters."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a broken __repr__ must not break a warning
        text = f"<{type(value).__name__}>"
    return cut(text, limit)


def format_path(loc: Sequence[int | str]) -> str:
    """`("endpoints", 0, "base_url")` -> `"endpoints[0].base_url"`; long table keys are cut."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            key = cut(str(part), KEY_CHARS)
            out += f".{key}" if out else key
    return out or ROOT_PATH
