"""Platform directories for config, data, logs and cache (each overridable by env for tests)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "steward"


def _dir(env: str, default: str) -> Path:
    override = os.environ.get(env)
    return Path(override) if override else Path(default)


def config_dir() -> Path:
    return _dir("STEWARD_CONFIG_DIR", platformdirs.user_config_dir(APP))


def data_dir() -> Path:
    return _dir("STEWARD_DATA_DIR", platformdirs.user_data_dir(APP))


def log_dir() -> Path:
    return _dir("STEWARD_LOG_DIR", platformdirs.user_log_dir(APP))


def cache_dir() -> Path:
    return _dir("STEWARD_CACHE_DIR", platformdirs.user_cache_dir(APP))
