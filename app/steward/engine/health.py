"""Derived health: one word per model, computed from breaker, quarantine, probes and traffic."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from steward.engine.breaker import BreakerState
from steward.engine.metrics import ModelMetrics
from steward.engine.settings import HealthSettings
from steward.engine.types import ServerState


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    QUARANTINED = "quarantined"
    LOADING = "loading"
    UNKNOWN = "unknown"


HEALTH_SCORE: dict[HealthStatus, float] = {
    HealthStatus.HEALTHY: 1.0,
    HealthStatus.UNKNOWN: 0.7,
    HealthStatus.DEGRADED: 0.5,
    HealthStatus.LOADING: 0.3,
    HealthStatus.UNHEALTHY: 0.0,
    HealthStatus.QUARANTINED: 0.0,
}


QUALITY_MIN_ANSWERS = 10
"""Answers scored before a low mean quality counts (one bad answer is not a bad model)."""


@dataclass(frozen=True)
class HealthInputs:
    quarantined: bool
    breaker: BreakerState
    server_state: ServerState | None
    truncation_recent: bool
    canary_failure: str | None = None
    """The inference canary's last failure (liveness may still say up): unhealthy, with its reason."""
    quality: tuple[float, int] | None = None
    """(mean quality score 0–10, answers scored) of the model's latest answers."""
    drift: str | None = None
    """A sustained change against the model's own usual behaviour, seen recently."""
    unavailable: str | None = None
    """The server says the model cannot answer (a router model that failed to load)."""


def derive_health(
    inputs: HealthInputs, metrics: ModelMetrics, settings: HealthSettings, now: float
) -> tuple[HealthStatus, str]:
    """The model's status and the one-line reason behind it."""
    if inputs.quarantined:
        return HealthStatus.QUARANTINED, "quarantined"
    if inputs.server_state is ServerState.LOADING:
        return HealthStatus.LOADING, "model is loading"
    if inputs.canary_failure is not None:
        return HealthStatus.UNHEALTHY, inputs.canary_failure
    if inputs.unavailable is not None:
        return HealthStatus.UNHEALTHY, f"the server says: {inputs.unavailable}"
    if inputs.breaker is BreakerState.OPEN:
        return HealthStatus.UNHEALTHY, "circuit open"
    if inputs.server_state is ServerState.DOWN:
        return HealthStatus.UNHEALTHY, "server down"
    if inputs.breaker is BreakerState.HALF_OPEN:
        return HealthStatus.DEGRADED, "circuit half-open: probing"
    recent = metrics.traffic_since(now - settings.window_s)
    error_rate = recent.error_rate
    if error_rate is not None and error_rate > settings.degraded_error_rate:
        return HealthStatus.DEGRADED, f"error rate {error_rate:.0%} in the last {settings.window_s:g} s"
    recent_ok = recent.ok_ttfts
    baseline = metrics.baseline_ttft
    if recent_ok and baseline and len(recent_ok) >= 3:
        recent_median = recent_ok[len(recent_ok) // 2]  # ascending already
        if recent_median > settings.degraded_latency_factor * baseline and recent_median > 0.05:
            return HealthStatus.DEGRADED, (
                f"first token {recent_median * 1000:.0f} ms vs usual {baseline * 1000:.0f} ms"
            )
    if inputs.drift is not None:
        return HealthStatus.DEGRADED, inputs.drift
    if inputs.quality is not None:
        mean, count = inputs.quality
        if count >= QUALITY_MIN_ANSWERS and mean < settings.degraded_quality:
            return HealthStatus.DEGRADED, f"answers score low: {mean:.1f}/10 on average (last {count})"
    if inputs.truncation_recent:
        return HealthStatus.DEGRADED, "server silently truncated a prompt recently"
    if error_rate is not None or inputs.server_state is ServerState.UP:
        return HealthStatus.HEALTHY, "answering normally" if error_rate is not None else "server up"
    return HealthStatus.UNKNOWN, "no traffic or probe yet"
