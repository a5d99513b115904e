"""One attempt: stream an answer from one model with first-token, stall and total timeouts,
degenerate-output detection, Steward's own max_tokens guard, and a guaranteed close of the
connection."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steward.engine.backend import Backend
from steward.engine.clock import Clock, ClockTimeout, ItemTimer
from steward.engine.degenerate import DegenerateDetector
from steward.engine.failures import BackendError, FailureKind
from steward.engine.settings import DegenerateSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams, StreamChunk, Timings, Usage

MIN_CIRCLE_CHUNKS = 8
"""Fewer chunks than this are too short to call a loop."""


@dataclass
class AttemptResult:
    """What one finished attempt produced (successful; failures raise `BackendError`)."""

    text: str
    usage: Usage | None
    timings: Timings | None
    finish_reason: str | None
    ttft_s: float | None
    total_s: float
    chunks: int
    note: str | None = None


class AttemptProgress:
    """Live state of a running attempt, readable when it fails (partial text, timings)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.parts: list[str] = []
        self.ttft_s: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


async def stream_attempt(
    backend: Backend,
    model: str,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    *,
    clock: Clock,
    timeouts: TimeoutSettings,
    degenerate: DegenerateSettings,
    deadline: float,
    progress: AttemptProgress,
    on_token: Callable[[str], None],
    first_token_by: float | None = None,
) -> AttemptResult:
    """Stream one answer, calling `on_token` for each text piece as it arrives.

    `first_token_by` is the absolute clock time the first token must arrive by (the attempt's
    first-token budget, part of which went on look-ups before the stream); default: first_token_s
    from now. A stream that runs more than `max_tokens_grace` chunks past `params.max_tokens` is
    cut by Steward itself and ends as finish_reason "length".
    """
    detector = DegenerateDetector(degenerate)
    first_by = first_token_by if first_token_by is not None else clock.now() + timeouts.first_token_s
    cap = None if params.max_tokens is None else params.max_tokens + max(0, degenerate.max_tokens_grace)
    stream = backend.stream_chat(model, messages, params)
    iterator = stream.__aiter__()
    final: StreamChunk | None = None
    chunks = text_chunks = 0
    note: str | None = None
    timer = ItemTimer(clock)
    try:
        while True:
            now = clock.now()
            total_left = min(progress.started + timeouts.total_s, deadline) - now
            if total_left <= 0:
                raise BackendError(FailureKind.TOTAL_TIMEOUT, f"no complete answer in {timeouts.total_s:g} s")
            stage = first_by - now if progress.ttft_s is None else timeouts.stall_s
            if stage <= 0:
                raise _timeout_error(progress, 0.0, total_left, timeouts, clock.now()) from None
            try:
                chunk = await timer.next(iterator, min(stage, total_left))
            except StopAsyncIteration:
                break
            except ClockTimeout:
                raise _timeout_error(progress, stage, total_left, timeouts, clock.now()) from None
            chunks += 1
            if chunk.text:
                if progress.ttft_s is None:
                    progress.ttft_s = clock.now() - progress.started
                text_chunks += 1
                progress.parts.append(chunk.text)
                on_token(chunk.text)
                if detector.feed(chunk.text):
                    raise BackendError(FailureKind.DEGENERATE_OUTPUT, detector.describe())
                if cap is not None and text_chunks >= cap:
                    note = (
                        f"cut by Steward at max_tokens {params.max_tokens}: the server went on "
                        f"past it ({text_chunks} chunks)"
                    )
                    final = StreamChunk(finish_reason="length", done=True)
                    break
            if chunk.done:
                final = chunk
                break
        # Stopped by the length limit (the server's or Steward's) while going round in a short circle:
        # a loop the thresholds could not see the end of, not an answer.
        stopped_by_length = final is not None and final.finish_reason == "length"
        if stopped_by_length and text_chunks >= MIN_CIRCLE_CHUNKS and detector.runs_in_circles(text_chunks):
            raise BackendError(FailureKind.DEGENERATE_OUTPUT, detector.describe_cut(text_chunks))
    finally:
        timer.close()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(RuntimeError):  # already closed by the cancellation that brought us here
                await aclose()
    return AttemptResult(
        text=progress.text,
        usage=final.usage if final else None,
        timings=final.timings if final else None,
        finish_reason=final.finish_reason if final else None,
        ttft_s=progress.ttft_s,
        total_s=clock.now() - progress.started,
        chunks=chunks,
        note=note,
    )


def _timeout_error(
    progress: AttemptProgress, stage: float, total_left: float, timeouts: TimeoutSettings, now: float
) -> BackendError:
    """The timeout that fired, worded with the time really waited (never a configured figure alone)."""
    if total_left < stage:
        return BackendError(FailureKind.TOTAL_TIMEOUT, f"no complete answer in {timeouts.total_s:g} s")
    if progress.ttft_s is None:
        waited = now - progress.started
        return BackendError(
            FailureKind.FIRST_TOKEN_TIMEOUT,
            f"no first token after {waited:.1f} s (first-token timeout {timeouts.first_token_s:g} s)",
        )
    return BackendError(
        FailureKind.STALL_TIMEOUT, f"no token for {stage:g} s after {len(progress.parts)} chunks"
    )
