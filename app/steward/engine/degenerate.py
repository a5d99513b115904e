"""Detect degenerate output: a model stuck in a loop.

Three signals, any trips the detector:
- the same chunk (token) repeated `repeat_chunks` times in a row — `<|im_end|><|im_end|>…`;
- the tail of the text is periodic: a unit of 1..`cycle_max_period` characters repeated at least
  `cycle_min_repeats` times AND over at least `cycle_min_chars` characters — a phrase of several
  tokens said again and again ("I am a bot. I am a bot. …"), which the chunk check cannot see
  because the tokenizer splits each repetition differently;
- the last `compress_window_chars` characters compress (zlib) to less than `compress_ratio` of their
  size: a loop with small variations ("I will be reading the book. / I will be checking the book.")
  that is never exactly periodic. Measured here: the real Gemma 3 270M loops compress to 0.08–0.11;
  prose ~0.6, code ~0.4, a markdown table or numbered list ~0.2, a JSON list of records ~0.16.

The periodic check compares the tail with itself shifted by p (one C-level string compare per
period), only every `CHECK_EVERY` characters, so it stays cheap on the per-token path.
"""

from __future__ import annotations

import zlib

from steward.engine.settings import DegenerateSettings

CHECK_EVERY = 16  # characters of new text between two periodic checks
COMPRESS_EVERY = 128  # characters of new text between two compression checks
DISTINCT_LIMIT = 4096  # distinct chunks remembered (only a short cut stream is judged by them)
SHORT_REPLY_CHUNKS = 64  # a length-limited reply up to this long is judged by how few chunks it uses


class DegenerateDetector:
    """Feed it each text chunk; `feed` returns True once the output has become degenerate."""

    def __init__(self, settings: DegenerateSettings) -> None:
        self._limit = max(2, settings.repeat_chunks)
        self._min_chars = settings.min_chunk_chars
        self._max_period = max(1, settings.cycle_max_period)
        self._min_repeats = max(2, settings.cycle_min_repeats)
        self._min_span = max(1, settings.cycle_min_chars)
        self._ratio = settings.compress_ratio
        self._window = max(64, settings.compress_window_chars)
        periodic = max(self._min_span, self._max_period * self._min_repeats) + self._max_period
        self._keep = max(periodic, self._window)
        self._since_compress = 0
        self._distinct: set[str] = set()
        self._last: str | None = None
        self._run = 0
        self._tail = ""
        self._unchecked = 0
        self.repeated: str | None = None
        """The repeated chunk or cycle unit, once tripped (for the failure detail)."""
        self.repeats = 0

    def feed(self, chunk: str) -> bool:
        """Add a chunk; True when the output has become degenerate."""
        if len(self._distinct) <= DISTINCT_LIMIT:
            self._distinct.add(chunk)
        return self._same_chunk(chunk) or self._periodic_tail(chunk) or self._compressible_tail(chunk)

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

    def _compressible_tail(self, chunk: str) -> bool:
        if self._ratio <= 0:
            return False
        self._since_compress += len(chunk)
        if self._since_compress < COMPRESS_EVERY or len(self._tail) < self._window:
            return False
        self._since_compress = 0
        window = self._tail[-self._window :].encode("utf-8", "replace")
        ratio = len(zlib.compress(window, 6)) / len(window)
        if ratio < self._ratio:
            self.repeated = f"(near-repeats: the last {self._window} characters compress to {ratio:.0%})"
            self.repeats = 0
            return True
        return False

    def runs_in_circles(self, chunks: int) -> bool:
        """For a stream Steward had to cut at max_tokens: True when it went round in a short circle
        the thresholds above never saw the end of — mostly one repeated chunk, or only a handful of
        different chunks ("Hello", "!", " ", "Hello", …; a real answer rarely repeats a quarter)."""
        if self._last is not None and self._run * 2 >= chunks:
            return True
        # Only short replies are judged by their vocabulary: longer ones repeat common tokens a lot
        # (a 200-token summary of a repetitive chat had 30 different chunks) and the periodic and
        # compression checks above have enough text to judge them.
        return chunks <= SHORT_REPLY_CHUNKS and len(self._distinct) * 4 <= chunks

    def describe_cut(self, chunks: int) -> str:
        shown = sorted(self._distinct)[:4]
        return f"the reply hit max_tokens going round in circles ({len(self._distinct)} different chunks out of {chunks}: {shown})"

    def describe(self) -> str:
        """One line for the failure detail."""
        shown = (
            self.repeated if self.repeated is None or len(self.repeated) <= 60 else self.repeated[:59] + "…"
        )
        if self.repeats == 0:
            return f"the model is looping with small variations {self.repeated}"
        return f"the model repeated {shown!r} {self.repeats} times"
