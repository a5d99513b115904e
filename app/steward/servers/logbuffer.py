"""Server output: a bounded in-memory ring for the UI's log view plus a rotating log file.

The ring keeps the newest `capacity` lines (old ones fall off, memory stays flat however
chatty the server is); the file rotates at `max_bytes` keeping `backups` old files.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class LogLine:
    """One line of server output. `ts` is wall-clock time; `stream` is "stdout" or "stderr"."""

    ts: float
    stream: str
    text: str


class LogRing:
    """The newest `capacity` lines; `seq` counts every line ever added (for incremental views)."""

    def __init__(self, capacity: int = 2000) -> None:
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self.seq = 0

    def add(self, line: LogLine) -> None:
        self._lines.append(line)
        self.seq += 1

    def tail(self, count: int | None = None) -> list[LogLine]:
        lines = list(self._lines)
        return lines if count is None else lines[-count:] if count > 0 else []

    def texts_since(self, seq: int) -> list[str]:
        """Texts of the lines added after the ring's `seq` was `seq` (those still held)."""
        new = self.seq - seq
        return [line.text for line in self.tail(new)] if new > 0 else []

    def __len__(self) -> int:
        return len(self._lines)


class RotatingLog:
    """Append lines to `path`; rotate to `path.1` .. `path.<backups>` past `max_bytes`."""

    def __init__(self, path: Path, max_bytes: int = 1_000_000, backups: int = 3) -> None:
        self.path = path
        self._max = max_bytes
        self._backups = backups
        self._handle: BinaryIO | None = None

    def write(self, text: str) -> None:
        try:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("ab")
            self._handle.write(text.encode("utf-8", "replace") + b"\n")
            self._handle.flush()
            if self._handle.tell() >= self._max:
                self._rotate()
        except OSError:
            self.close()  # a full disk must not take the server down; the ring still has the lines

    def _rotate(self) -> None:
        self.close()
        for index in range(self._backups, 0, -1):
            source = self.path if index == 1 else self.path.with_name(f"{self.path.name}.{index - 1}")
            if source.exists():
                source.replace(self.path.with_name(f"{self.path.name}.{index}"))
        if self._backups == 0:
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()
