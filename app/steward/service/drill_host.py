"""The failover drill's own engine: the user's real configuration, with faults only it can feel.

A drill must show what the user would see if a model failed, without failing anything for
anyone: so it gets an engine of its own, built from the live settings (timeouts, retries,
breakers, strategy, fallback chain, capabilities, manual quarantines) and connected to the same
servers through its own backends, each wrapped in `FaultyBackend`. The live engine, the chat and
every gateway client keep their backends, breakers and metrics untouched; the drill's breakers
start closed, so every scenario starts from a healthy setup. The drill's requests are real
requests to the real servers (a server's slots are shared), tagged `source="lab"`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from steward.backends.factory import make_backend
from steward.backends.faults import Fault, FaultyBackend
from steward.config import engine_settings
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.runtime import Runtime, http_read_timeout
from steward.servers.reach import connect_limit


@dataclass
class DrillEngine:
    """The drill's engine and, per server id, the wrapper that injects its faults."""

    engine: Engine
    backends: dict[str, FaultyBackend]

    def inject(self, model_key: str, fault: Fault | None) -> None:
        """Set (or with None, lift) `fault` on the server of `model_key`; other servers run clean."""
        state = self.engine.model(model_key)
        if state is None:
            raise KeyError(f"unknown model {model_key}")
        for server_id, backend in self.backends.items():
            backend.fault = fault if server_id == state.ref.server_id else None

    def lift_all(self) -> None:
        for backend in self.backends.values():
            backend.fault = None


@asynccontextmanager
async def drill_engine(runtime: Runtime) -> AsyncIterator[DrillEngine]:
    """A `DrillEngine` mirroring `runtime`'s configuration; closed (connections and all) on exit."""
    settings = runtime.settings
    engine = Engine(engine_settings(settings))
    engine.fitter = ContextManager(lambda: engine.settings.context, summarize=engine_summarizer(engine.chat))
    wrapped: dict[str, FaultyBackend] = {}
    t = settings.timeouts
    try:
        for server in runtime.known:
            if not server.enabled or not any(b.server_id == server.id for b in runtime.engine.backends()):
                continue
            backend = make_backend(
                server.kind,
                server.id,
                server.base_url,
                api_key=server.api_key,
                connect_s=connect_limit(server.base_url, t.connect_s, t.remote_connect_s),
                stall_s=http_read_timeout(t),
                aux_s=t.probe_s,
            )
            wrapped[server.id] = FaultyBackend(backend)
            engine.add_backend(wrapped[server.id])
        await engine.refresh_models()
        engine.set_fallback_chain(settings.routing.fallback_chain)
        live_view = runtime.engine.snapshot()
        for live in runtime.engine.models():
            if engine.model(live.key) is None:
                continue
            if live.capabilities:
                engine.set_capabilities(live.key, live.capabilities)
            seen = live_view.model(live.key)
            if seen is not None and seen.quarantine is not None:  # the user's own decision stays
                engine.quarantine(live.key, seen.quarantine.reason, seen.quarantine.remaining_s)
        yield DrillEngine(engine, wrapped)
    finally:
        await engine.aclose()
