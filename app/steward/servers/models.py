"""Model operations on servers that load models on demand (Ollama): load/warm, unload, list loaded.

Ollama loads a model on the first request that names it and keeps it for `keep_alive`; a
generate request without a prompt loads it ahead of time (warm), one with `keep_alive: 0`
unloads it. `/api/ps` says what is loaded, with VRAM use and expiry. Each operation is a
`ModelOperation` event. (llama-server serves one model per process: see `Supervisor.swap_model`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from steward.engine.clock import wall_time
from steward.servers.events import ModelOperation, ServerEventSink


class ModelOperationError(RuntimeError):
    """The server refused or failed a model operation; the message carries its reason."""


@dataclass(frozen=True)
class LoadedModel:
    """A model resident in a server's memory."""

    name: str
    size: int
    size_vram: int
    expires_at: datetime | None
    context_length: int | None


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:200]
    return response.text[:200]


class OllamaModelOps:
    """Load, unload and list models of one Ollama server (`server_id` names it in events)."""

    def __init__(
        self,
        server_id: str,
        base_url: str,
        *,
        on_event: ServerEventSink | None = None,
        timeout_s: float = 300.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._server_id = server_id
        self._base = base_url.rstrip("/")
        self._on_event = on_event
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)
        self._transport = transport

    async def load(
        self, model: str, *, keep_alive: str | float | None = None, num_ctx: int | None = None
    ) -> None:
        """Load (warm) `model` now, optionally with window `num_ctx`, for `keep_alive`."""
        body: dict[str, object] = {"model": model, "stream": False}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        if num_ctx is not None:
            body["options"] = {"num_ctx": num_ctx}
        await self._operate("load", model, body)

    async def unload(self, model: str) -> None:
        """Unload `model` now (`keep_alive: 0`), freeing its memory."""
        await self._operate("unload", model, {"model": model, "keep_alive": 0, "stream": False})

    async def loaded(self) -> list[LoadedModel]:
        """The models loaded right now, with size, VRAM use, expiry and window."""
        async with self._client() as client:
            try:
                response = await client.get(f"{self._base}/api/ps")
            except httpx.HTTPError as exc:
                raise ModelOperationError(f"{self._server_id}: cannot list loaded models: {exc}") from exc
        if response.status_code != 200:
            raise ModelOperationError(f"{self._server_id}: /api/ps answered {response.status_code}")
        entries = response.json().get("models") or []
        return [
            LoadedModel(
                name=str(m.get("name") or m.get("model")),
                size=int(m.get("size") or 0),
                size_vram=int(m.get("size_vram") or 0),
                expires_at=_parse_time(m.get("expires_at")),
                context_length=int(m["context_length"]) if m.get("context_length") else None,
            )
            for m in entries
            if isinstance(m, dict)
        ]

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, transport=self._transport, trust_env=False)

    async def _operate(self, operation: str, model: str, body: dict[str, object]) -> None:
        key = f"{self._server_id}/{model}"
        try:
            async with self._client() as client:
                response = await client.post(f"{self._base}/api/generate", json=body)
        except httpx.HTTPError as exc:
            self._emit(
                ModelOperation(wall_time(), None, key, operation, False, str(exc) or type(exc).__name__)
            )
            raise ModelOperationError(f"{key}: {operation} failed: {exc}") from exc
        if response.status_code != 200:
            reason = _error_text(response)
            self._emit(ModelOperation(wall_time(), None, key, operation, False, reason))
            raise ModelOperationError(f"{key}: {operation} failed ({response.status_code}): {reason}")
        self._emit(ModelOperation(wall_time(), None, key, operation, True, ""))

    def _emit(self, event: ModelOperation) -> None:
        if self._on_event is not None:
            self._on_event(event)
