"""One attempt: stream an answer from one model with first-token, stall and total timeouts,
degenerate-output detection, and a guaranteed close of the connection."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steward.engine.backend import Backend
from steward.engine.clock import Clock, ClockTimeout, next_within
from steward.engine.degenerate import DegenerateDetector
from steward.engine.failures import BackendError, FailureKind
from steward.engine.settings import DegenerateSettings, TimeoutSettings
from steward.engine.types import ChatMessage, GenerationParams, StreamChunk, Timings, Usage


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
) -> AttemptResult:
    """Stream one answer, calling `on_token` for each text piece as it arrives."""
    detector = DegenerateDetector(degenerate)
    stream = backend.stream_chat(model, messages, params)
    iterator = stream.__aiter__()
    final: StreamChunk | None = None
    chunks = 0
    try:
        while True:
            now = clock.now()
            total_left = min(progress.started + timeouts.total_s, deadline) - now
            if total_left <= 0:
                raise BackendError(FailureKind.TOTAL_TIMEOUT, f"no complete answer in {timeouts.total_s:g} s")
            stage = timeouts.first_token_s if progress.ttft_s is None else timeouts.stall_s
            try:
                chunk = await next_within(clock, iterator, min(stage, total_left))
            except StopAsyncIteration:
                break
            except ClockTimeout:
                raise _timeout_error(progress, stage, total_left, timeouts) from None
            chunks += 1
            if chunk.text:
                if progress.ttft_s is None:
                    progress.ttft_s = clock.now() - progress.started
                progress.parts.append(chunk.text)
                on_token(chunk.text)
                if detector.feed(chunk.text):
                    raise BackendError(
                        FailureKind.DEGENERATE_OUTPUT,
                        f"the same output {detector.repeated!r} repeated {degenerate.repeat_chunks} times",
                    )
            if chunk.done:
                final = chunk
                break
    finally:
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
    )


def _timeout_error(
    progress: AttemptProgress, stage: float, total_left: float, timeouts: TimeoutSettings
) -> BackendError:
    if total_left < stage:
        return BackendError(FailureKind.TOTAL_TIMEOUT, f"no complete answer in {timeouts.total_s:g} s")
    if progress.ttft_s is None:
        return BackendError(FailureKind.FIRST_TOKEN_TIMEOUT, f"no first token in {stage:g} s")
    return BackendError(
        FailureKind.STALL_TIMEOUT, f"no token for {stage:g} s after {len(progress.parts)} chunks"
    )
