"""The settings file (TOML): loading that never fails on bad content, and crash-safe saving.

Decisions:
- A missing file means defaults; nothing is written until the user saves.
- Two ways to load. `load()` is the app's: it may keep a copy of the original aside (below).
  `check()` (= `load(recover=False)`) reads, reports and writes nothing; `steward config
  validate/show` use it, so validating twice fails twice and leaves the file byte-for-byte alone.
- Invalid values are recovered PARTIALLY (`steward.config.recovery`): only the smallest part that
  can be left out goes (a field falls back to its default, a bad list item or table entry is
  dropped, an endpoint without a valid URL is dropped whole) and everything else is used. Each
  left-out field is reported with its path, a bounded excerpt of its value and the reason, on
  every load until the file is fixed: the file itself is not rewritten by loading.
  (Earlier versions discarded the whole file on one bad value, taking the endpoints with it.)
- When the app loads a file with invalid values, the original bytes are first copied to
  `settings.toml.corrupt-YYYYMMDD-HHMMSS` (never overwritten; an identical existing copy is
  reused, so repeated starts write it once). The next save writes only the valid settings.
- A file that cannot be used at all (unreadable, not UTF-8, not TOML, not upgradable) is MOVED
  aside to such a `.corrupt-…` name by the app and defaults are loaded; `check()` only reports it.
- Unknown keys are kept (written back unchanged) and reported with a "did you mean" hint.
- An older schema is migrated on load; the app first copies the original bytes to
  `settings.toml.vN-YYYYMMDD-HHMMSS`, and the migrated data reaches disk on the next save.
- A NEWER schema (written by a later Steward) is loaded best effort with a warning and never
  moved or copied aside. `save()` then refuses with `NewerSettingsFileError` so an automatic save
  cannot downgrade it; the GUI's explicit "save anyway" passes `overwrite_newer=True`.
- Saving is atomic (`steward.config.file_io`): a crash leaves the old or the new file, never a mix.
- An edit made outside Steward is never overwritten silently: the file remembers a digest of the
  bytes it last read or wrote, and `save()` refuses with `ExternalEditError` when the disk holds
  something else (the app then reloads it, or the user chooses to overwrite it). A file never
  read nor written by this object (tests, first save) is written as before.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import tomli_w

from steward import paths
from steward.config.file_io import Backups, atomic_write_bytes
from steward.config.migrations import MIGRATIONS, Migration, MigrationError, migrate
from steward.config.recovery import BadField, Salvage, salvage
from steward.config.settings import SCHEMA_VERSION, Settings
from steward.config.unknown import UnknownKey

__all__ = [
    "ENV_CONFIG_DIR",
    "FILE_NAME",
    "ExternalEditError",
    "LoadResult",
    "NewerSettingsFileError",
    "SettingsFile",
    "atomic_write_bytes",
    "default_config_dir",
    "dumps",
    "to_toml_data",
]

ENV_CONFIG_DIR = "STEWARD_CONFIG_DIR"  # read by steward.paths.config_dir
FILE_NAME = "settings.toml"
_HEADER = (
    "# Steward settings, written by Steward. Hand edits are fine while Steward is closed.\n"
    "# API keys are never stored here: they live in the OS keyring (see api_key_ref).\n\n"
)
MAX_LISTED_FIELDS = 50
"""Invalid fields listed one warning each; the rest are counted (all are in `LoadResult.invalid`)."""


def default_config_dir() -> Path:
    """`$STEWARD_CONFIG_DIR` if set, else the platform's per-user config dir for "steward"."""
    return paths.config_dir()


@dataclass(frozen=True)
class LoadResult:
    """What loading produced: settings to use, warnings to show, and what was wrong with the file."""

    settings: Settings
    warnings: list[str] = field(default_factory=list)
    backup_path: Path | None = None
    """Where the app kept the original bytes (copy or moved file); always None for `check()`."""
    invalid: list[BadField] = field(default_factory=list)
    """Invalid settings that were left out (the rest of the file is used)."""
    unknown: list[UnknownKey] = field(default_factory=list)
    """Keys this version does not know (kept, not used)."""
    unusable: str | None = None
    """Why the whole file could not be used (then `settings` are the defaults)."""

    @property
    def valid(self) -> bool:
        """True when the file (if any) was used completely; unknown keys do not count."""
        return self.unusable is None and not self.invalid


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


