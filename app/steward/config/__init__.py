"""Typed settings stored as TOML, and secrets kept in the OS keyring."""

from steward.config.engine_map import engine_settings
from steward.config.migrations import MIGRATIONS, Migration, MigrationError
from steward.config.patch import apply_patch
from steward.config.recovery import BadField, salvage
from steward.config.secrets import NO_BACKEND_MESSAGE, SecretStore, SecretsUnavailable
from steward.config.settings import SCHEMA_VERSION, Settings
from steward.config.settings_file import (
    ENV_CONFIG_DIR,
    ExternalEditError,
    LoadResult,
    NewerSettingsFileError,
    SettingsFile,
    default_config_dir,
)
from steward.config.unknown import UnknownKey
from steward.config.validation import SettingsError, SettingsProblem, validate_settings

__all__ = [
    "ENV_CONFIG_DIR",
    "MIGRATIONS",
    "NO_BACKEND_MESSAGE",
    "SCHEMA_VERSION",
    "BadField",
    "ExternalEditError",
    "LoadResult",
    "Migration",
    "MigrationError",
    "NewerSettingsFileError",
    "SecretStore",
    "SecretsUnavailable",
    "Settings",
    "SettingsError",
    "SettingsFile",
    "SettingsProblem",
    "UnknownKey",
    "apply_patch",
    "default_config_dir",
    "engine_settings",
    "salvage",
    "validate_settings",
]
