"""Detect degenerate output: a model stuck in a loop.

Two signals, either trips the detector:
- the same chunk (token) repeated `repeat_chunks` times in a row — `<|im_end|><|im_end|>…`;
- the tail of the text is periodic: a unit of 1..`cycle_max_period` characters repeated at least
  `cycle_min_repeats` times AND over at least `cycle_min_chars` characters — a phrase of several
  tokens said again and again ("I am a bot. I am a bot. …"), which the chunk check cannot see
  because the tokenizer splits each repetition differently.

The periodic check compares the tail with itself shifted by p (one C-level string compare per
period), only every `CHECK_EVERY` characters, so it stays cheap on the per-token path.
"""

from __future__ import annotations

from steward.engine.settings import DegenerateSettings

CHECK_EVERY = 16  # characters of new text between two periodic checks


class DegenerateDetector:
    """Feed it each text chunk; `feed` returns True once the output has become degenerate."""

    def __init__(self, settings: DegenerateSettings) -> None:
        self._limit = max(2, settings.repeat_chunks)
        self._min_chars = settings.min_chunk_chars
        self._max_period = max(1, settings.cycle_max_period)
        self._min_repeats = max(2, settings.cycle_min_repeats)
        self._min_span = max(1, settings.cycle_min_chars)
        self._keep = max(self._min_span, self._max_period * self._min_repeats) + self._max_period
        self._last: str | None = None
        self._run = 0
        self._tail = ""
        self._unchecked = 0
        self.repeated: str | None = None
        """The repeated chunk or cycle unit, once tripped (for the failure detail)."""
        self.repeats = 0

    def feed(self, chunk: str) -> bool:
        """Add a chunk; True when the output has become degenerate."""
        return self._same_chunk(chunk) or self._periodic_tail(chunk)

    def _same_chunk(self, chunk: str) -> bool:
        piece = chunk.strip()
        if len(piece) < self._min_chars:
            return False
        if piece == self._last:
            self._run += 1
        else:
            self._last = piece
            self._run = 1
        if self._run >= self._limit:
            self.repeated, self.repeats = piece, self._run
            return True
        return False

    def _periodic_tail(self, chunk: str) -> bool:
        self._tail = (self._tail + chunk)[-self._keep :]
        self._unchecked += len(chunk)
        if self._unchecked < CHECK_EVERY:
            return False
        self._unchecked = 0
        tail = self._tail
        for period in range(1, self._max_period + 1):
            span = max(self._min_span, period * self._min_repeats)
            if len(tail) < span + period:
                break
            if tail[-span:] == tail[-span - period : -period]:
                unit = tail[-period:]
                if not unit.strip():
                    continue  # runs of blanks (indentation, blank lines) are not a loop
                self.repeated, self.repeats = unit, (span + period) // period
                return True
        return False

    def describe(self) -> str:
        """One line for the failure detail."""
        shown = (
            self.repeated if self.repeated is None or len(self.repeated) <= 60 else self.repeated[:59] + "…"
        )
        return f"the model repeated {shown!r} {self.repeats} times"
