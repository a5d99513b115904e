"""Events published by discovery, the supervisor and model operations.

They extend the engine's `EngineEvent` (wall-clock `ts`, `type`, `payload()`), so the GUI
bridge and the audit trail handle them exactly like engine events.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from steward.engine.events import EngineEvent


class ServerState(enum.StrEnum):
    """Lifecycle of a managed server process."""

    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    CRASHED = "crashed"
    RESTARTING = "restarting"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ServerStateChanged(EngineEvent):
    """A managed server moved to `state`; `log_tail` holds its last log lines on crash/failure."""

    server: str
    state: str
    previous: str
    pid: int | None
    port: int | None
    restarts: int
    detail: str = ""
    log_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServerOomRecovery(EngineEvent):
    """A managed llama-server ran out of memory and is restarted with a smaller context."""

    server: str
    old_ctx: int
    new_ctx: int
    old_gpu_layers: int
    new_gpu_layers: int
    signature: str


@dataclass(frozen=True)
class OrphanReaped(EngineEvent):
    """A server process left behind by a Steward that died was stopped."""

    server: str
    pid: int
    command: str


@dataclass(frozen=True)
class ModelOperation(EngineEvent):
    """A model was loaded, unloaded or swapped on a server. `model` is the "server/model" key."""

    model: str
    operation: str  # "load" | "unload" | "swap"
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class ServerAppeared(EngineEvent):
    """Discovery found a server that was not there before (or that changed kind)."""

    base_url: str
    kind: str
    port: int
    version: str | None
    models: tuple[str, ...]


@dataclass(frozen=True)
class ServerDisappeared(EngineEvent):
    """A previously discovered server no longer answers."""

    base_url: str
    kind: str
    port: int


ServerEventSink = Callable[[EngineEvent], None]
"""Where events go: the runtime forwards them to the store, the GUI bridge and the log."""
