"""Validation of raw settings data, with problems named by field path in plain words.

Pydantic's errors are precise but written for programmers ("Input should be greater than or
equal to 1"); the GUI and the load warnings show `breaker.failure_threshold: must be at least 1
(got 0)` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from steward.config.settings import Settings

ROOT_PATH = "(settings)"
"""Path used for problems that concern the whole file rather than one field."""


class SettingsProblem(NamedTuple):
    """One invalid field: where (dotted path, list items as `[i]`) and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class SettingsError(ValueError):
    """Settings data was rejected; `.problems` lists every (field_path, reason)."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems: list[SettingsProblem] = [SettingsProblem(p, r) for p, r in problems]
        super().__init__("invalid settings: " + "; ".join(str(p) for p in self.problems))


def validate_settings(data: Mapping[str, Any]) -> Settings:
    """Validate raw data (e.g. parsed TOML) into `Settings`, or raise `SettingsError`.

    Unknown keys are not errors: they are kept (see `unknown_keys`) so a file written by a newer
    Steward, or hand edits, survive a load/save cycle.
    """
    if not isinstance(data, Mapping):
        raise SettingsError([(ROOT_PATH, f"must be a table of settings, got {type(data).__name__}")])
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise SettingsError(problems_from(exc)) from None


def problems_from(exc: ValidationError) -> list[SettingsProblem]:
    """Turn pydantic's errors into `SettingsProblem`s, in the order pydantic reports them."""
    return [SettingsProblem(format_path(err["loc"]), _reason(err)) for err in exc.errors(include_url=False)]


def format_path(loc: Sequence[int | str]) -> str:
    """`("endpoints", 0, "base_url")` -> `"endpoints[0].base_url"`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            out += " (key)"
        else:
            out += f".{part}" if out else part
    return out or ROOT_PATH


def unknown_keys(settings: BaseModel, prefix: str = "") -> list[str]:
    """Paths of keys present in the data but unknown to this version (kept, but ignored)."""
    found = [f"{prefix}{key}" for key in (settings.model_extra or {})]
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, BaseModel):
            found += unknown_keys(value, f"{prefix}{name}.")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found += unknown_keys(item, f"{prefix}{name}[{index}].")
    return found


_TYPE_WORDS = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "missing": "is required",
    "extra_forbidden": "is not a known setting",
}


def _reason(err: ErrorDetails) -> str:
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind in _TYPE_WORDS:
        text = _TYPE_WORDS[kind]
    elif kind == "greater_than_equal":
        text = f"must be at least {ctx['ge']}"
    elif kind == "greater_than":
        text = f"must be greater than {ctx['gt']}"
    elif kind == "less_than_equal":
        text = f"must be at most {ctx['le']}"
    elif kind == "less_than":
        text = f"must be less than {ctx['lt']}"
    elif kind in ("enum", "literal_error"):
        text = f"must be one of {ctx['expected']}"
    elif kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
    else:
        text = err["msg"][:1].lower() + err["msg"][1:]
    if kind in ("missing", "value_error") or "input" not in err:
        return text
    return f"{text} (got {_short(err['input'])})"


def _short(value: object, limit: int = 60) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
