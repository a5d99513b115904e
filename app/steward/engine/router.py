"""Candidate ordering: pinned model and its fallback chain, or "auto" by weighted score
(capability for the task, measured performance, health), with a one-line explanation."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from steward.engine.health import HEALTH_SCORE
from steward.engine.registry import ModelState
from steward.engine.settings import EffectiveWeights, RoutingWeights, Strategy
from steward.engine.tasks import TaskGuess, TaskType

AUTO = "auto"

# Which catalog/settings capability tags serve each task type best.
TASK_CAPABILITIES: dict[TaskType, tuple[str, ...]] = {
    TaskType.CODING: ("code",),
    TaskType.DEBUGGING: ("code", "reasoning"),
    TaskType.TESTING: ("code",),
    TaskType.ARCHITECTURE: ("reasoning", "long_context"),
    TaskType.ANALYSIS: ("reasoning", "long_context"),
    TaskType.PLANNING: ("reasoning",),
    TaskType.DOCUMENTATION: ("general", "multilingual"),
    TaskType.GENERAL: ("general", "fast"),
}


@dataclass(frozen=True)
class Score:
    capability: float
    performance: float
    health: float
    ramp: float
    total: float

    def explain(self) -> str:
        ramp = f", ramp {self.ramp:.0%}" if self.ramp < 1.0 else ""
        return (
            f"score {self.total:.2f} (capability {self.capability:.2f}, performance {self.performance:.2f}, "
            f"health {self.health:.2f}{ramp})"
        )


@dataclass(frozen=True)
class Route:
    candidates: tuple[ModelState, ...]
    explanation: str


def capability_score(state: ModelState, task: TaskType) -> float:
    """1.0 when the model is known good at the task, 0.5 when nothing is known, else 0.3."""
    caps = {c.lower() for c in state.capabilities}
    if not caps:
        return 0.5
    wanted = TASK_CAPABILITIES[task]
    if task.value.lower() in caps or any(w in caps for w in wanted):
        return 1.0
    return 0.6 if task is TaskType.GENERAL else 0.3


def performance_score(state: ModelState) -> float:
    """Faster first token and more tokens/s score higher; unmeasured models score 0.5. The mean
    quality score of the latest answers scales it (a fast model that answers badly is no fast
    answer): ×1 at 10/10 down to ×0.5 at 0/10."""
    snap = state.metrics.snapshot()
    if snap.ttft_p50 is None and snap.tokens_per_s is None:
        speed = 0.5
    else:
        ttft_part = 1.0 / (1.0 + (snap.ttft_p50 or 1.0))
        tps_part = min(1.0, (snap.tokens_per_s or 0.0) / 60.0)
        speed = 0.5 * ttft_part + 0.5 * tps_part
    if not state.quality:
        return speed
    return speed * (0.5 + 0.5 * (sum(state.quality) / len(state.quality)) / 10.0)


def score(
    state: ModelState, task: TaskType, weights: RoutingWeights | EffectiveWeights, ramp: float
) -> Score:
    cap = capability_score(state, task)
    perf = performance_score(state)
    health = HEALTH_SCORE[state.health]
    denom = weights.capability + weights.performance + weights.health or 1.0
    total = (cap * weights.capability + perf * weights.performance + health * weights.health) / denom
    return Score(cap, perf, health, ramp, total * ramp)


def order_candidates(
    models: Sequence[ModelState],
    *,
    requested: str,
    fallback_chain: Sequence[str],
    task: TaskGuess,
    strategy: Strategy,
    weights: RoutingWeights,
    rng: random.Random,
    ramp_of: Callable[[ModelState], float],
    fallback_to_any: bool = True,
) -> Route:
    """Order every known model for one request and say why the first one leads.

    A pinned model is tried first, then its fallback chain, then (with `fallback_to_any`) every
    other model by score. A pinned model no server offers is not a dead end: the chain and the
    others still answer, and the explanation says so.
    """
    by_key = {m.key: m for m in models}
    used = weights.for_task(task.task.value)
    scores = {m.key: score(m, task.task, used, ramp_of(m)) for m in models}
    ranked = sorted(models, key=lambda m: -scores[m.key].total)
    ordered: list[ModelState] = []
    if requested != AUTO:
        if requested in by_key:
            ordered.append(by_key[requested])
        ordered += [by_key[k] for k in fallback_chain if k in by_key and k != requested]
        if fallback_to_any:
            ordered += [m for m in ranked if m not in ordered]
        lead = (
            f"pinned {requested}" if requested in by_key else f"pinned {requested} is not known to any server"
        )
        if requested in by_key and len(ordered) > 1:
            lead += f"; fallbacks {', '.join(m.key for m in ordered[1:4])}"
        elif ordered:
            lead += f"; trying {', '.join(m.key for m in ordered[:3])} instead"
        elif not fallback_to_any:
            lead += " (falling back to other models is turned off)"
        return Route(tuple(ordered), lead)
    if fallback_chain:
        ordered += [by_key[k] for k in fallback_chain if k in by_key]
        chained = set(fallback_chain)
        ordered += [m for m in ranked if m.key not in chained]
        # the configured chain gives order among equals; health still demotes broken models
        ordered.sort(key=lambda m: -HEALTH_SCORE[m.health] * ramp_of(m))
    else:
        ordered = ranked
    if strategy is Strategy.WEIGHTED and len(ordered) > 1:
        weights_list = [max(1e-6, scores[m.key].total) for m in ordered]
        first = rng.choices(ordered, weights=weights_list, k=1)[0]
        ordered.remove(first)
        ordered.insert(0, first)
    if not ordered:
        return Route((), "no models known")
    head = ordered[0]
    return Route(
        tuple(ordered),
        f"auto: {task.explain()} → {head.key}, {scores[head.key].explain()}; {used.explain()}",
    )
