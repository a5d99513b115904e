"""The store's own record types.

The store never imports the engine's event classes: the composition root turns engine events into
these generic records, so the persistence format does not change whenever an engine event grows a
field. Timestamps are unix seconds (wall clock), because history must mean something after a
restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

OUTCOMES = ("ok", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class Sample:
    """One finished request against one model: the raw material of the latency/health charts."""

    ts: float
    model_key: str
    """"server_id/model"."""
    ttft_s: float | None
    total_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    tokens_per_s: float | None
    outcome: str
    """"ok", "failed" or "cancelled"."""
    failure_kind: str | None = None
    source: str | None = None
    """Who asked: "chat", "gateway", "cli", "lab", "probe" (None: recorded before Steward kept it)."""


@dataclass(frozen=True, slots=True)
class Deferred:
    """Records made on the writer thread: `make()` turns something immutable (an engine event) into
    the rows to write, so the conversion costs the event loop nothing."""

    make: Callable[[], Sequence[Sample | EventRecord]]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One audit-trail entry. `payload` must be JSON-serialisable and is not mutated after handing it in."""

    ts: float
    type: str
    model_key: str | None
    payload: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SampleBucket:
    """Samples of one model summarised over `[start_ts, start_ts + bucket_s)`.

    Sums and counts are kept (not only averages) so buckets can be merged exactly; the p95 fields are
    exact nearest-rank values for a bucket computed from raw rows and an upper bound ("p95-ish": the
    max of the parts' p95s) once buckets have been merged.
    """

    model_key: str
    start_ts: float
    bucket_s: float
    count: int
    ok: int
    failed: int
    cancelled: int
    ttft_n: int
    ttft_sum: float
    ttft_max: float | None
    ttft_p95: float | None
    total_n: int
    total_sum: float
    total_max: float | None
    total_p95: float | None
    tps_n: int
    tps_sum: float
    tps_max: float | None
    prompt_tokens: int
    completion_tokens: int

    @property
    def ttft_avg(self) -> float | None:
        return self.ttft_sum / self.ttft_n if self.ttft_n else None

    @property
    def total_avg(self) -> float | None:
        return self.total_sum / self.total_n if self.total_n else None

    @property
    def tokens_per_s_avg(self) -> float | None:
        return self.tps_sum / self.tps_n if self.tps_n else None

    def merged(self, other: SampleBucket) -> SampleBucket:
        """The bucket covering both parts (same model and start)."""
        return SampleBucket(
            model_key=self.model_key,
            start_ts=self.start_ts,
            bucket_s=self.bucket_s,
            count=self.count + other.count,
            ok=self.ok + other.ok,
            failed=self.failed + other.failed,
            cancelled=self.cancelled + other.cancelled,
            ttft_n=self.ttft_n + other.ttft_n,
            ttft_sum=self.ttft_sum + other.ttft_sum,
            ttft_max=_max(self.ttft_max, other.ttft_max),
            ttft_p95=_max(self.ttft_p95, other.ttft_p95),
            total_n=self.total_n + other.total_n,
            total_sum=self.total_sum + other.total_sum,
            total_max=_max(self.total_max, other.total_max),
            total_p95=_max(self.total_p95, other.total_p95),
            tps_n=self.tps_n + other.tps_n,
            tps_sum=self.tps_sum + other.tps_sum,
            tps_max=_max(self.tps_max, other.tps_max),
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True, slots=True)
class SamplesWindow:
    """What a chart asks for: raw samples for the recent part, buckets for the older part."""

    raw: list[Sample]
    buckets: list[SampleBucket]
    raw_since: float
    """Samples at or after this time are in `raw`; earlier ones are summarised in `buckets`."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    session_id: str
    role: str
    content: str
    ts: float
    model_key: str | None = None
    attempts: list[object] = field(default_factory=list)
    """The assistant message's attempt chain (JSON-serialisable entries)."""
    context: list[object] = field(default_factory=list)
    """Context-fit events for this message (JSON-serialisable entries)."""
    id: int | None = None
    """Row id once stored."""


@dataclass(frozen=True, slots=True)
class ChatSessionInfo:
    id: str
    title: str
    created: float
    updated: float
    message_count: int


@dataclass(frozen=True, slots=True)
class ChatSession:
    id: str
    title: str
    created: float
    updated: float
    messages: list[ChatMessage]


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    model_key: str
    reason: str
    since_ts: float
    expires_ts: float | None
    """None = until released by hand."""


@dataclass(frozen=True, slots=True)
class BreakerRecord:
    """A circuit remembered across runs: open (trips >= 1), or closed with consecutive failures
    (trips == 0; then `reopen_ts` is the time of the last failure)."""

    model_key: str
    reason: str
    opened_ts: float
    reopen_ts: float
    """When it half-opens (unix seconds); in the past = restore it half-open."""
    trips: int
    """Consecutive trips, so the growing reset timeout carries on where it left off."""
    failures: int = 0
    """Consecutive counted failures of a still-closed circuit."""

    def reopen_in(self, now_ts: float) -> float:
        """Seconds left open at `now_ts` (0 once it is due to half-open)."""
        return max(0.0, self.reopen_ts - now_ts)


@dataclass(frozen=True, slots=True)
class RetentionCounts:
    """What one retention pass did."""

    samples_rolled_up: int
    samples_deleted: int
    minute_aggregates_deleted: int
    events_deleted: int


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a >= b else b
