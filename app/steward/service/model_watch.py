"""Objectives and drift, watched live: every user attempt of every model becomes a sample; the
SLOs are evaluated (`steward.lab.slo`) and the drift detectors fed (`steward.lab.drift`), and a
change of alert state or a confirmed drift is published as an event (Events page, tray, badges).

User traffic only: requests from the Lab (drills, comparisons) and health probes/canaries are
left out, and so are failures that say nothing about the model (the user cancelled, the request
was malformed, the context was too long) — the same kinds the breaker ignores.

At start the watch is seeded from the store's samples of the SLO period (`seed_from_store`), so an
error budget spent yesterday is still spent after a restart and drift is judged against the
model's usual level, not against the first answers after a restart. Seeding is silent about the
past: a drift found in old samples is kept for the SLO view but not told again (it was told when
it happened); an alert still burning now is told, as its state is now.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from steward.engine.events import AttemptFailed, Completed, EngineEvent
from steward.engine.failures import FailureKind, policy_for
from steward.engine.request_sources import RequestSources
from steward.lab.drift import DetectorState, DriftAlarm, ModelDrift
from steward.lab.slo import PERIOD_S, Objectives, ObjectiveStatus, SloSample, evaluate
from steward.runtime import Runtime
from steward.service.slo_view import ModelSloView, UsualLevel, ViewParts, build_view
from steward.store import Sample, Store
from steward.store.samples import iter_samples

log = logging.getLogger(__name__)

NOT_USER_TRAFFIC = frozenset({"lab", "probe"})
MAX_SAMPLES = 50_000
EVALUATE_EVERY_S = 5.0
ALERTING_EVERY_S = 1.0  # an alert clears within a second of its short window coming clean


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
class WatchedModel:
    """One model's samples of the SLO period, drift detectors and alert states."""

    samples: deque[SloSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES))
    drift: ModelDrift = field(default_factory=ModelDrift)
    alerts: dict[str, str | None] = field(default_factory=dict)
    last_drift: DriftAlarm | None = None
    evaluated_at: float = float("-inf")
    pending: bool = False
    """Samples arrived since the last evaluation."""


