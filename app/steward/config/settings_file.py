"""The settings file (TOML): loading that never fails on bad content, and crash-safe saving.

Decisions:
- A missing file means defaults; nothing is written until the user saves.
- A file that cannot be read, is not TOML, or holds invalid values is MOVED aside to
  `settings.toml.corrupt-YYYYMMDD-HHMMSS` (never overwritten, never deleted), defaults are
  loaded and a warning says what was wrong and where the original is. Partial salvage is not
  attempted: a half-applied file would be more confusing than a clean start plus a backup.
- Unknown keys are kept (written back unchanged) and reported as warnings.
- An older schema is migrated on load; the original bytes are first copied to
  `settings.toml.vN-YYYYMMDD-HHMMSS`, and the migrated data reaches disk on the next save.
- A NEWER schema (written by a later Steward) is loaded best effort with a warning and never
  moved aside. `save()` then refuses with `NewerSettingsFileError` so an automatic save cannot
  downgrade it; the GUI's explicit "save anyway" passes `overwrite_newer=True`.
- Saving is atomic: temp file in the same directory, flush + fsync, `os.replace`, fsync of the
  directory. A crash at any point leaves either the old or the new file, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from steward import paths
from steward.config.migrations import MIGRATIONS, Migration, MigrationError, migrate
from steward.config.settings import SCHEMA_VERSION, Settings
from steward.config.validation import SettingsError, unknown_keys, validate_settings

ENV_CONFIG_DIR = "STEWARD_CONFIG_DIR"  # read by steward.paths.config_dir
FILE_NAME = "settings.toml"
_HEADER = (
    "# Steward settings, written by Steward. Hand edits are fine while Steward is closed.\n"
    "# API keys are never stored here: they live in the OS keyring (see api_key_ref).\n\n"
)
_MAX_LISTED_PROBLEMS = 8


def default_config_dir() -> Path:
    """`$STEWARD_CONFIG_DIR` if set, else the platform's per-user config dir for "steward"."""
    return paths.config_dir()


@dataclass(frozen=True)
class LoadResult:
    """What `load()` produced: settings to use, warnings to show, and where a bad file went."""

    settings: Settings
    warnings: list[str] = field(default_factory=list)
    backup_path: Path | None = None


class NewerSettingsFileError(Exception):
    """`save()` refused to overwrite a file written by a newer Steward (pass overwrite_newer=True)."""


def to_toml_data(settings: Settings) -> dict[str, Any]:
    """Plain TOML-ready data: enums as strings, None values omitted, unknown keys kept."""
    plain = _plain(settings.model_dump(mode="python", exclude_none=True))
    assert isinstance(plain, dict)
    return plain


def _plain(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value if v is not None]
    return value


