"""The health monitor on a FAKE clock with FAKE backends: probes bounded by the probe timeout,
a restart noticed, one generation probe for an idle half-open model, rounds at the interval."""

from __future__ import annotations

import asyncio
import random

from tests.support.fake_backend import FakeBackend, Step, ok
from tests.support.fake_clock import FakeClock

from steward.engine.breaker import BreakerState
from steward.engine.core import Engine
from steward.engine.failures import FailureKind
from steward.engine.settings import BreakerSettings, EngineSettings, HealthSettings
from steward.engine.types import ModelInfo, ServerState

SETTINGS = EngineSettings(
    health=HealthSettings(probe_interval_s=15.0, probe_timeout_s=3.0),
    breaker=BreakerSettings(failure_threshold=1, reset_timeout_s=10.0, max_reset_timeout_s=60.0),
)


def build(clock: FakeClock) -> tuple[Engine, FakeBackend]:
    engine = Engine(SETTINGS, clock=clock, rng=random.Random(1), wall=lambda: 0.0)
    backend = FakeBackend("a", clock)
    engine.add_backend(backend)
    engine.add_model("a", ModelInfo("m", loaded_context=4096))
    return engine, backend


async def test_a_hung_probe_costs_the_probe_timeout_and_says_hung(fake_clock: FakeClock) -> None:
    engine, backend = build(fake_clock)
    backend.probe_hang = True
    async with fake_clock.autojump():
        await engine.probe_all()
    server = engine.snapshot().servers[0]
    assert server.state == "down" and server.detail == "hung: no answer to the health probe in 3 s"
    assert fake_clock.now() == 1003.0


async def test_a_server_coming_back_up_has_its_windows_asked_again(fake_clock: FakeClock) -> None:
    engine, backend = build(fake_clock)
    state = engine.model("a/m")
    assert state is not None and state.window_checked
    backend.probe_state = ServerState.DOWN
    await engine.probe_all()
    assert state.window_checked, "down is not a restart yet"
    backend.probe_state = ServerState.UP
    await engine.probe_all()
    assert not state.window_checked


async def test_an_idle_half_open_model_gets_exactly_one_probe_generation(fake_clock: FakeClock) -> None:
    engine, backend = build(fake_clock)
    state = engine.model("a/m")
    assert state is not None
    permit = state.breaker.try_acquire()
    assert permit is not None
    state.breaker.record_failure(permit, True, "boom")
    assert state.breaker.state is BreakerState.OPEN
    await fake_clock.advance(10.0)
    backend.script("m", Step(hang=True), ok("pong"))
    async with fake_clock.autojump():
        await engine.probe_all()  # the probe hangs: re-opened after the first-token timeout
    assert (
        state.breaker.state is BreakerState.OPEN and state.last_error_kind is FailureKind.FIRST_TOKEN_TIMEOUT
    )
    assert backend.scripts["m"].calls == 1 and backend.scripts["m"].open_streams == 0
    await fake_clock.advance(20.0)  # the second trip waits longer (20 s)
    await engine.probe_all()
    assert state.breaker.state is BreakerState.CLOSED and backend.scripts["m"].calls == 2


async def test_rounds_run_at_the_probe_interval(fake_clock: FakeClock) -> None:
    engine, backend = build(fake_clock)
    task = asyncio.ensure_future(engine.run_health_monitor())
    try:
        await fake_clock.settle()
        assert backend.probes == 1
        await fake_clock.advance(14.9)
        assert backend.probes == 1
        await fake_clock.advance(0.1)
        assert backend.probes == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
