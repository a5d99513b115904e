"""Responses: compact JSON, and a stream that always cleans up after itself.

A client can go away at any moment: before the first byte, mid-stream, or while the engine waits
for a token. Whatever happens, the engine's request must be cancelled (its connections closed,
its slot freed) and the request recorded; `StreamResponse` guarantees that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from steward.gateway.wire import dumps


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(payload), status, headers=headers, media_type="application/json")


class Last(bytes):
    """The final piece of a stream: sent together with the end of the body (one write, one wake-up
    of the client, with uvicorn's httptools protocol)."""


class StreamResponse(StreamingResponse):
    """A streamed body whose generator is closed and whose `cleanup` runs however the response
    ends: finished, client gone (also before the first byte) or server shutting down.

    Leaner than Starlette's own `__call__` (an anyio task group and two tasks per response): the
    body is sent from the request's own task, and a `ClientWatch` cancels it when the client
    disconnects, so a client that goes away while the engine waits for a token is noticed at once.
    """

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        *,
        headers: Mapping[str, str],
        media_type: str,
        cleanup: Callable[[], Awaitable[None]] | None = None,
        watch: ClientWatch | None = None,
    ) -> None:
        super().__init__(content, headers={**headers, "cache-control": "no-cache"}, media_type=media_type)
        self._generator = content
        self._cleanup = cleanup
        self._watch = watch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with self._watch or ClientWatch(receive):
                await send(
                    {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
                )
                last = False
                async for chunk in self._generator:
                    last = isinstance(chunk, Last)
                    await send({"type": "http.response.body", "body": bytes(chunk), "more_body": not last})
                    if last:
                        break
                if not last:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            try:
                await self._generator.aclose()
            finally:
                if self._cleanup is not None:
                    await self._cleanup()


class ClientWatch:
    """Cancels the current task when the client disconnects, and then ends quietly.

    uvicorn reports a disconnect through `receive()` (once the body was read, nothing else comes
    there). Used around everything that waits on the engine — the first token, a whole answer,
    a stream — so a client that gives up stops the engine's work at once, not at the next write.
    `gone` tells whether that happened.

    One watcher can serve two blocks of the same request (waiting for the first token, then the
    stream): `keep()` before leaving the first leaves it running, unarmed, for the next `with`
    (one task per request, not two); a client that left in between is acted on when it re-arms.
    """

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Future[None] | None = None
        self._armed = False
        self._keep = False
        self.gone = False

    def __enter__(self) -> ClientWatch:
        self._task = asyncio.current_task()
        self._armed = True
        if self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch())
        elif self.gone and self._task is not None:
            self._task.cancel()  # the client left while nobody was waiting
        return self

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone = True
        if self._armed and self._task is not None:
            self._task.cancel()

    def keep(self) -> None:
        """Leave the watcher running when this block ends: the next `with` takes it over."""
        self._keep = True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> bool:
        self._armed = False
        if self._keep:
            self._keep = False
        elif self._watcher is not None:
            self._watcher.cancel()
        if self.gone and kind is asyncio.CancelledError and self._task is not None:
            self._task.uncancel()  # our own cancellation: the client left, nothing went wrong
            return True
        return False
