"""Map the user's `Settings` onto the engine's own `EngineSettings` dataclasses.

The mapping is driven by the engine's dataclass fields, so every engine tunable is carried
over by name; a field the engine gains without a settings counterpart fails loudly here
(and in the tests) instead of silently keeping its default.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from pydantic import BaseModel

from steward.config.settings import Settings
from steward.engine.settings import EngineSettings


def engine_settings(settings: Settings) -> EngineSettings:
    """The `EngineSettings` equivalent of `settings` (hand to `Engine.update_settings`)."""
    built = _build(EngineSettings(), settings)
    assert isinstance(built, EngineSettings)
    return built


def _build(template: Any, source: BaseModel) -> Any:
    """A copy of the dataclass instance `template` with every field taken from `source`."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(template):
        if f.name not in type(source).model_fields:
            owner = type(template).__name__
            raise LookupError(f"settings have no counterpart for engine field {owner}.{f.name}")
        default = getattr(template, f.name)
        value = getattr(source, f.name)
        if dataclasses.is_dataclass(default) and isinstance(value, BaseModel):
            values[f.name] = _build(default, value)
        elif isinstance(default, Enum):
            values[f.name] = type(default)(value)
        else:
            values[f.name] = value
    return dataclasses.replace(template, **values)
