"""The health monitor: a liveness probe per server on an interval, and one tiny generation for a
half-open model that gets no traffic (so a recovered model is noticed without a user paying for
the probe). Every wait is on the injected clock, so its tests drive time and never sleep."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from steward.engine.attempt import AttemptResult
from steward.engine.breaker import BreakerState, Permit
from steward.engine.clock import Clock, ClockTimeout, next_within, wait_for
from steward.engine.failures import BackendError, FailureKind
from steward.engine.registry import ModelState, ServerEntry
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, GenerationParams, ProbeResult, ServerState

log = logging.getLogger(__name__)
PING = (ChatMessage("user", "ping"),)


class MonitoredEngine(Protocol):
    """What the monitor needs of the engine (kept narrow so the monitor is testable on its own)."""

    clock: Clock
    settings: EngineSettings

    def servers(self) -> list[ServerEntry]: ...

    def models(self) -> list[ModelState]: ...

    def server_restarted(self, server_id: str) -> None: ...

    def refresh_health(self) -> None: ...

    def is_quarantined(self, key: str) -> bool: ...

    def record_success(self, state: ModelState, permit: Permit, result: AttemptResult) -> None: ...

    def record_failure(
        self, state: ModelState, permit: Permit, error: BackendError, elapsed: float
    ) -> None: ...


class HealthMonitor:
    def __init__(self, engine: MonitoredEngine) -> None:
        self._engine = engine

    async def probe_all(self) -> None:
        """Probe every server once (each bounded by `health.probe_timeout_s`), refresh every model's
        health, then give half-open models with no traffic their one probe generation."""
        await asyncio.gather(*(self._probe_server(e) for e in self._engine.servers()))
        self._engine.refresh_health()
        await self._half_open_probes()

    async def run(self) -> None:
        """Probe at the configured interval until cancelled (a failed round is logged, not fatal)."""
        engine = self._engine
        while True:
            try:
                await self.probe_all()
            except Exception:
                log.exception("health probe round failed")
            await engine.clock.sleep(engine.settings.health.probe_interval_s)

    async def _probe_server(self, entry: ServerEntry) -> None:
        engine = self._engine
        was_up = entry.last_probe is not None and entry.last_probe.state is ServerState.UP
        limit = engine.settings.health.probe_timeout_s
        try:
            entry.last_probe = await wait_for(
                engine.clock, asyncio.ensure_future(entry.backend.probe()), limit
            )
        except ClockTimeout:
            entry.last_probe = ProbeResult(
                ServerState.DOWN, f"hung: no answer to the health probe in {limit:g} s"
            )
        if entry.last_probe.state is ServerState.UP and not was_up:
            engine.server_restarted(entry.backend.server_id)

    async def _half_open_probes(self) -> None:
        engine = self._engine
        for state in engine.models():
            if state.breaker.state is not BreakerState.HALF_OPEN or engine.is_quarantined(state.key):
                continue
            probe = state.server.last_probe
            if probe is None or probe.state is not ServerState.UP:
                continue
            permit = state.breaker.try_acquire()
            if permit is not None:
                await self._generation_probe(state, permit)

    async def _generation_probe(self, state: ModelState, permit: Permit) -> None:
        """One token of "ping": a success closes the circuit, a failure re-opens it."""
        engine = self._engine
        clock = engine.clock
        started = clock.now()
        limit = engine.settings.timeouts.first_token_s
        stream = state.backend.stream_chat(state.ref.model, PING, GenerationParams(max_tokens=1))
        iterator = stream.__aiter__()
        try:
            while True:
                left = started + limit - clock.now()
                if left <= 0:
                    raise ClockTimeout()
                chunk = await next_within(clock, iterator, left)
                if chunk.done:
                    break
        except StopAsyncIteration:
            pass
        except BackendError as exc:
            engine.record_failure(state, permit, exc, clock.now() - started)
            return
        except ClockTimeout:
            error = BackendError(FailureKind.FIRST_TOKEN_TIMEOUT, f"health probe got no token in {limit:g} s")
            engine.record_failure(state, permit, error, clock.now() - started)
            return
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        engine.record_success(
            state, permit, AttemptResult("", None, None, None, None, clock.now() - started, 0)
        )
