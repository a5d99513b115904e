"""Responses: compact JSON, and a stream that always cleans up after itself.

A client can go away at any moment: before the first byte, mid-stream, or while the engine waits
for a token. Whatever happens, the engine's request must be cancelled (its connections closed,
its slot freed) and the request recorded; `StreamResponse` guarantees that.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from steward.gateway.wire import dumps


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(payload), status, headers=headers, media_type="application/json")


class StreamResponse(StreamingResponse):
    """A streamed body whose generator is closed and whose `cleanup` runs however the response
    ends: finished, client gone (also before the first byte) or server shutting down."""

    def __init__(
        self,
        content: AsyncGenerator[bytes, None],
        *,
        headers: Mapping[str, str],
        media_type: str,
        cleanup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(content, headers={**headers, "cache-control": "no-cache"}, media_type=media_type)
        self._generator = content
        self._cleanup = cleanup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self._generator.aclose()
            finally:
                if self._cleanup is not None:
                    await self._cleanup()
