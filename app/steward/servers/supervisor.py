"""The supervisor: every managed server by profile name, started, stopped, swapped and watched.

Before the first start it reaps processes a killed Steward left behind (see `pidfile`), so a
crash never leaves a stale server holding a port or memory. It publishes each server's
status through `snapshot()` and every change as an event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from steward.engine.clock import Clock, SystemClock, wall_time
from steward.paths import log_dir as default_log_root
from steward.servers.discovery import KnownServer
from steward.servers.events import ModelOperation, OrphanReaped, ServerEventSink, ServerState
from steward.servers.logbuffer import LogLine
from steward.servers.managed import ManagedServer, ServerStatus, with_model
from steward.servers.pidfile import PidFiles, PidRecord
from steward.servers.policy import SupervisorPolicy
from steward.servers.profiles import LlamaServerProfile, ServerProfile


class Supervisor:
    """Managed servers by profile name. Use as `async with Supervisor(...)` to stop all on exit."""

    def __init__(
        self,
        profiles: Sequence[ServerProfile] = (),
        *,
        policy: SupervisorPolicy | None = None,
        clock: Clock | None = None,
        on_event: ServerEventSink | None = None,
        run_dir: Path | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self._policy = policy or SupervisorPolicy()
        self._clock = clock or SystemClock()
        self._on_event = on_event
        self._pidfiles = PidFiles(run_dir)
        self._log_dir = log_dir or default_log_root() / "servers"
        self._servers: dict[str, ManagedServer] = {}
        self._reaped = False
        for profile in profiles:
            self.add(profile)

    # ---- membership --------------------------------------------------------------------------------

    def add(self, profile: ServerProfile) -> ManagedServer:
        """Manage `profile` (not started). Names are unique."""
        if profile.name in self._servers:
            raise ValueError(f"a managed server named {profile.name!r} already exists")
        server = ManagedServer(
            profile,
            policy=self._policy,
            pidfiles=self._pidfiles,
            log_dir=self._log_dir,
            clock=self._clock,
            on_event=self._on_event,
        )
        self._servers[profile.name] = server
        return server

    async def remove(self, name: str) -> None:
        """Stop and forget `name`."""
        server = self._servers.pop(name, None)
        if server is not None:
            await server.stop()

    def server(self, name: str) -> ManagedServer:
        try:
            return self._servers[name]
        except KeyError:
            raise KeyError(f"no managed server named {name!r}") from None

    def names(self) -> list[str]:
        return list(self._servers)

    # ---- lifecycle ---------------------------------------------------------------------------------

    async def reap_orphans(self) -> list[PidRecord]:
        """Stop servers that a dead Steward left running (each an `OrphanReaped` event)."""
        self._reaped = True
        reaped = await asyncio.to_thread(self._pidfiles.reap, self._policy.reap_grace_s)
        for record in reaped:
            if self._on_event is not None:
                self._on_event(OrphanReaped(wall_time(), None, record.server, record.pid, record.command))
        return reaped

    async def start(self, name: str, *, wait: bool = True) -> ServerStatus:
        """Start `name` (reaping orphans first, once); see `ManagedServer.start`."""
        if not self._reaped:
            await self.reap_orphans()
        return await self.server(name).start(wait=wait)

    async def start_all(self, *, wait: bool = True) -> list[ServerStatus]:
        """Start every server at once; their statuses (each ready, failed or stopped with `wait`)."""
        if not self._reaped:
            await self.reap_orphans()
        return list(await asyncio.gather(*(s.start(wait=wait) for s in self._servers.values())))

    async def stop(self, name: str) -> ServerStatus:
        return await self.server(name).stop()

    async def stop_all(self) -> None:
        """Stop every server (in parallel; each gets its own grace period)."""
        await asyncio.gather(*(s.stop() for s in self._servers.values()))

    async def restart(self, name: str) -> ServerStatus:
        return await self.server(name).restart()

    def manages(self, name: str) -> bool:
        """Whether `name` is a server this supervisor runs."""
        return name in self._servers

    async def restart_for(self, name: str, reason: str) -> ServerStatus:
        """Restart `name` because it stopped answering (see `ManagedServer.restart_for`)."""
        return await self.server(name).restart_for(reason)

    async def swap_model(self, name: str, model: Path) -> ServerStatus:
        """Serve `model` from llama-server profile `name`: its process restarts with that file."""
        server = self.server(name)
        profile = server.profile
        if not isinstance(profile, LlamaServerProfile):
            raise TypeError(f"{name!r} is a {profile.kind} server; only llama-server swaps model files")
        status = await server.restart(with_model(profile, model))
        ok = status.state == ServerState.READY
        before = profile.model.name if profile.model is not None else "router"
        detail = f"{before} -> {model.name}" + ("" if ok else f": {status.detail}")
        if self._on_event is not None:
            self._on_event(ModelOperation(wall_time(), None, f"{name}/{model.name}", "swap", ok, detail))
        return status

    # ---- observation -------------------------------------------------------------------------------

    def snapshot(self) -> list[ServerStatus]:
        return [s.status() for s in self._servers.values()]

    def endpoints(self) -> list[KnownServer]:
        """Managed servers that have a port, as endpoints for backends (id = profile name)."""
        return [
            KnownServer(s.name, s.kind, s.base_url, "managed", s.state == ServerState.READY)
            for s in self.snapshot()
            if s.base_url is not None
        ]

    def log_tail(self, name: str, count: int | None = None) -> list[LogLine]:
        return self.server(name).log_tail(count)

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop_all()
