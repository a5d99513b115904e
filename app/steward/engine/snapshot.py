"""Read-only views of the engine's state for the UI, the CLI and the store."""

from __future__ import annotations

from dataclasses import dataclass

from steward.engine.metrics import MetricsSnapshot
from steward.engine.registry import ModelState, ServerEntry
from steward.engine.types import ModelInfo


@dataclass(frozen=True)
class QuarantineView:
    reason: str
    remaining_s: float | None


@dataclass(frozen=True)
class ModelSnapshot:
    key: str
    server_id: str
    model: str
    health: str
    health_reason: str
    breaker: str
    reopen_in_s: float | None
    consecutive_failures: int
    trips: int
    quarantine: QuarantineView | None
    metrics: MetricsSnapshot
    window: int | None
    trained_window: int | None
    loaded: bool | None
    vram_bytes: int | None
    size_bytes: int | None
    quantization: str | None
    parameter_size: str | None
    capabilities: tuple[str, ...]
    last_error_kind: str | None
    last_error_detail: str | None
    in_flight: int
    ramp: float
    load_status: str | None = None
    """The server's own word for the model's state where it has one ("loaded", "loading…",
    "unloaded", "sleeping", "failed (exit 1)" on a llama-server router); None elsewhere."""
    quality: float | None = None
    """Mean quality score (0–10) of the model's latest answers; None before any."""


@dataclass(frozen=True)
class ServerSnapshot:
    server_id: str
    kind: str
    state: str
    detail: str
    in_flight: int
    queued: int
    limit: int


@dataclass(frozen=True)
class EngineSnapshot:
    models: tuple[ModelSnapshot, ...]
    servers: tuple[ServerSnapshot, ...]
    active_requests: int

    def model(self, key: str) -> ModelSnapshot | None:
        return next((m for m in self.models if m.key == key), None)


def model_snapshot(state: ModelState, quarantine: QuarantineView | None, ramp: float) -> ModelSnapshot:
    """What the UI and the gateway see of one model, copied out of the engine's live state."""
    info = state.info or ModelInfo(state.ref.model)
    return ModelSnapshot(
        key=state.key,
        server_id=state.ref.server_id,
        model=state.ref.model,
        health=state.health.value,
        health_reason=state.health_reason,
        breaker=state.breaker.state.value,
        reopen_in_s=state.breaker.reopen_in(),
        consecutive_failures=state.breaker.consecutive_failures,
        trips=state.breaker.trips,
        quarantine=quarantine,
        metrics=state.metrics.snapshot(),
        window=state.window,
        trained_window=info.trained_context,
        loaded=info.loaded,
        vram_bytes=info.vram_bytes,
        size_bytes=info.size_bytes,
        quantization=info.quantization,
        parameter_size=info.parameter_size,
        capabilities=tuple(sorted(state.capabilities)),
        last_error_kind=state.last_error_kind.value if state.last_error_kind else None,
        last_error_detail=state.last_error_detail,
        in_flight=state.in_flight,
        ramp=ramp,
        load_status=info.extra.get("load_status"),
        quality=sum(state.quality) / len(state.quality) if state.quality else None,
    )


def server_snapshot(entry: ServerEntry) -> ServerSnapshot:
    probe = entry.last_probe
    return ServerSnapshot(
        server_id=entry.backend.server_id,
        kind=entry.backend.kind,
        state=probe.state.value if probe else "unknown",
        detail=probe.detail if probe else "",
        in_flight=entry.bulkhead.active,
        queued=entry.bulkhead.queued,
        limit=entry.bulkhead.limit,
    )
