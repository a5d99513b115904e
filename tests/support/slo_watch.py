"""A stand-in runtime for the SLO/drift watch (`ModelWatch`): it holds settings and collects what
the watch publishes and tells health, so tests see exactly what the watch did. A fake, named as one."""

from __future__ import annotations

from dataclasses import dataclass, field

from steward.config import Settings
from steward.engine.events import EngineEvent
from steward.service.model_watch import ModelWatch

KEY = "small/m"


@dataclass
class RecordingEngine:
    published: list[EngineEvent] = field(default_factory=list)
    drifts: list[tuple[str, str]] = field(default_factory=list)

    def publish(self, event: EngineEvent) -> None:
        self.published.append(event)

    def note_drift(self, key: str, reason: str) -> None:
        self.drifts.append((key, reason))


@dataclass
class StandInRuntime:
    settings: Settings
    engine: RecordingEngine = field(default_factory=RecordingEngine)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def watch(settings: Settings | None = None) -> tuple[ModelWatch, StandInRuntime, Clock]:
    runtime = StandInRuntime(settings or Settings())
    clock = Clock()
    return ModelWatch(runtime, clock), runtime, clock  # type: ignore[arg-type]
