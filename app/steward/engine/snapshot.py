"""Read-only views of the engine's state for the UI, the CLI and the store."""

from __future__ import annotations

from dataclasses import dataclass

from steward.engine.metrics import MetricsSnapshot


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
