"""One pooled HTTP connection per model server, with secret hygiene.

Every backend talks to its server through exactly one `httpx.AsyncClient` so
connections are reused (keep-alive) and bounded (pool limits). The read timeout
is the *stall* timeout: the longest silence allowed between two received bytes.
First-token and total timeouts are the engine's business, not this layer's.
Auxiliary calls (model lists, windows, token counts, probes) are bounded as a
whole by `aux_s` (connect included): a hung server costs each of them at most that.
Every timeout can be changed live (`configure`), for the next request on.

The API key only lives in the client's default headers (httpx masks
`Authorization` in its own reprs); it is never stored in a public attribute,
never shown by `repr`/`str`, and `scrub` removes it from any text we are about
to log or put in an error detail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from steward.backends.classify import (
    classify_exception,
    classify_http,
    error_in_payload,
    parse_json_line,
)
from steward.backends.stream_http import AiohttpStreams, HttpxStreams, StreamedResponse, StreamOpener
from steward.engine.failures import BackendError, FailureKind

_SCRUBBED = "[redacted]"


@dataclass(frozen=True)
class PoolSettings:
    """Connection-pool and minor timeouts; defaults fit a local server on loopback."""

    max_connections: int = 16
    max_keepalive_connections: int = 8
    # Below the servers' own idle timeout (llama-server/cpp-httplib closes idle keep-alive sockets
    # after 5 s): reusing a socket the server is closing fails as "disconnected without a response".
    keepalive_expiry_s: float = 3.0
    write_s: float = 10.0
    pool_s: float = 5.0


class HttpConnection:
    """The shared, pooled client for one server (base URL + optional bearer key)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        connect_s: float,
        stall_s: float,
        aux_s: float | None = None,
        pool: PoolSettings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        settings = pool or PoolSettings()
        self._pool = settings
        self._aux_s = aux_s
        self._base_url = base_url.rstrip("/")
        self._secret = api_key or None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=headers,
            timeout=httpx.Timeout(
                connect=connect_s, read=stall_s, write=settings.write_s, pool=settings.pool_s
            ),
            limits=httpx.Limits(
                max_connections=settings.max_connections,
                max_keepalive_connections=settings.max_keepalive_connections,
                keepalive_expiry=settings.keepalive_expiry_s,
            ),
            transport=transport,
            trust_env=False,  # a local server must never be reached through a system proxy
        )
        # Streamed answers (the per-token path) run on aiohttp; a test's injected transport
        # serves them too, so the adapters' parsing is tested on exact bytes.
        self._streams: StreamOpener = (
            HttpxStreams(self._client)
            if transport is not None
            else AiohttpStreams(
                self._base_url,
                headers,
                connect_s=connect_s,
                stall_s=stall_s,
                pool_s=settings.pool_s,
                keepalive_s=settings.keepalive_expiry_s,
                max_connections=settings.max_connections,
            )
        )

    def configure(self, *, connect_s: float, stall_s: float, aux_s: float | None) -> None:
        """New timeouts for every later request (settings applied live)."""
        self._client.timeout = httpx.Timeout(
            connect=connect_s, read=stall_s, write=self._pool.write_s, pool=self._pool.pool_s
        )
        self._streams.configure(connect_s=connect_s, stall_s=stall_s)
        self._aux_s = aux_s

    def stream_post(
        self, path: str, body: Mapping[str, object], headers: Mapping[str, str]
    ) -> AbstractAsyncContextManager[StreamedResponse]:
        """POST `body` as JSON to `path` and stream the answer (see `stream_http`): connect within
        the connect timeout, then at most the stall timeout between two reads."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return self._streams.post(path, data, headers)

    @property
    def aux_s(self) -> float | None:
        """How long an auxiliary call may wait for its answer once connected (None: httpx's own timeouts)."""
        return self._aux_s

    async def aux(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """One auxiliary request: connect within the connect timeout, then an answer within `aux_s`.

        A server that accepts and never answers (or trickles) costs at most connect + `aux_s`;
        that is reported as "hung", a STALL_TIMEOUT. Other transport failures raise httpx errors.
        """
        if self._aux_s is None:
            return await self._client.request(method, path, **kwargs)  # type: ignore[arg-type]
        connect = self._client.timeout.connect or 0.0
        limit = httpx.Timeout(connect=connect, read=self._aux_s, write=self._aux_s, pool=self._aux_s)
        try:
            async with asyncio.timeout(connect + self._aux_s):
                return await self._client.request(method, path, timeout=limit, **kwargs)  # type: ignore[arg-type]
        except (TimeoutError, httpx.ReadTimeout):
            raise BackendError(
                FailureKind.STALL_TIMEOUT,
                f"hung: {path} accepted the connection but did not answer within {self._aux_s:g} s",
            ) from None

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client (base URL already set; paths are relative)."""
        return self._client

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def has_auth(self) -> bool:
        """Whether requests carry a bearer key (the key itself is not exposed)."""
        return self._secret is not None

    def scrub(self, text: str) -> str:
        """`text` with any occurrence of the API key replaced, safe to log or show."""
        if self._secret and self._secret in text:
            return text.replace(self._secret, _SCRUBBED)
        return text

    def scrub_error(self, err: BackendError) -> BackendError:
        """`err` with its detail scrubbed (a new error; the original stays the cause)."""
        detail = self.scrub(err.detail)
        if detail == err.detail:
            return err
        return BackendError(
            err.kind,
            detail,
            status=err.status,
            retry_after=err.retry_after,
            n_prompt_tokens=err.n_prompt_tokens,
            n_ctx=err.n_ctx,
        )

    def transport_error(self, exc: BaseException) -> BackendError:
        """A classified, scrubbed error for an exception raised while talking to the server."""
        return self.scrub_error(classify_exception(exc))

    async def status_error(self, response: httpx.Response | StreamedResponse) -> BackendError:
        """A classified, scrubbed error for a non-2xx response (reads its body)."""
        body = await response.aread() if isinstance(response, httpx.Response) else await response.read()
        err = classify_http(response.status_code, body, response.headers, now=datetime.now(UTC))
        return self.scrub_error(err)

    async def request_json(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        tolerate: Collection[int] = (),
    ) -> object | None:
        """Send one request and decode its JSON answer.

        Statuses in `tolerate` (say 404 for an optional endpoint) give None; any other
        non-2xx or transport failure raises a classified `BackendError`.
        """
        try:
            response = await self.aux(method, path, json=body)
        except httpx.HTTPError as exc:
            raise self.transport_error(exc) from exc
        if response.status_code in tolerate:
            return None
        if response.status_code >= 400:
            raise await self.status_error(response)
        payload = parse_json_line(response.text, f"JSON from {path}")
        err = error_in_payload(payload)
        if err is not None:
            raise self.scrub_error(err)
        return payload

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._streams.aclose()
        await self._client.aclose()

    def __repr__(self) -> str:
        auth = "bearer" if self._secret else "none"
        return f"HttpConnection(base_url={self._base_url!r}, auth={auth})"

    __str__ = __repr__
