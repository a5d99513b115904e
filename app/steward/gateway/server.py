"""`Gateway`: the HTTP endpoint on the SAME asyncio loop as the engine (no thread, no new loop).

uvicorn's `Server.serve()` runs as a task on the running loop — under qasync in the app, under
`asyncio.run` in `steward serve` — on a socket bound here, so a taken port fails `start()` with a
plain OSError instead of uvicorn's `sys.exit`. uvicorn's signal handlers are not installed: the
process that embeds the gateway owns SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable, Generator
from typing import Literal

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from steward.gateway.app import build_app
from steward.gateway.context import GatewayContext
from steward.gateway.guard import is_loopback_host
from steward.gateway.metrics import GatewayMetrics
from steward.service import StewardService

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 3.0
"""Streams still running at stop get this long to finish before they are cut."""


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers (the embedding process owns the signals)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class Gateway:
    """The local OpenAI/Ollama-compatible endpoint of one `StewardService`."""

    def __init__(
        self,
        service: StewardService,
        *,
        host: str | None = None,
        port: int | None = None,
        http: Literal["auto", "httptools", "h11"] = "auto",
    ) -> None:
        config = service.settings.gateway
        self.http = http_protocol(http)
        self.service = service
        self.host = host or config.host
        self.port = config.port if port is None else port
        self.metrics = GatewayMetrics(service)
        self.context = GatewayContext(service, self.metrics)
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        """Where clients connect (a wildcard address is shown as loopback)."""
        host = self.host or "127.0.0.1"
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_address(host)
            if address.is_unspecified:  # listening on every address: clients use loopback
                host = "::1" if address.version == 6 else "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Listen and serve; raises OSError when the address cannot be bound."""
        if self.running:
            return
        sock = bind(self.host, self.port)
        self.port = int(sock.getsockname()[1])
        app = build_app(self.context, loopback=is_loopback_host(self.host))
        config = uvicorn.Config(
            app,
            http=self.http,  # a class, not a name: frozen bundles need no hidden import
            ws="none",
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=int(SHUTDOWN_GRACE_S),
        )
        server = _EmbeddedServer(config)
        self._server = server
        self._unsubscribe = self.service.subscribe(self.metrics.on_event)
        self._task = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started:
            if self._task.done():
                sock.close()
                await self._cleanup()
                raise RuntimeError("the gateway did not start") from self._task.exception()
            await asyncio.sleep(0.005)
        log.info("gateway listening on %s", self.url)

    async def stop(self) -> None:
        """Stop listening, give running streams a moment, then cut them."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), SHUTDOWN_GRACE_S + 2.0)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self._cleanup()
        log.info("gateway stopped")

    async def _cleanup(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._server = None


def http_protocol(name: str) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol: httptools (C parser; a Steward dependency) unless it is
    missing, else h11 (pure Python, uvicorn's own dependency). bench_gateway measures both in the
    same run: h11 spends more CPU per streamed chunk."""
    if name in ("auto", "httptools"):
        try:
            from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
        except ImportError:
            if name == "httptools":
                raise
        else:
            return HttpToolsProtocol
    return H11Protocol


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on host:port (port 0: any free port)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:  # an unknown host name: say which
        raise OSError(exc.errno, f"cannot resolve {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
