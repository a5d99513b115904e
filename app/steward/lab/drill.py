"""The failover drill: does my setup really keep answering?

For each target model and each fault (`steward.backends.faults`), one request pinned to the
target — fallbacks on, exactly as a user's pinned chat — runs on the drill's own engine (see
`steward.service.drill_host`) while the fault is injected into the target only. The scenario
records whether an answer came, from which model, how long it took against a clean answer of the
same target (measured first), the attempt chain the user would have seen, and — once the fault is
lifted — how long until the target answers for itself again (its breaker may have opened). Then
the target is reset so the next scenario starts healthy. The verdict and advice are in words
(`steward.lab.drill_words`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from steward.backends.faults import Fault, FaultKind
from steward.engine.chain_text import chain_line
from steward.engine.core import Engine
from steward.engine.events import AttemptFailed, AttemptStarted, Completed, EngineEvent, RequestFailed
from steward.engine.request import ChatRequest
from steward.engine.types import ChatMessage, GenerationParams
from steward.lab.drill_words import advice_for, verdict_for
from steward.lab.result_file import write_result

PROMPT = "Reply with one short sentence: what colour is the sky?"
MAX_TOKENS = 24
RECOVERY_POLL_S = 0.25
BASELINE_ASKS = 2


class DrillHost(Protocol):
    """The drill's engine and the switch for its faults (see `steward.service.drill_host`)."""

    @property
    def engine(self) -> Engine: ...

    def inject(self, model_key: str, fault: Fault | None) -> None: ...

    def lift_all(self) -> None: ...


@dataclass
class ScenarioResult:
    """One fault on one model, and what came of it."""

    target: str
    fault: str
    answered: bool
    answered_by: str | None
    total_s: float
    baseline_s: float | None
    attempts: int
    failures: list[str] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    recover_s: float | None = None
    verdict: str = ""
    advice: list[str] = field(default_factory=list)
    started_at: float = 0.0

    @property
    def added_s(self) -> float | None:
        return None if self.baseline_s is None else self.total_s - self.baseline_s

    @property
    def kept_answering(self) -> bool:
        return self.answered


@dataclass
class DrillReport:
    targets: list[str]
    faults: list[str]
    baselines: dict[str, float | None] = field(default_factory=dict)
    scenarios: list[ScenarioResult] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    settings: dict[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(s.answered for s in self.scenarios)

    def summary(self) -> str:
        total = len(self.scenarios)
        if total == 0:
            return "No scenario ran."
        if self.passed == total:
            return f"Your setup kept answering in all {total} scenarios."
        failed = sorted({f"{s.target} {s.fault}" for s in self.scenarios if not s.answered})
        return f"Your setup kept answering in {self.passed} of {total} scenarios; no answer when: {', '.join(failed)}."

    def to_json(self) -> dict[str, object]:
        return {
            "targets": self.targets,
            "faults": self.faults,
            "baselines": self.baselines,
            "settings": self.settings,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "summary": self.summary(),
            "scenarios": [{**asdict(s), "added_s": s.added_s} for s in self.scenarios],
        }

    def save(self, folder: Path) -> Path:
        return write_result(folder, "drill", self.started_at, json.dumps(self.to_json(), indent=1) + "\n")


Progress = Callable[[int, int, ScenarioResult], None]


def _request(model: str, fallback: bool) -> ChatRequest:
    return ChatRequest(
        (ChatMessage("user", PROMPT),),
        model=model,
        params=GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0),
        source="lab",
        fallback=fallback,
    )


async def _ask(engine: Engine, model: str, fallback: bool = True) -> tuple[list[EngineEvent], float]:
    started = time.monotonic()
    events = [event async for event in engine.chat(_request(model, fallback))]
    return events, time.monotonic() - started


async def _baseline(engine: Engine, target: str) -> float | None:
    """A clean answer's time: the faster of two (the first may pay for a cold cache), None if the
    target does not answer for itself at all."""
    times = []
    for _ in range(BASELINE_ASKS):
        events, _ = await _ask(engine, target)
        last = events[-1] if events else None
        if isinstance(last, Completed) and last.model == target:
            times.append(last.total_s)
    return min(times) if times else None