def dumps(settings: Settings, schema_version: int = SCHEMA_VERSION) -> str:
    """The file text `save()` writes for `settings`."""
    data = to_toml_data(settings)
    data["schema_version"] = schema_version
    return _HEADER + tomli_w.dumps(data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new content."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); some file systems refuse, which is harmless."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class SettingsFile:
    """One settings file on disk. Stateless between calls: every load/save looks at the disk."""

    def __init__(
        self,
        path: Path,
        *,
        migrations: Mapping[int, Migration] = MIGRATIONS,
        schema_version: int = SCHEMA_VERSION,
        now: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._path = Path(path)
        self._migrations = migrations
        self._schema_version = schema_version
        self._now = now

    @classmethod
    def default(cls) -> SettingsFile:
        """The user's settings file (`default_config_dir() / "settings.toml"`)."""
        return cls(default_config_dir() / FILE_NAME)

    @property
    def path(self) -> Path:
        return self._path

    def load(self) -> LoadResult:
        """Read the settings. Never raises for bad content (see the module docstring)."""
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return LoadResult(Settings())
        except OSError as exc:
            return self._reject(f"could not be read ({exc.strerror or exc})")
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return self._reject("is not UTF-8 text")
        except tomllib.TOMLDecodeError as exc:
            return self._reject(f"is not valid TOML ({exc})")
        except (RecursionError, MemoryError, ValueError):
            return self._reject("is not valid TOML (too deeply nested or too large)")

        version = data.get("schema_version", 1)  # hand-written files may omit it
        if type(version) is not int or version < 1:
            return self._reject(f"has an invalid schema_version ({version!r}; must be a whole number >= 1)")
        if version > self._schema_version:
            return self._load_newer(data, version)
        migrated = version < self._schema_version
        if migrated:
            try:
                data = migrate(
                    data, from_version=version, to_version=self._schema_version, migrations=self._migrations
                )
            except MigrationError as exc:
                return self._reject(f"could not be upgraded from schema v{version} ({exc})")
        try:
            settings = validate_settings(data)
        except SettingsError as exc:
            return self._reject("has invalid values: " + _list_problems(exc))
        except Exception as exc:  # a validator tripping over garbage must not stop the app
            return self._reject(f"could not be validated ({type(exc).__name__})")

        warnings: list[str] = []
        backup: Path | None = None
        if migrated:
            backup = self._copy_aside(raw, f"v{version}")
            kept = f"the original is kept at {backup}" if backup else "the original could not be copied"
            warnings.append(
                f"{self._path} was upgraded from schema v{version} to v{self._schema_version}; {kept}. "
                "It is rewritten on the next save."
            )
        warnings += _unknown_key_warnings(settings, self._path)
        return LoadResult(settings, warnings, backup)

    def save(self, settings: Settings, *, overwrite_newer: bool = False) -> None:
        """Write `settings` atomically (non-secret data only; there is none other in Settings).

        Raises `NewerSettingsFileError` when the file on disk was written by a newer Steward and
        `overwrite_newer` is False, and `OSError` when the file cannot be written.
        """
        target = self._path.resolve() if self._path.is_symlink() else self._path
        if not overwrite_newer:
            on_disk = _version_on_disk(target)
            if on_disk is not None and on_disk > self._schema_version:
                raise NewerSettingsFileError(
                    f"{target} was written by a newer Steward (schema v{on_disk}, this version writes "
                    f"v{self._schema_version}); saving would drop what this version does not understand"
                )
        payload = dumps(settings, self._schema_version).encode("utf-8")
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(target, payload)

    def _load_newer(self, data: dict[str, Any], version: int) -> LoadResult:
        intro = (
            f"{self._path} was written by a newer Steward (schema v{version}; this version knows "
            f"v{self._schema_version})"
        )
        try:
            settings = validate_settings(data)
        except Exception as exc:
            detail = _list_problems(exc) if isinstance(exc, SettingsError) else type(exc).__name__
            return LoadResult(
                Settings(),
                [f"{intro}; it could not be read ({detail}). Defaults are used, the file is left alone."],
            )
        warnings = [f"{intro}; loaded what this version understands. It is only overwritten if you save."]
        return LoadResult(settings, warnings + _unknown_key_warnings(settings, self._path))

    def _reject(self, reason: str) -> LoadResult:
        try:
            backup = self._move_aside()
        except OSError as exc:
            return LoadResult(
                Settings(),
                [
                    f"{self._path} {reason}. It could not be moved aside ({exc.strerror or exc}); "
                    "default settings are used and the file is left as it is."
                ],
            )
        return LoadResult(
            Settings(),
            [f"{self._path} {reason}. It was moved to {backup}; default settings are used."],
            backup,
        )

    def _backup_names(self, tag: str) -> list[Path]:
        stem = f"{self._path.name}.{tag}-{self._now().strftime('%Y%m%d-%H%M%S')}"
        return [self._path.with_name(stem if n == 0 else f"{stem}-{n}") for n in range(1000)]

    def _move_aside(self) -> Path:
        """Rename the file to a fresh `.corrupt-<stamp>` name; an existing backup is never replaced."""
        for candidate in self._backup_names("corrupt"):
            try:
                os.link(self._path, candidate, follow_symlinks=False)
            except FileExistsError:
                continue
            except OSError:  # no hard links here (or a directory): rename, checking first
                if candidate.exists() or candidate.is_symlink():
                    continue
                os.rename(self._path, candidate)
                return candidate
            os.unlink(self._path)
            return candidate
        raise OSError("no free backup name")

    def _copy_aside(self, raw: bytes, tag: str) -> Path | None:
        for candidate in self._backup_names(tag):
            try:
                with open(candidate, "xb") as handle:
                    handle.write(raw)
            except FileExistsError:
                continue
            except OSError:
                return None
            return candidate
        return None


def _version_on_disk(path: Path) -> int | None:
    try:
        version = tomllib.loads(path.read_bytes().decode("utf-8")).get("schema_version")
    except (OSError, ValueError, RecursionError):
        return None
    return version if type(version) is int else None


def _list_problems(exc: SettingsError) -> str:
    shown = [str(p) for p in exc.problems[:_MAX_LISTED_PROBLEMS]]
    more = len(exc.problems) - len(shown)
    return "; ".join(shown) + (f" (and {more} more)" if more > 0 else "")


def _unknown_key_warnings(settings: Settings, path: Path) -> list[str]:
    return [
        f"unknown setting '{key}' in {path}: kept as is but not used by this version"
        for key in unknown_keys(settings)
    ]
