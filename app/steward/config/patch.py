"""Changing settings by field path: `apply_patch(settings, {"breaker.failure_threshold": 5})`.

The GUI's settings pane edits one field at a time; this turns such edits into a new,
fully validated `Settings` (cross-field rules included) or a `SettingsError` naming the field.

Path syntax: dotted group/field names, `[i]` for list items (`endpoints[0].enabled`); inside a
table of free keys (`routing.capabilities`, `servers[0].env`) the rest of the path is the key,
dots and slashes included (`routing.capabilities.ollama/llama3.2:1b`). Setting such an entry to
None removes it.
"""

from __future__ import annotations

import copy
import re
import types
from collections.abc import Mapping
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from steward.config.settings import Settings
from steward.config.validation import SettingsError, validate_settings

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"\[(\d+)\]")

Token = str | int


class _PathError(Exception):
    pass


def apply_patch(settings: Settings, changes: Mapping[str, object]) -> Settings:
    """A new validated Settings with every `path: value` in `changes` applied (all or nothing)."""
    data: dict[str, Any] = copy.deepcopy(settings.model_dump(mode="python"))
    problems: list[tuple[str, str]] = []
    for path, value in changes.items():
        try:
            _set(data, parse_path(path), _plain(value))
        except _PathError as exc:
            problems.append((path, str(exc)))
    if problems:
        raise SettingsError(problems)
    return validate_settings(data)


def parse_path(path: str) -> list[Token]:
    """Split `path` into keys and list indexes, checking it against the Settings model."""
    tokens: list[Token] = []
    current: Any = Settings
    pos = 0
    while True:
        current = strip_annotation(current)
        origin = get_origin(current)
        at_end = pos == len(path)
        if isinstance(current, type) and issubclass(current, BaseModel):
            if at_end:
                return tokens
            if tokens:
                if path[pos] != ".":
                    raise _PathError(f"expected '.' after {_show(tokens)}")
                pos += 1
            match = _NAME.match(path, pos)
            if not match or match.group() not in current.model_fields:
                raise _PathError("is not a known setting")
            tokens.append(match.group())
            current = current.model_fields[match.group()].annotation
            pos = match.end()
        elif origin is list:
            if at_end:
                return tokens
            match = _INDEX.match(path, pos)
            if not match:
                raise _PathError(f"{_show(tokens)} is a list: address items as [index]")
            tokens.append(int(match.group(1)))
            current = get_args(current)[0]
            pos = match.end()
        elif origin is dict:
            if at_end:
                return tokens
            if path[pos] != "." or pos + 1 == len(path):
                raise _PathError(f"{_show(tokens)} is a table: address entries as .key")
            tokens.append(path[pos + 1 :])
            return tokens
        else:
            if at_end:
                return tokens
            raise _PathError(f"{_show(tokens)} is a single value, not a group")


def strip_annotation(annotation: Any) -> Any:
    """Drop `Annotated[...]` and `X | None` wrappers to find the structural type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _set(data: dict[str, Any], tokens: list[Token], value: object) -> None:
    if not tokens:
        raise _PathError("a path is required")
    container: Any = data
    for depth, token in enumerate(tokens[:-1]):
        container = _child(container, token, tokens[: depth + 1])
    last = tokens[-1]
    if isinstance(last, int):
        _child(container, last, tokens)  # range check
        container[last] = value
    elif value is None and _is_free_table_entry(tokens):
        container.pop(last, None)
    else:
        container[last] = value


def _child(container: Any, token: Token, so_far: list[Token]) -> Any:
    if isinstance(token, int):
        if not isinstance(container, list) or token >= len(container):
            size = len(container) if isinstance(container, list) else 0
            raise _PathError(f"there is no item {_show(so_far)} (the list has {size})")
        return container[token]
    return container[token]


def _is_free_table_entry(tokens: list[Token]) -> bool:
    """True when the last token is a key of a dict field (not a model field)."""
    current: Any = Settings
    for token in tokens:
        current = strip_annotation(current)
        if isinstance(token, int):
            current = get_args(current)[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            current = current.model_fields[token].annotation
        else:
            return get_origin(current) is dict
    return False


def _plain(value: object) -> object:
    """Models given as values (e.g. a new EndpointConfig) become plain data for re-validation."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="python")
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _show(tokens: list[Token]) -> str:
    out = ""
    for token in tokens:
        out += f"[{token}]" if isinstance(token, int) else (f".{token}" if out else token)
    return out
