"""Detect degenerate output: a model stuck emitting the same chunk over and over."""

from __future__ import annotations

from steward.engine.settings import DegenerateSettings


class DegenerateDetector:
    """Counts consecutive identical non-blank chunks; trips at `repeat_chunks`."""

    def __init__(self, settings: DegenerateSettings) -> None:
        self._limit = max(2, settings.repeat_chunks)
        self._min_chars = settings.min_chunk_chars
        self._last: str | None = None
        self._run = 0

    def feed(self, chunk: str) -> bool:
        """Add a chunk; True when the output has become degenerate."""
        piece = chunk.strip()
        if len(piece) < self._min_chars:
            return False
        if piece == self._last:
            self._run += 1
        else:
            self._last = piece
            self._run = 1
        return self._run >= self._limit

    @property
    def repeated(self) -> str | None:
        return self._last
