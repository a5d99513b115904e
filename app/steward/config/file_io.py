"""Disk operations behind the settings file: crash-safe replacement and keeping originals aside.

Both exist so that no user data is ever lost: a save replaces the file atomically, and before
Steward stops using (part of) a file it keeps the original bytes next to it under a fresh,
time-stamped name that is never overwritten.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

_MAX_SAME_STAMP = 1000


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


class Backups:
    """Time-stamped copies of one file: `<name>.<tag>-YYYYMMDD-HHMMSS[-n]` in the same directory."""

    def __init__(self, path: Path, now: Callable[[], datetime]) -> None:
        self._path = path
        self._now = now

    def _names(self, tag: str) -> list[Path]:
        stem = f"{self._path.name}.{tag}-{self._now().strftime('%Y%m%d-%H%M%S')}"
        return [self._path.with_name(stem if n == 0 else f"{stem}-{n}") for n in range(_MAX_SAME_STAMP)]

    def move_aside(self, tag: str) -> Path:
        """Rename the file to a fresh backup name (an existing backup is never replaced)."""
        for candidate in self._names(tag):
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

    def keep_copy(self, raw: bytes, tag: str) -> Path | None:
        """A backup holding `raw`: an existing one with exactly these bytes, else a new one.

        Reusing an identical copy means loading the same file on every start writes it once.
        None when no copy could be written.
        """
        existing = self.find_copy(raw, tag)
        if existing is not None:
            return existing
        for candidate in self._names(tag):
            try:
                with open(candidate, "xb") as handle:
                    handle.write(raw)
            except FileExistsError:
                continue
            except OSError:
                return None
            return candidate
        return None

    def find_copy(self, raw: bytes, tag: str) -> Path | None:
        """The oldest existing `tag` backup whose content is exactly `raw`, if any."""
        prefix = f"{self._path.name}.{tag}-"
        try:
            names = sorted(p for p in self._path.parent.iterdir() if p.name.startswith(prefix))
        except OSError:
            return None
        for candidate in names:
            try:
                if (
                    candidate.is_file()
                    and candidate.stat().st_size == len(raw)
                    and candidate.read_bytes() == raw
                ):
                    return candidate
            except OSError:
                continue
        return None
