"""Shared building blocks of the settings model: the base group class and constrained field types.

Every group is strict (a TOML string is never silently turned into a number, a float never
into an int), frozen (settings are replaced, never mutated, so the engine and the GUI can
share one object safely) and keeps unknown keys (a typo or a key written by a newer Steward
is reported as a warning and written back unchanged instead of being lost).

Every text field has an upper length bound. The file is hand-editable, so a 10 MB id is a
realistic accident; the bound rejects it before any validator copies it into a message.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from steward.engine.tasks import TaskType


class SettingsGroup(BaseModel):
    """Base of every settings group (and of `Settings` itself)."""

    model_config = ConfigDict(
        strict=True,
        frozen=True,
        extra="allow",
        allow_inf_nan=False,
        validate_default=False,
    )


class HiddenValueError(ValueError):
    """A validation failure whose offending value must never be echoed (it may be a secret).

    Validators raise it instead of `ValueError` when the input could be an API key or a URL
    carrying a password; messages built from it leave the value out.
    """


# Durations: a zero or negative timeout would fire immediately or never make sense.
PositiveSeconds = Annotated[float, Field(gt=0)]
# Delays where 0 has a meaning ("no delay", e.g. hedge delay 0 = race).
NonNegativeSeconds = Annotated[float, Field(ge=0)]
# Shares and rates.
Fraction = Annotated[float, Field(ge=0, le=1)]
# A TCP port that must be a real port.
Port = Annotated[int, Field(ge=1, le=65535)]
# A TCP port where 0 means "pick a free one".
PortOrAuto = Annotated[int, Field(ge=0, le=65535)]
# Counts that can legitimately be zero (e.g. "no retries").
NonNegativeInt = Annotated[int, Field(ge=0)]
# Counts that must be at least one.
PositiveInt = Annotated[int, Field(ge=1)]

# Length bounds of text (characters).
MAX_NAME_CHARS = 200
"""Ids, profile names, model names, hosts, page names: anything shown as a label."""
MAX_MODEL_KEY_CHARS = 2 * MAX_NAME_CHARS + 1
"""A "server/model" key: a server id, a slash and a model name."""
MAX_URL_CHARS = 2048
"""URLs (the de-facto limit of browsers and most HTTP servers)."""
MAX_TEXT_CHARS = 4096
"""Free text such as file paths, command-line arguments and environment values (PATH_MAX)."""

# A label-like name (further checked by the field's own validator where it has a syntax).
Name = Annotated[str, Field(max_length=MAX_NAME_CHARS)]
# A "server/model" key (its syntax is checked by `app_groups.check_model_key`).
ModelKeyText = Annotated[str, Field(max_length=MAX_MODEL_KEY_CHARS)]
# An http(s) URL (its syntax is checked by the endpoint's validator).
UrlText = Annotated[str, Field(max_length=MAX_URL_CHARS)]
# Free text (paths, arguments, environment values).
Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


def check_task_name(value: str) -> str:
    """A task type the router guesses ("coding" and "CODING" both name CODING)."""
    name = value.strip().upper()
    if name not in TaskType.__members__:
        raise ValueError(
            f"unknown task type {value!r}; expected one of {', '.join(t.value for t in TaskType)}"
        )
    return name


# A task type name (the keys of per-task settings).
TaskName = Annotated[str, AfterValidator(check_task_name)]
