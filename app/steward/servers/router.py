"""llama-server routers: live model status from `/models/sse`, and load/unload on request.

The wire formats are in `steward.backends.llamacpp_router` (recorded from the pinned build).
A `RouterWatch` keeps one `RouterFollower` per router backend the engine has: at each (re)connect
it reads `GET /models` (the stream only sends changes), and at each status change it reads it
again and updates the engine's models, so the Models page shows "loading…", "loaded",
"sleeping", "unloaded" or "failed (exit 1)" as it happens. Loading progress events (several per
load) change nothing and are skipped. `change_load` loads or unloads one model and waits until
the router says it is done, publishing a `ModelOperation` either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Protocol

import httpx

from steward.backends.llamacpp import LlamaCppBackend
from steward.backends.llamacpp_router import (
    FAILED,
    LOADED,
    UNLOADED,
    RouterStatus,
    parse_event,
)
from steward.backends.streams import SseDecoder
from steward.engine.backend import Backend
from steward.engine.clock import wall_time
from steward.engine.events import EngineEvent
from steward.engine.failures import BackendError
from steward.engine.types import ModelInfo
from steward.servers.events import ModelOperation
from steward.servers.models import ModelOperationError

log = logging.getLogger(__name__)

RECONNECT_S = 2.0
POLL_S = 0.2


class RouterEngine(Protocol):
    """What a follower updates (`steward.engine.Engine` fits)."""

    def add_model(self, server_id: str, info: ModelInfo) -> object: ...


class RouterFollower:
    """Follows one router's status stream and keeps the engine's view of its models current."""

    def __init__(self, backend: LlamaCppBackend, engine: RouterEngine, *, reconnect_s: float = RECONNECT_S):
        self.backend = backend
        self._engine = engine
        self._reconnect_s = reconnect_s
        self._seen: dict[str, str] = {}
        self.changes = 0
        """Status changes applied so far (tests and logs read it)."""

    async def sync(self) -> None:
        """Read every model's status (`GET /models`) into the engine."""
        for info in await self.backend.list_models():
            self._seen[info.name] = info.extra.get("router_status", "")
            self._engine.add_model(self.backend.server_id, info)

    async def run(self) -> None:
        """Follow the stream until cancelled; reconnect (and read the list again) when it drops."""
        while True:
            try:
                async with self.backend.model_events() as response:
                    if response.status_code != 200:
                        raise httpx.HTTPStatusError(
                            "no event stream", request=response.request, response=response
                        )
                    await self.sync()  # after connecting: no change falls between the list and the stream
                    decoder = SseDecoder()
                    async for text in response.aiter_text():
                        for event in decoder.feed(text):
                            await self._on(event.data)
            except (httpx.HTTPError, BackendError, OSError) as exc:
                log.debug("%s: status stream: %s", self.backend.server_id, exc)
            await asyncio.sleep(self._reconnect_s)

    async def _on(self, data: str) -> None:
        event = parse_event(data)
        if event is None:
            return
        if event.status is None and event.event not in ("models_reload", "model_remove"):
            return  # download progress and the like
        if event.status is not None and self._seen.get(event.model) == event.status.value:
            return  # loading progress: same status
        self.changes += 1
        await self.sync()


class RouterWatch:
    """One follower per router backend of the engine (started and stopped as backends come and go)."""

    def __init__(self, engine: RouterEngine) -> None:
        self._engine = engine
        self._tasks: dict[str, tuple[RouterFollower, asyncio.Task[None]]] = {}

    def update(self, backends: Iterable[Backend]) -> None:
        """Follow every router among `backends` (those already asked `is_router`); stop following
        the ones gone."""
        routers = {b.server_id: b for b in backends if isinstance(b, LlamaCppBackend) and b.known_router}
        for server_id in [s for s in self._tasks if s not in routers]:
            self._tasks.pop(server_id)[1].cancel()
        for server_id, backend in routers.items():
            if server_id not in self._tasks:
                follower = RouterFollower(backend, self._engine)
                self._tasks[server_id] = (follower, asyncio.ensure_future(follower.run()))

    def follower(self, server_id: str) -> RouterFollower | None:
        entry = self._tasks.get(server_id)
        return entry[0] if entry else None

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def change_load(
    backend: LlamaCppBackend,
    model: str,
    load: bool,
    *,
    wait_s: float,
    on_event: Callable[[EngineEvent], None] | None = None,
    poll_s: float = POLL_S,
) -> RouterStatus:
    """Load (or unload) `model` on a router and wait until it is loaded (unloaded), at most
    `wait_s`. Raises ModelOperationError with the router's reason (a failed load says its exit
    code); publishes a ModelOperation either way."""
    key = f"{backend.server_id}/{model}"
    operation = "load" if load else "unload"

    def done(ok: bool, detail: str = "") -> None:
        if on_event is not None:
            on_event(ModelOperation(wall_time(), None, key, operation, ok, detail))

    try:
        await (backend.load(model) if load else backend.unload(model))
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            status = await backend.router_status(model)
            if status is None:
                raise ModelOperationError(f"{key}: the router no longer lists it")
            if load and status.value == FAILED:
                raise ModelOperationError(f"{key}: load {status.words}")
            if status.value in ((LOADED,) if load else (UNLOADED, FAILED)):
                done(True)
                return status
            if asyncio.get_running_loop().time() > deadline:
                raise ModelOperationError(f"{key}: still {status.words} after {wait_s:g} s")
            await asyncio.sleep(poll_s)
    except BackendError as exc:
        done(False, exc.detail)
        raise ModelOperationError(f"{key}: {operation} failed: {exc.detail}") from exc
    except ModelOperationError as exc:
        done(False, str(exc))
        raise
