"""What the engine did for one chat answer, in words: the attempt chain, the inline notices at a
switch of model, and the badge's outcome. Qt-free: the message widget draws what this collects."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal

from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    EngineEvent,
    FallbackChosen,
    HedgeStarted,
    PartialAbandoned,
    RequestFailed,
    RetryScheduled,
)
from steward.engine.failures import FailureKind

Outcome = Literal["working", "clean", "fallback", "failed", "stopped"]


def kind_in_words(kind: FailureKind) -> str:
    return kind.value.replace("_", " ")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


@dataclass(frozen=True)
class FlowItem:
    """Something shown inline where it happened: abandoned text (struck through) or a switch notice."""

    kind: Literal["abandoned", "switch"]
    text: str
    model: str


@dataclass
class AttemptLog:
    """Collects one request's attempt events (live or restored from the store)."""

    chain: list[str] = field(default_factory=list)
    flow: list[FlowItem] = field(default_factory=list)
    first_model: str | None = None
    answering: str | None = None
    """The model answering now (the latest attempt started), then the one that answered."""
    model: str | None = None
    total_s: float | None = None
    fallbacks: int = 0
    retries: int = 0
    skipped: int = 0
    failed: bool = False
    stopped: bool = False
    _failures: dict[str, FailureKind] = field(default_factory=dict)
    _abandoned: set[str] = field(default_factory=set)

    def apply(self, event: EngineEvent) -> None:
        model = html.escape(event.model_key or "")
        if isinstance(event, AttemptStarted):
            self.first_model = self.first_model or event.model
            self.answering = event.model
            self.chain.append(f"→ <b>{model}</b> started ({html.escape(event.reason)})")
        elif isinstance(event, AttemptFailed):
            self._failures[event.model] = event.kind
            retry = ", retrying" if event.will_retry else ""
            self.chain.append(
                f"✗ <b>{model}</b> failed: <code>{event.kind.value}</code> after "
                f"{event.elapsed_s:.2f} s — {html.escape(event.detail)}{retry}"
            )
        elif isinstance(event, PartialAbandoned):
            self._abandoned.add(event.model)
            self.flow.append(FlowItem("abandoned", event.text, event.model))
            self.chain.append(
                f"⌫ abandoned partial answer from {model}: <s>{html.escape(event.text[:400])}</s>"
            )
        elif isinstance(event, FallbackChosen):
            self.fallbacks += 1
            self.flow.append(FlowItem("switch", self._switch_text(event), event.model))
            self.chain.append(f"↪ fallback to <b>{model}</b>: {html.escape(event.reason)}")
        elif isinstance(event, RetryScheduled):
            self.retries += 1
            kind = self._failures.get(event.model)
            why = f" ({kind_in_words(kind)})" if kind is not None else ""
            self.flow.append(
                FlowItem(
                    "switch", f"↻ {event.model} failed{why} → retrying in {event.delay_s:.1f} s", event.model
                )
            )
            self.chain.append(f"↻ retry {model} in {event.delay_s:.2f} s ({html.escape(event.reason)})")
        elif isinstance(event, HedgeStarted):
            self.chain.append(f"⇉ hedged with <b>{model}</b> after {event.after_s:.2f} s")
        elif isinstance(event, AttemptCancelled):
            self.chain.append(f"■ {model} cancelled: {html.escape(event.reason)}")
        elif isinstance(event, CandidateSkipped):
            self.skipped += 1
            self.chain.append(f"⤼ <b>{model}</b> skipped: {html.escape(event.reason)}")
        elif isinstance(event, Completed):
            self.model = self.answering = event.model
            self.total_s = event.total_s
            self.chain.append(f"✓ <b>{model}</b> answered in {event.total_s:.2f} s")
            if event.quality is not None:
                why = "; ".join(event.quality_signals)
                self.chain.append(
                    f"★ quality {event.quality:g}/10" + (f" — {html.escape(why)}" if why else "")
                )
        elif isinstance(event, RequestFailed):
            self.failed = True

    def stop(self, by_user: bool) -> None:
        """The request ended without a final event: the user stopped it (or it was torn down)."""
        if self.model is None and not self.failed and not self.stopped:
            self.stopped = True
            self.chain.append("■ stopped by you" if by_user else "■ ended without an answer")

    def _switch_text(self, event: FallbackChosen) -> str:
        source = event.from_model
        if source is None:
            return f"↪ continuing with {event.model}"
        kind = self._failures.get(source)
        why = f" ({kind_in_words(kind)})" if kind is not None else ""
        if source in self._abandoned:
            return f"↪ {source} stopped{why} → continuing with {event.model}"
        return f"↪ {source} failed{why} → trying {event.model}"

    def outcome(self) -> Outcome:
        if self.failed:
            return "failed"
        if self.stopped:
            return "stopped"
        if self.model is None:
            return "working"
        clean = not (self.fallbacks or self.retries or self.skipped or self._failures)
        return "clean" if clean and self.model == self.first_model else "fallback"

    def badge_text(self) -> str:
        outcome = self.outcome()
        if outcome == "failed":
            return "no answer — show attempts"
        if outcome == "stopped":
            return "stopped — show attempts"
        if outcome == "working":
            return "working… — show attempts"
        took = f" in {self.total_s:.2f} s" if self.total_s is not None else ""
        detours = []
        if self.fallbacks:
            detours.append(_plural(self.fallbacks, "fallback"))
        if self.retries:
            detours.append(_plural(self.retries, "retry", "retries"))
        after = f" after {' and '.join(detours)}" if detours else ""
        skipped = f" ({self.skipped} skipped)" if self.skipped else ""
        return f"answered by {self.model}{after}{took}{skipped}"
