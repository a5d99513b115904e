"""Model recommendations per hardware budget and task type, each with a human reason.

Ranking = (model quality by size + how well its capabilities match the task) scaled
by how it runs here (speed class, partial offload). Models that won't fit are left
out. `installed` says whether a server already has it (loose name matching).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

from steward.hardware.catalog import CatalogModel, match_installed
from steward.hardware.context_fit import max_fitting_context
from steward.hardware.corrections import CorrectionStore
from steward.hardware.fit import FitEstimate, FitLabel, MemoryBudget, SpeedClass, estimate_fit, speed_bucket
from steward.hardware.gpu import format_bytes


class TaskType(StrEnum):
    CODING = "coding"
    ARCHITECTURE = "architecture"
    TESTING = "testing"
    DEBUGGING = "debugging"
    DOCUMENTATION = "documentation"
    ANALYSIS = "analysis"
    PLANNING = "planning"
    GENERAL = "general"


TASK_WEIGHTS: dict[TaskType, dict[str, float]] = {
    TaskType.CODING: {"code": 3.0, "reasoning": 0.5, "long_context": 0.5},
    TaskType.ARCHITECTURE: {"reasoning": 2.0, "code": 1.5, "long_context": 1.0},
    TaskType.TESTING: {"code": 2.5, "reasoning": 0.5, "fast": 0.5},
    TaskType.DEBUGGING: {"code": 2.0, "reasoning": 2.0},
    TaskType.DOCUMENTATION: {"long_context": 1.0, "multilingual": 1.0, "code": 0.5},
    TaskType.ANALYSIS: {"reasoning": 2.0, "long_context": 1.5},
    TaskType.PLANNING: {"reasoning": 2.5, "long_context": 0.5},
    TaskType.GENERAL: {"multilingual": 0.5, "reasoning": 0.5, "fast": 0.5},
}
SPEED_FACTOR = {
    SpeedClass.FAST: 1.0,
    SpeedClass.GOOD: 0.95,
    SpeedClass.USABLE: 0.8,
    SpeedClass.SLOW: 0.45,
    SpeedClass.VERY_SLOW: 0.15,
}
PARTIAL_OFFLOAD_FACTOR = 0.85
# Planning to fill most of RAM leaves nothing for the rest of the machine.
TIGHT_RAM_FRACTION = 0.75
TIGHT_RAM_FACTOR = 0.6
INSTALLED_BONUS = 0.3


@dataclass(frozen=True)
class Recommendation:
    """One ranked suggestion: which model, at which quant, how it fits, why, and if it's installed."""

    model: CatalogModel
    quant: str
    fit: FitEstimate
    score: float
    reason: str
    installed: bool
    installed_as: str | None = None
    max_context: int = 0  # the largest context that fits this budget (0 = not computed / none)


def context_label(tokens: int) -> str:
    """8192 -> "8k", 131072 -> "128k", 1000 -> "1000"."""
    return f"{tokens // 1024}k" if tokens >= 1024 and tokens % 1024 == 0 else str(tokens)


def _fit_reason(fit: FitEstimate, budget: MemoryBudget) -> str:
    ctx = context_label(fit.context)
    speed = (
        f"~{speed_bucket(fit.tokens_per_second)} tok/s class" if fit.tokens_per_second else "speed unknown"
    )
    if fit.label is FitLabel.FULL_GPU:
        return f"fits fully on your {budget.gpu_label} at {ctx} context, {speed}"
    if fit.label is FitLabel.PARTIAL_GPU:
        return (
            f"{fit.gpu_layers} of {fit.total_layers} layers on your {budget.gpu_label}, the rest on the CPU, "
            f"at {ctx} context, {speed}"
        )
    return (
        f"runs on the CPU in {format_bytes(fit.memory.total)} of {format_bytes(budget.ram_bytes)} usable RAM "
        f"at {ctx} context, {speed} ({fit.speed})"
    )


def _score(model: CatalogModel, fit: FitEstimate, task: TaskType, budget: MemoryBudget) -> float:
    weights = TASK_WEIGHTS[task]
    quality = math.log2(model.parameters / 1e9 * 4 + 1)
    match = sum(w for cap, w in weights.items() if cap in model.capabilities)
    factor = SPEED_FACTOR.get(fit.speed, 0.5) if fit.speed else 0.5
    if fit.label is FitLabel.PARTIAL_GPU:
        factor *= PARTIAL_OFFLOAD_FACTOR
    if fit.label is not FitLabel.FULL_GPU and fit.memory.total > TIGHT_RAM_FRACTION * budget.ram_bytes:
        factor *= TIGHT_RAM_FACTOR
    return (quality + match) * factor


def _fit_for(
    model: CatalogModel, context: int, budget: MemoryBudget, ratio: float
) -> tuple[str, FitEstimate]:
    """The default quant's fit; if that won't fit, the smallest listed quant's."""
    ctx = min(context, model.trained_context)
    quant = model.default_quant()
    fit = estimate_fit(model.spec(quant), ctx, budget, correction=ratio)
    if not fit.runs:
        smallest = min(model.quants, key=lambda q: model.quants[q])
        if smallest != quant:
            quant, fit = smallest, estimate_fit(model.spec(smallest), ctx, budget, correction=ratio)
    return quant, fit


def recommend(
    catalog: Iterable[CatalogModel],
    budget: MemoryBudget,
    task: TaskType,
    *,
    installed: Iterable[str] = (),
    context: int = 8192,
    limit: int = 5,
    corrections: CorrectionStore | None = None,
) -> list[Recommendation]:
    """The best `limit` catalog models for `task` on `budget`, best first."""
    models = list(catalog)
    installed_map = match_installed(models, installed)
    ranked: list[Recommendation] = []
    for model in models:
        quant, fit = _fit_for(model, context, budget, corrections.get(model.id) if corrections else 1.0)
        if not fit.runs:
            continue
        installed_as = installed_map.get(model.id)
        score = _score(model, fit, task, budget) + (INSTALLED_BONUS if installed_as else 0.0)
        strengths = [c for c in TASK_WEIGHTS[task] if c in model.capabilities]
        good_at = f"good at {', '.join(s.replace('_', ' ') for s in strengths)}; " if strengths else ""
        reason = f"{good_at}{_fit_reason(fit, budget)}; {quant}, {format_bytes(fit.memory.weights)}"
        ranked.append(
            Recommendation(model, quant, fit, score, reason, installed_as is not None, installed_as)
        )
    ranked.sort(key=lambda r: (-r.score, r.model.id))
    return [_with_max_context(r, budget, corrections) for r in ranked[:limit]]


def _with_max_context(
    rec: Recommendation, budget: MemoryBudget, corrections: CorrectionStore | None
) -> Recommendation:
    """The recommendation with the largest context its quant fits with here (only for those shown)."""
    ratio = corrections.get(rec.model.id) if corrections else 1.0
    return replace(rec, max_context=max_fitting_context(rec.model.spec(rec.quant), budget, correction=ratio))


def recommend_all(
    catalog: Iterable[CatalogModel],
    budget: MemoryBudget,
    *,
    installed: Iterable[str] = (),
    context: int = 8192,
    limit: int = 3,
    corrections: CorrectionStore | None = None,
) -> Mapping[TaskType, list[Recommendation]]:
    """`recommend` for every task type."""
    models, names = list(catalog), list(installed)
    return {
        task: recommend(
            models, budget, task, installed=names, context=context, limit=limit, corrections=corrections
        )
        for task in TaskType
    }
