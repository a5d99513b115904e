"""The attempt chain as lines of text — what `steward chat` prints after an answer and what the
failover drill reports the user would have seen: one line per attempt, failure, fallback, skip,
context fit and outcome."""

from __future__ import annotations

from steward.engine.events import (
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    ContextFitted,
    EngineEvent,
    FallbackChosen,
    PartialAbandoned,
    RequestFailed,
    TruncationSuspected,
)


def chain_line(event: EngineEvent) -> str | None:
    """One line of the printed attempt chain, or None for events not part of it."""
    if isinstance(event, AttemptStarted):
        return f"  → {event.model}: started ({event.reason})"
    if isinstance(event, AttemptFailed):
        return f"  ✗ {event.model}: {event.kind.value} after {event.elapsed_s:.2f} s — {event.detail}"
    if isinstance(event, PartialAbandoned):
        return f"  ⌫ {event.model}: abandoned {len(event.text)} characters of partial answer"
    if isinstance(event, FallbackChosen):
        return f"  ↪ fallback to {event.model}"
    if isinstance(event, CandidateSkipped):
        return f"  ⤼ {event.model}: skipped ({event.reason})"
    if isinstance(event, ContextFitted):
        return (
            f"  ✂ {event.model}: {event.dropped_messages} message(s) dropped to fit {event.window} tokens "
            f"({event.tokens_before} → {event.tokens_after}, {event.policy})"
        )
    if isinstance(event, TruncationSuspected):
        reported, sent = event.reported_tokens, event.expected_tokens
        return f"  ⚠ {event.model}: server reported {reported} prompt tokens, {sent} sent"
    if isinstance(event, Completed):
        line = f"  ✓ {event.model}: answered in {event.total_s:.2f} s (first token {event.ttft_s or 0:.2f} s)"
        if event.quality is not None:
            line += f", quality {event.quality:g}/10"
        return line + (f"; {event.note}" if event.note else "")
    if isinstance(event, RequestFailed):
        return f"  ✗ no answer: {event.detail}"
    return None
