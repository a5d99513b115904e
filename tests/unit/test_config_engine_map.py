"""engine_settings(): every engine tunable exists in Settings with the same default and is carried over."""

from __future__ import annotations

import dataclasses
from enum import Enum
from typing import Any

from pydantic import BaseModel

from steward.config import Settings, engine_settings
from steward.engine.settings import EngineSettings


def _engine_leaves(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value for every non-dataclass field of an engine settings dataclass."""
    leaves: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            leaves.update(_engine_leaves(value, f"{prefix}{f.name}."))
        else:
            leaves[f"{prefix}{f.name}"] = value
    return leaves


def _settings_value(settings: BaseModel, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _other_valid_value(value: Any) -> Any:
    """A different value of the same type that every constraint still accepts."""
    if isinstance(value, Enum):
        return next(member for member in type(value) if member != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if value > 1 else (value + 1) / 2  # stays in [0, 1] for fractions, >= 1 above
    if isinstance(value, dict) and not value:
        return {"CODING": 1}  # per-task-type tables: a value every one of them accepts
    raise TypeError(f"no rule for {type(value).__name__}")


def test_settings_cover_every_engine_field_with_the_same_default() -> None:
    defaults = Settings()
    for path, engine_default in _engine_leaves(EngineSettings()).items():
        assert _settings_value(defaults, path) == engine_default, path


def test_default_settings_map_to_default_engine_settings() -> None:
    assert engine_settings(Settings()) == EngineSettings()


def test_mapping_carries_every_field() -> None:
    changes = {path: _other_valid_value(v) for path, v in _engine_leaves(EngineSettings()).items()}
    settings = Settings().with_changes(changes)
    mapped = _engine_leaves(engine_settings(settings))
    defaults = _engine_leaves(EngineSettings())
    assert mapped.keys() == changes.keys()
    for path, expected in changes.items():
        assert mapped[path] == expected, path
        assert mapped[path] != defaults[path], path
        assert type(mapped[path]) is type(defaults[path]), path  # enums stay engine enums