async def _recovery(engine: Engine, target: str, limit_s: float) -> float | None:
    """Seconds from now until `target` answers for itself again (None if not within `limit_s`)."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        events, _ = await _ask(engine, target, fallback=False)
        last = events[-1] if events else None
        if isinstance(last, Completed) and last.model == target:
            return time.monotonic() - started
        await asyncio.sleep(RECOVERY_POLL_S)
    return None


async def run_drill(
    host: DrillHost,
    targets: Sequence[str],
    faults: Sequence[FaultKind] = tuple(FaultKind),
    *,
    recover_limit_s: float = 60.0,
    trickle_s: float = 0.5,
    on_progress: Progress | None = None,
) -> DrillReport:
    """Run every fault on every target; the report holds each scenario's result, verdict and advice."""
    engine = host.engine
    settings = engine.settings
    report = DrillReport(
        list(targets),
        [f.value for f in faults],
        started_at=time.time(),
        settings={
            "first_token_s": settings.timeouts.first_token_s,
            "stall_s": settings.timeouts.stall_s,
            "total_s": settings.timeouts.total_s,
            "fallback_chain": list(engine.fallback_chain),
            "strategy": settings.strategy.value,
        },
    )
    for target in targets:
        if engine.model(target) is None:
            raise KeyError(f"unknown model {target}")
    total, done = len(targets) * len(faults), 0
    try:
        for target in targets:
            report.baselines[target] = await _baseline(engine, target)
            for kind in faults:
                result = await _scenario(
                    host, target, kind, report.baselines[target], recover_limit_s, trickle_s
                )
                report.scenarios.append(result)
                done += 1
                if on_progress is not None:
                    on_progress(done, total, result)
    finally:
        host.lift_all()
        for target in targets:
            engine.reset(target)
    report.finished_at = time.time()
    return report


async def _scenario(
    host: DrillHost,
    target: str,
    kind: FaultKind,
    baseline_s: float | None,
    recover_limit_s: float,
    trickle_s: float,
) -> ScenarioResult:
    engine = host.engine
    state = engine.model(target)
    assert state is not None
    started_at = time.time()
    host.inject(target, Fault(kind, state.ref.model, trickle_s=trickle_s))
    try:
        events, took = await _ask(engine, target)
    finally:
        host.lift_all()
    last = events[-1] if events else None
    answered = isinstance(last, Completed)
    result = ScenarioResult(
        target=target,
        fault=kind.value,
        answered=answered,
        answered_by=last.model if isinstance(last, Completed) else None,
        total_s=last.total_s if isinstance(last, Completed) else took,
        baseline_s=baseline_s,
        attempts=sum(1 for e in events if isinstance(e, AttemptStarted)),
        failures=[f"{e.model}: {e.kind.value}" for e in events if isinstance(e, AttemptFailed)],
        chain=[line.strip() for e in events if (line := chain_line(e))],
        started_at=started_at,
    )
    if isinstance(last, RequestFailed) and not result.failures:
        result.failures = [last.detail]
    result.recover_s = await _recovery(engine, target, recover_limit_s)
    engine.reset(target)  # the next scenario starts from a healthy setup
    result.verdict = verdict_for(result, kind)
    result.advice = advice_for(result, kind, engine.settings, list(engine.fallback_chain))
    return result


MAX_DEFAULT_TARGETS = 3


def choose_targets(chain: Sequence[str], default_model: str, known: Sequence[str]) -> list[str]:
    """The models a drill fails by default: those of the fallback chain (the ones a request
    actually goes to), else the default model, else the first known models — at most three."""
    picked = [key for key in chain if key in known]
    if not picked and default_model in known:
        picked = [default_model]
    if not picked:
        picked = list(known)
    return picked[:MAX_DEFAULT_TARGETS]
