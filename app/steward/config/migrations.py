"""Settings file schema migrations: functions that turn version-N data into version N+1.

`MIGRATIONS[n]` migrates raw (parsed TOML) data from schema n to n+1. When the layout changes,
bump `SCHEMA_VERSION` in `steward.config.settings` and register the step here; old files are
then upgraded on load. Schema 1 is the first layout, so the registry starts empty.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

Migration = Callable[[dict[str, Any]], dict[str, Any]]

MIGRATIONS: Mapping[int, Migration] = MappingProxyType({})


class MigrationError(Exception):
    """Data could not be migrated (missing step, or a step failed)."""


def migrate(
    data: Mapping[str, Any], *, from_version: int, to_version: int, migrations: Mapping[int, Migration]
) -> dict[str, Any]:
    """Apply each step from `from_version` up to `to_version`; the input is not modified."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    for version in range(from_version, to_version):
        step = migrations.get(version)
        if step is None:
            raise MigrationError(f"no migration from schema v{version} to v{version + 1}")
        try:
            result = step(result)
        except Exception as exc:
            raise MigrationError(f"migration v{version} -> v{version + 1} failed: {exc}") from exc
        if not isinstance(result, dict):
            raise MigrationError(f"migration v{version} -> v{version + 1} did not return a table")
        result["schema_version"] = version + 1
    return result