class ModelWatch:
    """Subscribed to the engine: keeps per-model samples, SLO alert states and drift."""

    def __init__(self, runtime: Runtime, clock: Callable[[], float] = time.time) -> None:
        self._runtime = runtime
        self._clock = clock
        self._models: dict[str, WatchedModel] = {}
        self._sources = RequestSources()

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

    def watched(self) -> list[str]:
        """Models with user samples (live or from history)."""
        return list(self._models)

    def view_parts(self, key: str) -> ViewParts:
        """A copy of what the SLO view of `key` needs (evaluate it off the loop with `build_view`)."""
        model = self._models.get(key) or WatchedModel()
        drift = model.drift
        return ViewParts(
            key,
            tuple(model.samples),
            self.objectives(key),
            model.last_drift,
            (UsualLevel.of(drift.ttft), UsualLevel.of(drift.speed)),
        )

    async def views(self, keys: Iterable[str]) -> list[ModelSloView]:
        """The SLO view of each of `keys`, evaluated on a worker thread."""
        parts = [self.view_parts(key) for key in keys]
        now = self._clock()
        return await asyncio.to_thread(lambda: [build_view(p, now) for p in parts])

    def detectors(self, key: str) -> tuple[DetectorState, ...]:
        """The state of `key`'s drift detectors (learning or watching, and how close to an alarm);
        empty before its first sample."""
        model = self._models.get(key)
        return model.drift.states() if model else ()

    def __call__(self, event: EngineEvent) -> None:
        if self._sources.source_of(event) in NOT_USER_TRAFFIC:
            return
        if isinstance(event, AttemptFailed) and policy_for(event.kind).counts_for_breaker:
            self._add(event.model, SloSample(event.ts, False))
        elif isinstance(event, Completed):
            tokens = event.usage.completion_tokens if event.usage else None
            self._add(
                event.model,
                SloSample(event.ts, True, event.ttft_s, _speed(tokens, event.total_s, event.ttft_s)),
            )

    # --- seeding from the store -------------------------------------------------------------

    async def seed_from_store(self, store: Store) -> int:
        """Seed every model from the store's user samples of the SLO period (read and replayed on a
        worker thread); returns how many samples were taken. A store that cannot be read seeds
        nothing (logged): the watch then starts from live traffic, as before."""
        now = self._clock()
        try:
            seeded = await asyncio.to_thread(_seeded_models, store, now - PERIOD_S, now)
        except (sqlite3.Error, OSError) as exc:  # a history problem must not stop the app
            log.warning("SLO/drift watch not seeded from history: %s", exc)
            return 0
        return self.seed(seeded)

    def seed(self, seeded: Mapping[str, WatchedModel]) -> int:
        """Put models rebuilt from history (`seeded_models`) in place, keeping the live samples that
        arrived meanwhile (those newer than the history's newest), then evaluate the SLOs now."""
        taken = 0
        for key, fresh in seeded.items():
            taken += len(fresh.samples)
            old = self._models.get(key)
            if old is not None:
                newest = fresh.samples[-1].ts if fresh.samples else float("-inf")
                for sample in old.samples:
                    if sample.ts > newest:  # arrived live, not yet in the store when it was read
                        fresh.samples.append(sample)
                        fresh.drift.update(sample.ts, sample.ok, sample.ttft_s, sample.tokens_per_s)
                fresh.alerts = old.alerts
                fresh.last_drift = old.last_drift or fresh.last_drift
            self._models[key] = fresh
            self._evaluate(key, fresh, self._clock())
        return taken

    def _add(self, key: str, sample: SloSample) -> None:
        model = self._models.setdefault(key, WatchedModel())
        model.samples.append(sample)
        for alarm in model.drift.update(sample.ts, sample.ok, sample.ttft_s, sample.tokens_per_s):
            model.last_drift = alarm
            detail = alarm.describe(time.strftime("%H:%M", time.localtime(alarm.since_ts)))
            self._runtime.engine.note_drift(key, detail)  # health says "degraded: slower than usual …"
            self._runtime.engine.publish(
                DriftDetected(sample.ts, None, key, alarm.metric, alarm.change, alarm.since_ts, detail)
            )
        model.pending = True
        self._evaluate_if_due(key, model, self._clock())

    def tick(self) -> None:
        """Evaluate what is due without new samples (`run` calls this every second): answers that
        came in a burst shorter than the evaluation interval are judged once the burst is over, and
        a burning alert clears as its windows come clean even when no request comes at all. Models
        with nothing new and no alert are skipped (nothing about them can have changed)."""
        now = self._clock()
        for key, model in self._models.items():
            if model.pending or any(model.alerts.values()):
                self._evaluate_if_due(key, model, now)

    async def run(self, interval_s: float = ALERTING_EVERY_S) -> None:
        """`tick` forever (the service runs this as a task while it runs)."""
        while True:
            await asyncio.sleep(interval_s)
            self.tick()

    def _evaluate_if_due(self, key: str, model: WatchedModel, now: float) -> None:
        interval = ALERTING_EVERY_S if any(model.alerts.values()) else EVALUATE_EVERY_S
        if now - model.evaluated_at >= interval:
            self._evaluate(key, model, now)

    def _evaluate(self, key: str, model: WatchedModel, now: float) -> None:
        """Evaluate `key`'s objectives now and tell every change of alert state."""
        model.evaluated_at = now
        model.pending = False
        for status in evaluate(list(model.samples), self.objectives(key), now, PERIOD_S):
            before = model.alerts.get(status.objective)
            if status.alert != before:
                model.alerts[status.objective] = status.alert
                self._runtime.engine.publish(
                    SloAlertChanged(now, None, key, status.objective, status.alert, status.describe())
                )


def _speed(tokens: int | None, total_s: float | None, ttft_s: float | None) -> float | None:
    """Tokens per second while generating (after the first token), as the live watch measures it."""
    generating = (total_s or 0.0) - (ttft_s or 0.0)
    return tokens / generating if tokens and generating > 0 else None


def slo_sample(row: Sample) -> SloSample | None:
    """The watch's sample for a stored one, or None when the watch would not have counted it: not
    user traffic (Lab, probes; rows from before sources were kept count as the user's), cancelled,
    or a failure that says nothing about the model."""
    if row.source in NOT_USER_TRAFFIC or row.outcome == "cancelled":
        return None
    if row.outcome == "ok":
        return SloSample(row.ts, True, row.ttft_s, _speed(row.completion_tokens, row.total_s, row.ttft_s))
    try:
        kind = FailureKind(row.failure_kind or FailureKind.UNKNOWN)
    except ValueError:
        kind = FailureKind.UNKNOWN
    return SloSample(row.ts, False) if policy_for(kind).counts_for_breaker else None


def seeded_models(rows: Iterable[Sample]) -> dict[str, WatchedModel]:
    """Models rebuilt from stored samples in time order: samples kept, drift replayed (the alarms
    found are kept as `last_drift`, not told)."""
    models: dict[str, WatchedModel] = {}
    for row in rows:
        sample = slo_sample(row)
        if sample is None:
            continue
        model = models.setdefault(row.model_key, WatchedModel())
        model.samples.append(sample)
        for alarm in model.drift.update(sample.ts, sample.ok, sample.ttft_s, sample.tokens_per_s):
            model.last_drift = alarm
    return models


def _seeded_models(store: Store, since: float, until: float) -> dict[str, WatchedModel]:
    with store.reading(dedicated=True) as conn:
        return seeded_models(iter_samples(conn, since, until))
