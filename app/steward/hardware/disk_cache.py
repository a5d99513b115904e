"""What was read from each model file, kept between scans so a rescan reads only new or changed
files: a JSON file keyed by the file's real path, valid while its mtime and size are unchanged.

A cache file that cannot be read as this format is moved aside (``<name>.corrupt-<time>``, kept
for a look) and the cache starts empty: a broken cache costs one full rescan, never a crash.
Writes go to a temporary file first and replace the old one in one step.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from steward.hardware.spec import ModelSpec

log = logging.getLogger(__name__)

VERSION = 1
_SPEC_FIELDS = {f.name for f in dataclasses.fields(ModelSpec)}


def _tuples(value: Any) -> Any:
    """JSON arrays back to the tuples a frozen `ModelSpec` holds (per-layer arrays, repack lists)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class CachedRead:
    """One file's reading: its spec, or why it is no model (`skip`), or why it could not be read."""

    mtime_ns: int
    size: int
    spec: ModelSpec | None = None
    skip: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        spec = dataclasses.asdict(self.spec) if self.spec is not None else None
        return {
            "mtime_ns": self.mtime_ns,
            "size": self.size,
            "spec": spec,
            "skip": self.skip,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CachedRead:
        spec = data.get("spec")
        return cls(
            mtime_ns=int(data["mtime_ns"]),
            size=int(data["size"]),
            spec=ModelSpec(**{k: _tuples(v) for k, v in spec.items() if k in _SPEC_FIELDS}) if spec else None,
            skip=data.get("skip"),
            error=data.get("error"),
        )


class SpecCache:
    """The persisted readings; `get` answers only for an unchanged file, `save` keeps the `seen` ones."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, CachedRead] = {}
        self.backup: Path | None = None
        """Where a corrupt cache file was moved on load (None when it was fine or absent)."""

    def load(self) -> SpecCache:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self
        except OSError as exc:
            log.warning("model cache %s unreadable (%s): rescanning everything", self.path, exc)
            return self
        try:
            data = json.loads(text)
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, expected {VERSION}")
            self.entries = {str(k): CachedRead.from_json(v) for k, v in data["entries"].items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            self.entries = {}
            self.backup = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                os.replace(self.path, self.backup)
            except OSError:
                self.backup = None
            log.warning(
                "model cache %s is corrupt (%s); moved to %s, rebuilding", self.path, exc, self.backup
            )
        return self

    def get(self, real: str, mtime_ns: int, size: int) -> CachedRead | None:
        entry = self.entries.get(real)
        if entry is None or entry.mtime_ns != mtime_ns or entry.size != size:
            return None
        return entry

    def put(self, real: str, entry: CachedRead) -> None:
        self.entries[real] = entry

    def save(self, seen: set[str]) -> None:
        """Write the entries of the files seen in this scan (files gone since are forgotten)."""
        self.entries = {k: v for k, v in self.entries.items() if k in seen}
        data = {"version": VERSION, "entries": {k: v.to_json() for k, v in sorted(self.entries.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)
