"""Keep the list of discovered servers current: re-scan on demand and every `interval_s`.

Each scan is compared with the previous one; a server that appears (or whose kind changes)
is a `ServerAppeared` event, one that stops answering a `ServerDisappeared` event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import httpx

from steward.engine.clock import Clock, SystemClock, wall_time
from steward.servers.discovery import DEFAULT_HOST, DiscoveredServer, discover
from steward.servers.events import ServerAppeared, ServerDisappeared, ServerEventSink


class DiscoveryService:
    """Periodic and on-demand discovery with appeared/disappeared events."""

    def __init__(
        self,
        ports: Iterable[int],
        *,
        interval_s: float = 30.0,
        timeout_s: float = 1.0,
        host: str = DEFAULT_HOST,
        clock: Clock | None = None,
        on_event: ServerEventSink | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._ports = sorted(set(ports))
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._host = host
        self._clock = clock or SystemClock()
        self._on_event = on_event
        self._transport = transport
        self._known: dict[str, DiscoveredServer] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.scans = 0

    @property
    def ports(self) -> list[int]:
        return list(self._ports)

    def add_ports(self, ports: Iterable[int]) -> None:
        """Also probe `ports` from the next scan on (user-added ports)."""
        self._ports = sorted(set(self._ports) | set(ports))

    def snapshot(self) -> list[DiscoveredServer]:
        """The servers found by the last scan, in port order."""
        return sorted(self._known.values(), key=lambda s: s.port)

    async def refresh(self) -> list[DiscoveredServer]:
        """Scan now, publish what changed, and return the servers found."""
        async with self._lock:
            found = await discover(
                self._ports, host=self._host, timeout_s=self._timeout_s, transport=self._transport
            )
            self.scans += 1
            current = {s.base_url: s for s in found}
            for url, old in self._known.items():
                new = current.get(url)
                if new is None or new.kind != old.kind:
                    self._emit(ServerDisappeared(wall_time(), None, old.base_url, old.kind, old.port))
            for url, new in current.items():
                old_server = self._known.get(url)
                if old_server is None or old_server.kind != new.kind:
                    self._emit(
                        ServerAppeared(
                            wall_time(), None, new.base_url, new.kind, new.port, new.version, new.models
                        )
                    )
            self._known = current
            return self.snapshot()

    def start(self) -> None:
        """Scan now and then every `interval_s` of the clock, until `stop()`."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="steward-discovery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await self._clock.sleep(self._interval_s)

    def _emit(self, event: ServerAppeared | ServerDisappeared) -> None:
        if self._on_event is not None:
            self._on_event(event)
