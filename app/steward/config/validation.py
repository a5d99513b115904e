"""Validation of raw settings data, with problems named by field path in plain words.

Pydantic's errors are precise but written for programmers ("Input should be greater than or
equal to 1"); the GUI and the load warnings show `breaker.failure_threshold: must be at least 1
(got 0)` instead. The offending value is only ever shown as a bounded excerpt
(`steward.config.display`), and never when the validator marked it as possibly secret.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from steward.config.base import HiddenValueError
from steward.config.display import ROOT_PATH, cut, format_path, show_value
from steward.config.rules import broken
from steward.config.settings import Settings

__all__ = [
    "ROOT_PATH",
    "SettingsError",
    "SettingsProblem",
    "describe",
    "format_path",
    "problems_from",
    "unknown_keys",
    "validate_settings",
]

_REASON_CHARS = 240
"""Longest reason text; a validator quoting its input can never flood a message."""


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
        problems = problems_from(exc)
    # A field error keeps pydantic from checking its group's cross-field rule: check those here,
    # so every problem is reported (and counted) at once, not one after the other.
    reported = {p.path for p in problems}
    problems += [SettingsProblem(g, m) for g, m in broken(data, _default) if g not in reported]
    raise SettingsError(problems)


def _default(group: str, field: str) -> object:
    """The default of `group.field` (for a cross-field rule checked on raw data)."""
    model = Settings.model_fields[group].default_factory
    return getattr(model(), field) if model is not None else None  # type: ignore[call-arg]


def problems_from(exc: ValidationError) -> list[SettingsProblem]:
    """Turn pydantic's errors into `SettingsProblem`s, in the order pydantic reports them."""
    return [SettingsProblem(format_path(err["loc"]), _reason(err)) for err in exc.errors(include_url=False)]


def describe(err: ErrorDetails) -> tuple[str, str | None]:
    """(reason in plain words, excerpt of the offending value) of one pydantic error.

    The excerpt is None when there is nothing to show (a missing field) or when the value must
    not be shown (a possible secret).
    """
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    text = cut(_words(kind, ctx, err["msg"]), _REASON_CHARS)
    hidden = isinstance(ctx.get("error"), HiddenValueError)
    if kind == "missing" or hidden or "input" not in err:
        return text, None
    return text, show_value(err["input"])


def _reason(err: ErrorDetails) -> str:
    """The reason with a short note of the offending value, as shown next to a field."""
    text, shown = describe(err)
    if shown is None:
        return text
    value = err["input"]
    if isinstance(value, dict | list):
        # A rule about a whole group or list already names its fields; a type error says what it got.
        return text if err["type"] == "value_error" else f"{text} (got a {_container(value)})"
    return f"{text} (got {shown})"


def _container(value: object) -> str:
    return "table" if isinstance(value, dict) else "list"


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


def _words(kind: str, ctx: dict[str, Any], msg: str) -> str:
    if kind in _TYPE_WORDS:
        return _TYPE_WORDS[kind]
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "less_than":
        return f"must be less than {ctx['lt']}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters long"
    if kind == "string_too_short":
        return (
            "must not be empty"
            if ctx.get("min_length") == 1
            else f"must be at least {ctx['min_length']} characters long"
        )
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} items"
    if kind in ("enum", "literal_error"):
        return f"must be one of {ctx['expected']}"
    if kind == "value_error":
        return str(ctx.get("error", msg))
    return msg[:1].lower() + msg[1:]


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