class _Unusable(Exception):
    """The file as a whole cannot be used; the message completes "<path> ..."."""


class ExternalEditError(Exception):
    """The file changed on disk since Steward last read or wrote it; saving would lose that edit."""


_MISSING = "missing"


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class SettingsFile:
    """One settings file on disk. Every load/save looks at the disk; the only state kept is a
    digest of what was last read or written (to notice edits made outside Steward)."""

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
        self._backups = Backups(self._path, now)
        self._seen: str | None = None

    @classmethod
    def default(cls) -> SettingsFile:
        """The user's settings file (`default_config_dir() / "settings.toml"`)."""
        return cls(default_config_dir() / FILE_NAME)

    @property
    def path(self) -> Path:
        return self._path

    def _on_disk(self) -> str:
        try:
            return _digest(self._path.read_bytes())
        except FileNotFoundError:
            return _MISSING

    def changed_outside(self) -> bool:
        """True when the file on disk is not what this object last read or wrote (an outside edit);
        False when it never read or wrote it."""
        if self._seen is None:
            return False
        try:
            return self._on_disk() != self._seen
        except OSError:
            return True

    def mark_seen(self) -> None:
        """Take the file as it is on disk now as seen (the user chose to keep Steward's settings
        over an outside edit: the next save may overwrite it)."""
        try:
            self._seen = self._on_disk()
        except OSError:
            self._seen = None

    def check(self) -> LoadResult:
        """Read and report without touching the disk (same as `load(recover=False)`); what was read
        is not taken as seen (an outside edit stays protected until `mark_seen`)."""
        return self.load(recover=False, remember=False)

    def load(self, *, recover: bool = True, remember: bool = True) -> LoadResult:
        """Read the settings. Never raises for bad content (see the module docstring).

        With `recover` (the app's start) the original of a file with invalid values is copied
        aside and an unusable file is moved aside; without it nothing on disk changes. With
        `remember` what was read counts as seen (see `changed_outside`).
        """
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            if remember:
                self._seen = _MISSING
            return LoadResult(Settings())
        except OSError as exc:
            return self._unusable(f"could not be read ({exc.strerror or exc})", recover)
        if remember:
            self._seen = _digest(raw)
        try:
            data, version = self._parse(raw)
            if version > self._schema_version:
                return self._load_newer(data, version)
            found = self._salvage(data)
        except _Unusable as exc:
            return self._unusable(str(exc), recover)

        warnings: list[str] = []
        backup: Path | None = None
        if version < self._schema_version:
            backup = self._backups.keep_copy(raw, f"v{version}") if recover else None
            warnings.append(self._upgrade_note(version, backup, recover))
        if found.invalid:
            if recover and backup is None:
                backup = self._backups.keep_copy(raw, "corrupt")
            warnings += self._invalid_notes(found.invalid, backup, recover)
        warnings += self._unknown_notes(found.unknown)
        return LoadResult(found.settings, warnings, backup, found.invalid, found.unknown)

    def save(
        self, settings: Settings, *, overwrite_newer: bool = False, overwrite_external: bool = False
    ) -> None:
        """Write `settings` atomically (non-secret data only; there is none other in Settings).

        Raises `NewerSettingsFileError` when the file on disk was written by a newer Steward and
        `overwrite_newer` is False, `ExternalEditError` when it was edited outside Steward since it
        was last read or written and `overwrite_external` is False, and `OSError` when the file
        cannot be written.
        """
        if not overwrite_external and self.changed_outside():
            raise ExternalEditError(
                f"{self._path} was changed outside Steward since Steward read it; reload it from disk "
                "or choose to overwrite it"
            )
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
        self._seen = _digest(payload)

    # --- reading ------------------------------------------------------------------------------

    def _parse(self, raw: bytes) -> tuple[dict[str, Any], int]:
        """TOML data (migrated to this schema unless newer) and the file's schema version."""
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Unusable("is not UTF-8 text") from None
        except tomllib.TOMLDecodeError as exc:
            raise _Unusable(f"is not valid TOML ({exc})") from None
        except (RecursionError, MemoryError, ValueError):
            raise _Unusable("is not valid TOML (too deeply nested or too large)") from None
        version = data.get("schema_version", 1)  # hand-written files may omit it
        if type(version) is not int or version < 1:
            # Reported (and left out) by salvage like any bad value; the layout is taken as current.
            return data, self._schema_version
        if version < self._schema_version:
            try:
                data = migrate(
                    data, from_version=version, to_version=self._schema_version, migrations=self._migrations
                )
            except MigrationError as exc:
                raise _Unusable(f"could not be upgraded from schema v{version} ({exc})") from None
        return data, version

    @staticmethod
    def _salvage(data: Mapping[str, Any]) -> Salvage:
        try:
            return salvage(data)
        except Exception as exc:  # a validator tripping over garbage must not stop the app
            raise _Unusable(f"could not be validated ({type(exc).__name__})") from None

    def _load_newer(self, data: dict[str, Any], version: int) -> LoadResult:
        intro = (
            f"{self._path} was written by a newer Steward (schema v{version}; this version knows "
            f"v{self._schema_version})"
        )
        try:
            found = self._salvage(data)
        except _Unusable as exc:
            text = f"{intro}; it {exc}. Defaults are used, the file is left alone."
            return LoadResult(Settings(), [text], unusable=str(exc))
        warnings = [f"{intro}; loaded what this version understands. It is only overwritten if you save."]
        if found.invalid:
            warnings += self._invalid_notes(found.invalid, None, recover=False)
        warnings += self._unknown_notes(found.unknown)
        return LoadResult(found.settings, warnings, None, found.invalid, found.unknown)

    # --- reporting ----------------------------------------------------------------------------

    def _unusable(self, reason: str, recover: bool) -> LoadResult:
        if not recover:
            text = f"{self._path} {reason}. Steward would set it aside and use defaults; the file is left unchanged."
            return LoadResult(Settings(), [text], unusable=reason)
        try:
            backup = self._backups.move_aside("corrupt")
        except OSError as exc:
            text = (
                f"{self._path} {reason}. It could not be moved aside ({exc.strerror or exc}); "
                "default settings are used and the file is left as it is."
            )
            return LoadResult(Settings(), [text], unusable=reason)
        self._seen = _MISSING
        text = f"{self._path} {reason}. It was moved to {backup}; default settings are used."
        return LoadResult(Settings(), [text], backup, unusable=reason)

    def _upgrade_note(self, version: int, backup: Path | None, recover: bool) -> str:
        head = f"{self._path} was upgraded from schema v{version} to v{self._schema_version}"
        if not recover:
            return f"{head} in memory; the file is left unchanged (Steward rewrites it when it next saves)."
        kept = f"the original is kept at {backup}" if backup else "the original could not be copied"
        return f"{head}; {kept}. It is rewritten on the next save."

    def _invalid_notes(self, invalid: list[BadField], backup: Path | None, recover: bool) -> list[str]:
        count = f"{len(invalid)} invalid setting{'s' if len(invalid) != 1 else ''}"
        head = f"{self._path} has {count}; each is left out and the rest is used."
        if not recover:
            head += " The file is left unchanged: fix it by hand or save from Steward."
        elif backup is not None:
            head += f" The original is kept at {backup}; the next save writes only the valid settings."
        else:
            head += " The original could not be copied aside; it stays as it is until the next save."
        notes = [head, *(f"invalid setting {bad}" for bad in invalid[:MAX_LISTED_FIELDS])]
        if len(invalid) > MAX_LISTED_FIELDS:
            notes.append(f"… and {len(invalid) - MAX_LISTED_FIELDS} more invalid settings")
        return notes

    def _unknown_notes(self, unknown: list[UnknownKey]) -> list[str]:
        notes = []
        for key in unknown:
            hint = f" (did you mean '{key.suggestion}'?)" if key.suggestion else ""
            notes.append(
                f"unknown setting '{key.path}' in {self._path}: kept as is but not used by this version{hint}"
            )
        return notes


def _version_on_disk(path: Path) -> int | None:
    try:
        version = tomllib.loads(path.read_bytes().decode("utf-8")).get("schema_version")
    except (OSError, ValueError, RecursionError):
        return None
    return version if type(version) is int else None
