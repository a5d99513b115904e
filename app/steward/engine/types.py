"""Plain data the engine and its backends exchange (no behaviour, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True)
class ModelRef:
    """A model on a specific server: the unit that breakers, health and metrics track."""

    server_id: str
    model: str

    @property
    def key(self) -> str:
        return f"{self.server_id}/{self.model}"

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters passed through to the server."""

    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    num_ctx: int | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts the server reported for one answer."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Timings:
    """Server-side timings when the server reports them (llama.cpp `timings`, Ollama durations)."""

    prompt_ms: float | None = None
    predicted_ms: float | None = None
    predicted_per_second: float | None = None
    load_ms: float | None = None


@dataclass(frozen=True)
class StreamChunk:
    """One piece of a streamed answer from a backend.

    A chunk carries text, or (on the final chunk) usage/timings/finish reason.
    """

    text: str = ""
    usage: Usage | None = None
    timings: Timings | None = None
    finish_reason: str | None = None
    done: bool = False


class ServerState(StrEnum):
    """Liveness of a server as seen by a probe."""

    UP = "up"
    LOADING = "loading"
    DOWN = "down"


@dataclass(frozen=True)
class ProbeResult:
    """The result of a cheap health probe (no generation)."""

    state: ServerState
    detail: str = ""
    latency_s: float | None = None


@dataclass(frozen=True)
class ModelInfo:
    """What a server says about one model; None where the server does not say."""

    name: str
    loaded_context: int | None = None
    trained_context: int | None = None
    parameter_count: int | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    family: str | None = None
    size_bytes: int | None = None
    vram_bytes: int | None = None
    loaded: bool | None = None
    slots: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    unavailable: str | None = None
    """The server's own word that this model cannot answer now (a router's model that failed to
    load: "failed to load (exit 1)"); None when it may."""
