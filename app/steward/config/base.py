"""Shared building blocks of the settings model: the base group class and constrained field types.

Every group is strict (a TOML string is never silently turned into a number, a float never
into an int), frozen (settings are replaced, never mutated, so the engine and the GUI can
share one object safely) and keeps unknown keys (a typo or a key written by a newer Steward
is reported as a warning and written back unchanged instead of being lost).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class SettingsGroup(BaseModel):
    """Base of every settings group (and of `Settings` itself)."""

    model_config = ConfigDict(
        strict=True,
        frozen=True,
        extra="allow",
        allow_inf_nan=False,
        validate_default=False,
    )


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
