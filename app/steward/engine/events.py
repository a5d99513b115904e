"""Typed events: what the engine did, as it did it. The chat, the dashboard and the audit trail
all consume these same objects."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any

from steward.engine.failures import FailureKind
from steward.engine.types import Timings, Usage


@dataclass(frozen=True)
class EngineEvent:
    """Base of every event. `ts` is wall-clock unix time (for display and storage only)."""

    ts: float
    request_id: str | None

    @property
    def type(self) -> str:
        return type(self).__name__

    @property
    def model_key(self) -> str | None:
        value = getattr(self, "model", None)
        return value if isinstance(value, str) else None

    def payload(self) -> dict[str, Any]:
        """A JSON-friendly dict of the event's own fields (for the store and `--json`)."""
        data: dict[str, Any] = {}
        for spec in fields(self):  # shallow: asdict() deep-copies everything, and this runs per event
            if spec.name == "ts":
                continue
            value = getattr(self, spec.name)
            if isinstance(value, FailureKind):
                value = value.value
            elif is_dataclass(value) and not isinstance(value, type):
                value = asdict(value)
            elif isinstance(value, tuple):
                value = [v.value if isinstance(v, FailureKind) else v for v in value]
            data[spec.name] = value
        return data


# --- one request -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestStarted(EngineEvent):
    strategy: str
    candidates: tuple[str, ...]
    explanation: str
    task: str = "GENERAL"
    notes: tuple[str, ...] = ()
    """What was done to the input before any attempt (e.g. invalid characters replaced)."""
    source: str = "chat"
    client: str = ""
    asked: str = ""
    """The model the caller asked for ("auto", a key, a chain name)."""


@dataclass(frozen=True)
class AttemptStarted(EngineEvent):
    model: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class ModelLoading(EngineEvent):
    """The model is warming up: waiting, not failing."""

    model: str
    detail: str


@dataclass(frozen=True)
class Token(EngineEvent):
    model: str
    attempt: int
    text: str


@dataclass(frozen=True)
class AttemptFailed(EngineEvent):
    model: str
    attempt: int
    kind: FailureKind
    detail: str
    elapsed_s: float
    will_retry: bool


@dataclass(frozen=True)
class RetryScheduled(EngineEvent):
    model: str
    attempt: int
    delay_s: float
    reason: str


@dataclass(frozen=True)
class PartialAbandoned(EngineEvent):
    """Text already shown from an attempt that then failed; the UI strikes it through."""

    model: str
    attempt: int
    text: str


@dataclass(frozen=True)
class FallbackChosen(EngineEvent):
    from_model: str | None
    model: str
    reason: str


@dataclass(frozen=True)
class HedgeStarted(EngineEvent):
    model: str
    after_s: float
    waiting_on: str


@dataclass(frozen=True)
class AttemptCancelled(EngineEvent):
    model: str
    attempt: int
    reason: str


@dataclass(frozen=True)
class CandidateSkipped(EngineEvent):
    model: str
    reason: str
    kind: FailureKind


@dataclass(frozen=True)
class ContextFitted(EngineEvent):
    model: str
    policy: str
    dropped_messages: int
    tokens_before: int
    tokens_after: int
    window: int
    dropped_preview: tuple[str, ...] = ()
    summary: str | None = None
    exact: bool = False
    note: str | None = None  # e.g. why the summarize policy fell back to the sliding window


@dataclass(frozen=True)
class TruncationSuspected(EngineEvent):
    model: str
    expected_tokens: int
    reported_tokens: int


@dataclass(frozen=True)
class Completed(EngineEvent):
    model: str
    text: str
    usage: Usage | None
    timings: Timings | None
    ttft_s: float | None
    total_s: float
    attempts: int
    finish_reason: str | None = None
    note: str | None = None
    """What Steward did to the answer itself, e.g. "cut at max_tokens 64: the server kept going"."""
    quality: float | None = None
    """The answer's quality score, 0–10 (`steward.engine.quality`)."""
    quality_signals: tuple[str, ...] = ()
    """What took points off it ("looping (−5): the model repeated …"); empty for a clean answer."""


@dataclass(frozen=True)
class RequestFailed(EngineEvent):
    """No candidate could answer; `detail` says why in one line for the user."""

    detail: str
    kinds: tuple[FailureKind, ...] = field(default_factory=tuple)


# --- model state (not tied to one request) -------------------------------------------------


@dataclass(frozen=True)
class BreakerChanged(EngineEvent):
    model: str
    old: str
    new: str
    reason: str
    reopen_in_s: float | None = None
    restored: bool = False
    """Carried over from an earlier run at start-up, not a transition of this run."""


@dataclass(frozen=True)
class Quarantined(EngineEvent):
    model: str
    reason: str
    until_ts: float | None
    manual: bool = True


@dataclass(frozen=True)
class Released(EngineEvent):
    model: str
    reason: str


@dataclass(frozen=True)
class HealthChanged(EngineEvent):
    model: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class CanaryFailed(EngineEvent):
    """The inference canary (one token asked of an idle model, not user traffic) failed."""

    model: str
    kind: FailureKind
    detail: str
    in_a_row: int
    action: str
    """What follows, in words: "routed around" or "restarting the server"."""


@dataclass(frozen=True)
class ResourceWarning(EngineEvent):
    detail: str


@dataclass(frozen=True)
class SettingsApplied(EngineEvent):
    changed: tuple[str, ...]
