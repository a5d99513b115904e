"""`EventPump`: the events of one engine request, queued as the engine pushes them, so its reader
can take every event that has already arrived at once (`ready()`) instead of one per loop turn.

That lets a stream send the tokens that arrived together as one delta and one write — the
difference between one socket send per token and one per burst when a client is behind — without
ever holding a token back: `ready()` never waits. The engine pushes into the queue directly
(`StewardService.ask_pushed`): no task or second queue between the engine and the relay.
"""

from __future__ import annotations

import asyncio

from steward.engine.events import EngineEvent
from steward.engine.request import ChatRequest
from steward.service import StewardService

_END = object()


class EventPump:
    """Starts `request` on `service` at once; `aclose()` stops it."""

    def __init__(self, service: StewardService, request: ChatRequest) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ended = False
        self._running = service.ask_pushed(request, self._queue.put_nowait, self._end)

    def _end(self) -> None:
        self._queue.put_nowait(_END)

    async def next(self) -> EngineEvent | None:
        """The next event (waiting for it), or None once the stream ended."""
        if self._ended:
            return None
        item = await self._queue.get()
        return self._take(item)

    def ready(self) -> EngineEvent | None:
        """The next event if it has already arrived, else None (never waits)."""
        if self._ended or self._queue.empty():
            return None
        return self._take(self._queue.get_nowait())

    def _take(self, item: object) -> EngineEvent | None:
        if item is _END:
            self._ended = True
            return None
        assert isinstance(item, EngineEvent)
        return item

    async def aclose(self) -> None:
        """Stop reading and cancel the request if it still runs (its connections are closed)."""
        self._ended = True
        await self._running.cancel()
