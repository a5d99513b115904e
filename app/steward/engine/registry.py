"""The engine's view of every model it can route to: backend, breaker, metrics, last facts."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from steward.engine.backend import Backend
from steward.engine.breaker import CircuitBreaker
from steward.engine.bulkhead import Bulkhead
from steward.engine.failures import FailureKind
from steward.engine.health import HealthStatus
from steward.engine.metrics import ModelMetrics
from steward.engine.types import ModelInfo, ModelRef, ProbeResult

QUALITY_WINDOW = 50
"""Answers whose quality scores are kept per model (health and routing read their mean)."""


@dataclass
class ServerEntry:
    """One backend and its per-server state."""

    backend: Backend
    bulkhead: Bulkhead
    last_probe: ProbeResult | None = None
    fixed_limit: int | None = None
    """Concurrency the server itself reports (its slots) or was given; else the settings' default."""


@dataclass
class ModelState:
    """Everything the engine tracks for one model endpoint (server + model)."""

    ref: ModelRef
    server: ServerEntry
    breaker: CircuitBreaker
    metrics: ModelMetrics
    info: ModelInfo | None = None
    capabilities: frozenset[str] = frozenset()
    health: HealthStatus = HealthStatus.UNKNOWN
    health_reason: str = "no traffic or probe yet"
    last_error_kind: FailureKind | None = None
    last_error_detail: str | None = None
    truncation_at: float | None = None
    recovered_at: float | None = None
    in_flight: int = 0
    last_used_at: float | None = None
    """Clock time the model last finished an attempt of a real request (the canary leaves it alone)."""
    canary_failure: str | None = None
    """Why the inference canary last failed ("canary: …"), until a canary or a real answer succeeds."""
    quality: deque[float] = field(default_factory=lambda: deque(maxlen=QUALITY_WINDOW))
    """Quality scores (0–10) of the model's latest answers."""
    drift: tuple[float, str] | None = None
    """(clock time, reason) of the latest sustained change against its own usual behaviour."""
    window_override: int | None = None
    window_checked: bool = False
    listed: bool = True
    """False for a configured model its server has not listed yet (a placeholder, see Engine.chat)."""
    """The server was asked for this model's window since it (re)started; no need to ask per request."""

    @property
    def key(self) -> str:
        return self.ref.key

    @property
    def backend(self) -> Backend:
        return self.server.backend

    @property
    def window(self) -> int | None:
        """The context window actually loaded, as far as we know."""
        if self.window_override is not None:
            return self.window_override
        if self.info is None:
            return None
        return self.info.loaded_context or self.info.trained_context
