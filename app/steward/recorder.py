"""Turns engine events into store records: the audit trail and the per-request samples."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from steward.engine.events import (
    AttemptFailed,
    Completed,
    EngineEvent,
    Token,
)
from steward.engine.request_sources import RequestSources
from steward.store import EventRecord, Sample
from steward.store.records import Deferred

# Token events are far too many to keep one row each; the answer is stored with Completed.
SKIPPED_TYPES = frozenset({Token.__name__})


_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value: object) -> object:
    """`value` made JSON-safe (payloads are already plain: this is a cheap guard, not a deep copy)."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def to_event_record(event: EngineEvent) -> EventRecord | None:
    """The audit-trail row for `event`, or None for events not worth a row (tokens)."""
    if event.type in SKIPPED_TYPES:
        return None
    payload = event.payload()
    if isinstance(event, Completed):
        payload["text"] = event.text[:2000]
    return EventRecord(
        ts=event.ts,
        type=event.type,
        model_key=event.model_key,
        payload={k: _jsonable(v) for k, v in payload.items()},
    )


def to_sample(event: EngineEvent, source: str | None = None) -> Sample | None:
    """A latency/health sample for a finished attempt (success or failure), tagged with who asked."""
    if isinstance(event, Completed):
        usage = event.usage
        tps = event.timings.predicted_per_second if event.timings else None
        return Sample(
            ts=event.ts,
            model_key=event.model,
            ttft_s=event.ttft_s,
            total_s=event.total_s,
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
            tokens_per_s=tps,
            outcome="ok",
            source=source,
        )
    if isinstance(event, AttemptFailed):
        outcome = "cancelled" if event.kind.value == "cancelled" else "failed"
        return Sample(
            ts=event.ts,
            model_key=event.model,
            ttft_s=None,
            total_s=event.elapsed_s,
            prompt_tokens=None,
            completion_tokens=None,
            tokens_per_s=None,
            outcome=outcome,
            failure_kind=event.kind.value,
            source=source,
        )
    return None


def records_of(event: EngineEvent, source: str | None = None) -> list[Sample | EventRecord]:
    """The rows one event becomes: its audit-trail row and, for a finished attempt, a sample."""
    rows: list[Sample | EventRecord] = []
    record = to_event_record(event)
    if record is not None:
        rows.append(record)
    sample = to_sample(event, source)
    if sample is not None:
        rows.append(sample)
    return rows


class Recorder:
    """Engine listener that hands events to the store's background writer (never blocks). Events are
    immutable, so they are turned into rows on the writer thread, not on the event loop."""

    def __init__(self, put: Callable[[Sample | EventRecord | Deferred], None]) -> None:
        self._put = put
        self._sources = RequestSources()

    def __call__(self, event: EngineEvent) -> None:
        if event.type not in SKIPPED_TYPES:  # tokens: no row, and their request's source is unchanged
            self._put(Deferred(partial(records_of, event, self._sources.source_of(event))))
