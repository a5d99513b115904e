"""The HTTP path of a streamed answer: one POST, then the body piece by piece as it arrives.

Every token of every answer crosses this path, so it runs on aiohttp (C-accelerated HTTP
parser, protocol-based reads): a streamed chat costs ~180 us of CPU there against ~830 us through
httpx's client, pool and h11 (measured against the same local server, same process; see
tests/bench/bench_gateway.py). Every other call (model lists, windows, token counts, probes) stays
on httpx, where a few hundred microseconds do not matter.

Failures keep ONE vocabulary: aiohttp's exceptions are raised as the matching httpx exception
classes (ConnectError, ConnectTimeout, ReadTimeout, RemoteProtocolError, ReadError), so
classification (`classify_exception`) and the stale keep-alive retry treat both paths alike.
When a test injects an httpx transport (`httpx.MockTransport`), the same interface runs over
that httpx client instead (`HttpxStreams`), so the adapters' parsing is unit-tested on exact
bytes; the aiohttp path itself is tested against real sockets (tests/unit/test_stream_http.py).
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Protocol

import aiohttp
import httpx

_READ_SIZE = 64 * 1024


class StreamedResponse(Protocol):
    """The head of a streamed answer and a way to read its body."""

    @property
    def status_code(self) -> int: ...

    def header(self, name: str) -> str:
        """A response header ("" when absent), case-insensitive."""
        ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def iter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (httpx exceptions on transport failures)."""
        ...

    async def read(self) -> bytes:
        """The whole (rest of the) body."""
        ...


class StreamOpener(Protocol):
    """Opens streamed POSTs against one server; closes what it opened."""

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """POST `body` (JSON) to `path`; the response is open inside the block, closed after it.
        Raises httpx exceptions, or `StaleConnection` for a reused socket that was already dead."""
        ...

    def configure(self, *, connect_s: float, stall_s: float) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class _FreshMark:
    opened: bool = False


class StaleConnection(Exception):
    """A REUSED keep-alive connection was closed before any response byte: the request never
    reached a live connection, so sending it again once (on a new one) is safe. A FRESH
    connection that drops is the server's answer and is raised as is."""

    def __init__(self, error: httpx.TransportError) -> None:
        super().__init__(str(error))
        self.error = error


def _stale_or(error: Exception, mark: _FreshMark) -> Exception:
    if not mark.opened and isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return StaleConnection(error)
    return error


def _as_httpx(exc: BaseException, stage: str) -> Exception:
    """An aiohttp / socket failure as the httpx exception class Steward classifies by."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, aiohttp.SocketTimeoutError | asyncio.TimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = getattr(exc, "os_error", None)
        if isinstance(os_error, TimeoutError) or getattr(os_error, "errno", None) == errno.ETIMEDOUT:
            return httpx.ConnectTimeout(text)
        return httpx.ConnectError(text)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return httpx.RemoteProtocolError(f"server disconnected {stage}: {text}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return httpx.RemoteProtocolError(f"the body was cut {stage}: {text}")
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed status line or headers
        return httpx.RemoteProtocolError(f"malformed HTTP answer: {text}")
    if isinstance(exc, aiohttp.ClientOSError | ConnectionError | OSError):
        return httpx.ReadError(f"{text} ({stage})")
    if isinstance(exc, aiohttp.ClientError):
        return httpx.RemoteProtocolError(f"{text} ({stage})")
    raise exc


@dataclass
class _AiohttpResponse:
    response: aiohttp.ClientResponse

    @property
    def status_code(self) -> int:
        return self.response.status

    def header(self, name: str) -> str:
        return self.response.headers.get(name, "")

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        content = self.response.content
        while True:
            try:
                piece = await content.readany()
            except Exception as exc:
                raise _as_httpx(exc, "while reading the answer") from exc
            if not piece:
                return
            yield piece

    async def read(self) -> bytes:
        try:
            return await self.response.read()
        except Exception as exc:
            raise _as_httpx(exc, "while reading the answer") from exc


@dataclass
class AiohttpStreams:
    """Streamed POSTs over one pooled aiohttp session (created on first use, in the running loop).

    Pool and timeouts mirror the httpx client's: `connect_s` to open a connection, `stall_s` the
    longest silence between two reads, keep-alive sockets kept `keepalive_s` (below llama-server's
    own 5 s idle close), at most `max_connections` at once, `pool_s` to wait for a free one.
    """

    base_url: str
    headers: Mapping[str, str]
    connect_s: float
    stall_s: float
    pool_s: float = 5.0
    keepalive_s: float = 3.0
    max_connections: int = 16
    _session: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)
    _closed: bool = field(default=False, init=False, repr=False)

    def configure(self, *, connect_s: float, stall_s: float) -> None:
        self.connect_s, self.stall_s = connect_s, stall_s

    def _open_session(self) -> aiohttp.ClientSession:
        trace = aiohttp.TraceConfig()

        async def opened(_session: object, context: SimpleNamespace, _params: object) -> None:
            mark = context.trace_request_ctx
            if isinstance(mark, _FreshMark):
                mark.opened = True

        trace.on_connection_create_start.append(opened)
        connector = aiohttp.TCPConnector(
            limit=self.max_connections, limit_per_host=0, keepalive_timeout=self.keepalive_s
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers=dict(self.headers),
            trust_env=False,  # a local server must never be reached through a system proxy
            trace_configs=[trace],
            auto_decompress=True,
        )

    @asynccontextmanager
    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[StreamedResponse]:
        if self._session is None:
            if self._closed:  # as httpx refuses a closed client: no session is left behind unclosed
                raise httpx.ConnectError("the connection to this server has been closed")
            self._session = self._open_session()
        mark = _FreshMark()
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self.pool_s + self.connect_s,
            sock_connect=self.connect_s,
            sock_read=self.stall_s,
        )
        try:
            response = await self._session.post(
                self.base_url + path,
                data=body,
                headers={"Content-Type": "application/json", **headers},
                timeout=timeout,
                trace_request_ctx=mark,
                allow_redirects=False,
            )
        except Exception as exc:
            raise _stale_or(_as_httpx(exc, "before any answer"), mark) from exc
        try:
            yield _AiohttpResponse(response)
        finally:
            # Closing (not releasing) a response read only in part drops its connection: the
            # server sees the disconnect and stops generating. A fully read one goes back to the pool.
            response.close()

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


@dataclass
class _HttpxResponse:
    response: httpx.Response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    def header(self, name: str) -> str:
        return str(self.response.headers.get(name, ""))

    @property
    def headers(self) -> Mapping[str, str]:
        return self.response.headers

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        async for piece in self.response.aiter_bytes():
            yield piece

    async def read(self) -> bytes:
        return await self.response.aread()


@dataclass
class HttpxStreams:
    """The same interface over an httpx client (used when a test injects an httpx transport)."""

    client: httpx.AsyncClient

    def configure(self, *, connect_s: float, stall_s: float) -> None:
        """The client's own timeouts are configured by its owner."""

    @asynccontextmanager
    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[StreamedResponse]:
        mark = _FreshMark()

        async def trace(name: str, _info: Mapping[str, object]) -> None:
            if name == "connection.connect_tcp.started":
                mark.opened = True

        headers = {"Content-Type": "application/json", **headers}
        request = self.client.build_request("POST", path, content=body, headers=headers)
        request.extensions["trace"] = trace
        try:
            response = await self.client.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _stale_or(exc, mark) from exc
        try:
            yield _HttpxResponse(response)
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        """The client is closed by its owner."""
