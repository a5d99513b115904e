"""Keys in a settings file that this version does not know, each with a "did you mean" hint.

Unknown keys are kept and written back (a newer Steward may have written them), but a typo
such as `failure_treshold` silently does nothing, so each one is reported with the closest
known name of its own group.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from steward.config.display import KEY_CHARS, format_path
from steward.config.patch import strip_annotation
from steward.config.settings import Settings

IndexOf = Callable[[list[Any], int], int]
"""Maps an item's position in a (possibly shortened) list to its position in the file."""


@dataclass(frozen=True)
class UnknownKey:
    """A key this version does not use: where it is and the known name it most resembles."""

    path: str
    suggestion: str | None = None

    def __str__(self) -> str:
        hint = f" (did you mean '{self.suggestion}'?)" if self.suggestion else ""
        return f"'{self.path}'{hint}"


def find_unknown(data: Mapping[str, Any], index_of: IndexOf | None = None) -> list[UnknownKey]:
    """Every unknown key in raw settings `data` (which must already validate), in file order."""
    found: list[UnknownKey] = []
    _walk(data, Settings, [], index_of or (lambda _items, index: index), found)
    return found


def _walk(
    node: object, annotation: Any, loc: list[int | str], index_of: IndexOf, found: list[UnknownKey]
) -> None:
    plain = strip_annotation(annotation)
    origin = get_origin(plain)
    if isinstance(plain, type) and issubclass(plain, BaseModel) and isinstance(node, dict):
        fields = plain.model_fields
        for key, value in node.items():
            if key in fields:
                _walk(value, fields[key].annotation, [*loc, key], index_of, found)
            else:
                close = difflib.get_close_matches(str(key)[: 2 * KEY_CHARS], list(fields), n=1, cutoff=0.6)
                hint = format_path([*loc, close[0]]) if close else None
                found.append(UnknownKey(format_path([*loc, key]), hint))
    elif origin is list and isinstance(node, list):
        (item_type,) = get_args(plain)
        for index, item in enumerate(node):
            _walk(item, item_type, [*loc, index_of(node, index)], index_of, found)
    elif origin is dict and isinstance(node, dict):
        value_type = get_args(plain)[1]
        for key, value in node.items():
            _walk(value, value_type, [*loc, key], index_of, found)
