"""Where the history database lives: the platform's user data dir, or `$STEWARD_DATA_DIR`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "STEWARD_DATA_DIR"
DB_FILENAME = "steward.db"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$STEWARD_DATA_DIR` if set (tests, portable installs), else platformdirs' user data dir."""
    environ = os.environ if env is None else env
    override = environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("steward", appauthor=False))


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    return default_data_dir(env) / DB_FILENAME
