"""Objectives and drift, watched live: every user attempt of every model becomes a sample; the
SLOs are evaluated (`steward.lab.slo`) and the drift detectors fed (`steward.lab.drift`), and a
change of alert state or a confirmed drift is published as an event (Events page, tray, badges).

User traffic only: requests from the Lab (drills, comparisons) and health probes/canaries are
left out, and so are failures that say nothing about the model (the user cancelled, the request
was malformed, the context was too long) — the same kinds the breaker ignores.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from steward.engine.events import AttemptFailed, Completed, EngineEvent, RequestFailed, RequestStarted
from steward.engine.failures import policy_for
from steward.lab.drift import DriftAlarm, ModelDrift
from steward.lab.slo import PERIOD_S, Objectives, ObjectiveStatus, SloSample, evaluate
from steward.runtime import Runtime

NOT_USER_TRAFFIC = frozenset({"lab", "probe"})
MAX_SAMPLES = 50_000
EVALUATE_EVERY_S = 5.0
ALERTING_EVERY_S = 1.0
MAX_OPEN_REQUESTS = 10_000  # an alert clears within a second of its short window coming clean


@dataclass(frozen=True)
class SloAlertChanged(EngineEvent):
    """A model's objective started burning its budget too fast (`alert` fast/slow) or stopped (None)."""

    model: str
    objective: str
    alert: str | None
    detail: str


@dataclass(frozen=True)
class DriftDetected(EngineEvent):
    """A model's usual behaviour changed for good: "slower than usual since 14:02 (+38%)"."""

    model: str
    metric: str
    change: float
    since_ts: float
    detail: str


@dataclass
class _Model:
    samples: deque[SloSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    drift: ModelDrift = field(default_factory=ModelDrift)
    alerts: dict[str, str | None] = field(default_factory=dict)
    last_drift: DriftAlarm | None = None
    evaluated_at: float = float("-inf")


class ModelWatch:
    """Subscribed to the engine: keeps per-model samples, SLO alert states and drift."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        self._runtime = runtime
        self._clock = clock
        self._models: dict[str, _Model] = {}
        self._sources: dict[str, str] = {}

    def objectives(self, key: str) -> Objectives:
        slo = self._runtime.settings.slo
        own = slo.per_model.get(key)

        def pick(name: str) -> float:
            value = getattr(own, name) if own is not None else None
            return float(value if value is not None else getattr(slo, name))

        speed = pick("min_tokens_per_s")
        return Objectives(
            success_rate=pick("success_rate"),
            ttft_s=pick("ttft_s"),
            ttft_share=pick("ttft_share"),
            min_tokens_per_s=speed if speed > 0 else None,
        )

    def slo(self, key: str) -> list[ObjectiveStatus]:
        """Each objective of `key` now (no traffic: every count 0)."""
        model = self._models.get(key)
        return evaluate(list(model.samples) if model else [], self.objectives(key), self._clock(), PERIOD_S)

    def drift(self, key: str) -> DriftAlarm | None:
        """The latest confirmed drift of `key` (None: behaving as usual)."""
        model = self._models.get(key)
        return model.last_drift if model else None

    def __call__(self, event: EngineEvent) -> None:
        if isinstance(event, RequestStarted):
            if event.request_id is not None:
                self._sources[event.request_id] = event.source
                if len(self._sources) > MAX_OPEN_REQUESTS:  # requests that ended without a final event
                    del self._sources[next(iter(self._sources))]
            return
        source = self._sources.get(event.request_id or "", "chat")
        if isinstance(event, Completed | RequestFailed) and event.request_id is not None:
            self._sources.pop(event.request_id, None)
        if source in NOT_USER_TRAFFIC:
            return
        if isinstance(event, AttemptFailed) and policy_for(event.kind).counts_for_breaker:
            self._add(event.model, SloSample(event.ts, False))
        elif isinstance(event, Completed):
            tokens = event.usage.completion_tokens if event.usage else None
            generating = event.total_s - (event.ttft_s or 0.0)
            speed = tokens / generating if tokens and generating > 0 else None
            self._add(event.model, SloSample(event.ts, True, event.ttft_s, speed))

    def _add(self, key: str, sample: SloSample) -> None:
        model = self._models.setdefault(key, _Model())
        model.samples.append(sample)
        for alarm in model.drift.update(sample.ts, sample.ok, sample.ttft_s, sample.tokens_per_s):
            model.last_drift = alarm
            detail = alarm.describe(time.strftime("%H:%M", time.localtime(alarm.since_ts)))
            self._runtime.engine.note_drift(key, detail)  # health says "degraded: slower than usual …"
            self._runtime.engine.publish(
                DriftDetected(sample.ts, None, key, alarm.metric, alarm.change, alarm.since_ts, detail)
            )
        now = self._clock()
        interval = ALERTING_EVERY_S if any(model.alerts.values()) else EVALUATE_EVERY_S
        if now - model.evaluated_at < interval:
            return
        model.evaluated_at = now
        for status in evaluate(list(model.samples), self.objectives(key), now, PERIOD_S):
            before = model.alerts.get(status.objective)
            if status.alert != before:
                model.alerts[status.objective] = status.alert
                self._runtime.engine.publish(
                    SloAlertChanged(now, None, key, status.objective, status.alert, status.describe())
                )
