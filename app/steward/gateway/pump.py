"""`EventPump`: reads one engine event stream in a task, so its reader can take every event that
has already arrived at once (`ready()`) instead of one per loop turn.

That lets a stream send the tokens that arrived together as one delta and one write — the
difference between one socket send per token and one per burst when a client is behind — without
ever holding a token back: `ready()` never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from steward.engine.events import EngineEvent

_END = object()


class EventPump:
    """Pumps `events` into a queue from the moment it is made; `aclose()` stops the stream."""

    def __init__(self, events: AsyncIterator[EngineEvent]) -> None:
        self._source = events
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._ended = False
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            async for event in self._source:
                self._queue.put_nowait(event)
        finally:
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
        """Stop reading and close the engine's stream (which cancels the request if it still runs)."""
        self._ended = True
        if not self._task.done():
            self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)  # also retrieves a crash of the source
        closer = getattr(self._source, "aclose", None)
        if closer is not None:
            with contextlib.suppress(RuntimeError):  # already closed by the cancellation
                await closer()
