"""The small protocol every server adapter implements (the dependency points inward)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from steward.engine.types import ChatMessage, GenerationParams, ModelInfo, ProbeResult, StreamChunk


@runtime_checkable
class Backend(Protocol):
    """One model server. All failures surface as `BackendError` with a `FailureKind`.

    `stream_chat` yields chunks as they arrive; closing the iterator (aclose, or
    cancelling the task consuming it) must close the connection so the server
    stops generating.
    """

    @property
    def server_id(self) -> str:
        """Stable identifier of this server (e.g. "llamacpp@127.0.0.1:8080")."""
        ...

    @property
    def kind(self) -> str:
        """Server kind: "ollama", "llamacpp", "openai"."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """Models the server can serve now."""
        ...

    async def describe(self, model: str) -> ModelInfo:
        """Everything the server says about `model` (windows, size, quantization...)."""
        ...

    def stream_chat(
        self, model: str, messages: Sequence[ChatMessage], params: GenerationParams
    ) -> AsyncIterator[StreamChunk]:
        """Stream one answer. Raises `BackendError` (possibly mid-stream)."""
        ...

    async def probe(self) -> ProbeResult:
        """Cheap liveness check: up, loading or down. Never raises."""
        ...

    async def count_tokens(self, model: str, messages: Sequence[ChatMessage]) -> int | None:
        """Exact prompt token count if the server can count, else None."""
        ...

    async def aclose(self) -> None:
        """Release pooled connections."""
        ...


@runtime_checkable
class WarmupAware(Protocol):
    """A backend that can tell when one model's warm-up is over (a llama-server router loads each
    model on its own while its `/health` stays ok, so the server's probe cannot say)."""

    async def warmup_over(self, model: str) -> bool | None:
        """True when waiting for `model` to come up is over (ready, or failed for good), False
        while it warms up, None when this server cannot tell per model (then its probe decides)."""
        ...
