"""The inference canary on a FAKE clock with FAKE backends: its interval, the models it leaves alone
(recently used, busy, quarantined, server not up, hold-off), one check in flight per model, failures
that mark the model unhealthy and open its circuit, N in a row that restart a managed server, and
successes that reset the count and put the model back. Nothing here sleeps."""

from __future__ import annotations

import asyncio
import random

from tests.support.fake_backend import FakeBackend, Step, fail, hang, ok
from tests.support.fake_clock import FakeClock

from steward.engine.breaker import BreakerState
from steward.engine.canary import PARAMS, InferenceCanary
from steward.engine.core import Engine
from steward.engine.events import CanaryFailed, Completed, EngineEvent, RequestStarted
from steward.engine.failures import FailureKind
from steward.engine.health import HealthStatus
from steward.engine.registry import ModelState
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, HealthSettings, TimeoutSettings
from steward.engine.types import ChatMessage, ModelInfo

INTERVAL = 300.0
SETTINGS = EngineSettings(
    health=HealthSettings(canary_interval_s=INTERVAL, canary_failures_to_restart=3),
    timeouts=TimeoutSettings(connect_s=1.0, first_token_s=3.0),
    breaker=BreakerSettings(reset_timeout_s=1000.0, max_reset_timeout_s=1000.0),
)


class Harness:
    def __init__(self, clock: FakeClock, managed: bool = True) -> None:
        self.clock = clock
        self.engine = Engine(SETTINGS, clock=clock, rng=random.Random(1), wall=lambda: 0.0)
        self.events: list[EngineEvent] = []
        self.engine.subscribe(self.events.append)
        self.backend = FakeBackend("a", clock)
        self.backup = FakeBackend("b", clock)
        for backend in (self.backend, self.backup):
            self.engine.add_backend(backend)
            self.engine.add_model(backend.server_id, ModelInfo("m", loaded_context=4096))
        self.restarts: list[tuple[str, str]] = []
        self.hold: str | None = None

        async def hold_off() -> str | None:
            return self.hold

        async def restart(server_id: str, reason: str) -> None:
            self.restarts.append((server_id, reason))

        self.canary = InferenceCanary(
            self.engine, hold_off=hold_off, restart=restart, manages=lambda sid: managed and sid == "a"
        )

    @property
    def state(self) -> ModelState:
        state = self.engine.model("a/m")
        assert state is not None
        return state

    @property
    def calls(self) -> int:
        return self.backend.scripts["m"].calls

    async def ready(self) -> None:
        """Liveness says up for both servers (as the health monitor would)."""
        await self.engine.probe_all()
        await self.canary.start_due()  # first sight: every model gets one interval's peace

    async def round(self, after: float = INTERVAL) -> list[str]:
        """Let `after` seconds pass, start the due checks and let them finish (autojumping timeouts)."""
        await self.clock.advance(after)
        async with self.clock.autojump():
            started = await self.canary.start_due()
            await self.canary.wait_idle()
        return started


async def test_an_idle_model_is_checked_once_per_interval_with_one_token(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    assert await h.round(INTERVAL - 1) == [] and h.calls == 0
    assert await h.round(1) == ["a/m", "b/m"] and h.calls == 1
    assert await h.round(INTERVAL / 2) == [] and h.calls == 1
    assert await h.round(INTERVAL / 2) == ["a/m", "b/m"] and h.calls == 2
    assert len(h.backend.scripts["m"].received[0]) == 1, "a tiny prompt"
    assert PARAMS.max_tokens == 1


async def test_the_loop_wakes_a_few_times_per_interval_and_zero_turns_it_off(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.engine.probe_all()
    task = asyncio.ensure_future(h.canary.run())
    try:
        await fake_clock.advance(INTERVAL - 1)
        assert h.calls == 0
        await fake_clock.advance(INTERVAL / 4)  # the next tick after the model became due
        assert h.calls == 1
        h.engine.update_settings(EngineSettings(health=HealthSettings(canary_interval_s=0.0)))
        await fake_clock.advance(10 * INTERVAL)
        assert h.calls == 1, "0 = off"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_model_used_within_the_interval_is_left_alone(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    await fake_clock.advance(INTERVAL - 10)
    events = [e async for e in h.engine.chat(ChatRequest((ChatMessage("user", "hi"),), model="a/m"))]
    assert isinstance(events[-1], Completed) and h.calls == 1
    assert await h.round(10) == ["b/m"], "a/m answered a request 10 s ago"
    assert await h.round(INTERVAL - 10) == ["a/m"] and h.calls == 2


async def test_busy_quarantined_or_not_up_models_are_left_alone(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.state.in_flight = 1
    assert await h.round() == ["b/m"]
    h.state.in_flight = 0
    h.engine.quarantine("a/m", "by hand")
    assert await h.round() == ["b/m"]
    h.engine.release("a/m")
    h.backend.refusing = True
    await h.engine.probe_all()  # liveness: down
    assert await h.round() == ["b/m"]
    assert h.calls == 0


async def test_nothing_runs_while_the_hold_off_rule_says_no(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.hold = "on battery (41 %)"
    assert await h.round() == [] and h.calls == 0
    assert h.canary.held_off == "on battery (41 %)"
    h.hold = None
    assert await h.round(1) == ["a/m", "b/m"] and h.canary.held_off is None


async def test_at_most_one_check_in_flight_per_model(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    short = EngineSettings(
        health=HealthSettings(canary_interval_s=1.0),
        timeouts=TimeoutSettings(connect_s=1.0, first_token_s=3.0),
    )
    h.engine.update_settings(short)  # a check (up to 3 s) outlasts the interval (1 s)
    await h.ready()
    h.backend.script("m", hang())
    await fake_clock.advance(1.0)
    assert await h.canary.start_due() == ["a/m", "b/m"]
    await fake_clock.advance(2.0)
    assert await h.canary.start_due() == ["b/m"], "a/m is still being checked"
    assert "a/m" in h.canary.in_flight() and h.calls == 1
    async with fake_clock.autojump():
        await h.canary.wait_idle()
    assert fake_clock.now() == 1000.0 + 1.0 + 3.0, "a/m's check ended at the first-token timeout"
    assert h.backend.scripts["m"].open_streams == 0 and h.calls == 1


async def test_a_failure_marks_the_model_unhealthy_with_the_reason_and_routes_around_it(
    fake_clock: FakeClock,
) -> None:
    h = Harness(fake_clock, managed=False)
    await h.ready()
    h.backend.script("m", hang())
    await h.round()
    reason = "canary: no first token after 3.0 s (first-token timeout 3 s)"
    assert h.state.health is HealthStatus.UNHEALTHY and h.state.health_reason == reason
    assert h.state.breaker.state is BreakerState.OPEN
    assert h.state.last_error_kind is FailureKind.FIRST_TOKEN_TIMEOUT
    failed = [e for e in h.events if isinstance(e, CanaryFailed)]
    assert [(e.model, e.in_a_row, e.action) for e in failed] == [("a/m", 1, "routed around")]
    events = [e async for e in h.engine.chat(ChatRequest((ChatMessage("user", "hi"),)))]
    done = events[-1]
    assert isinstance(done, Completed) and done.model == "b/m"
    assert h.calls == 1, "the request went around the wedged model"


async def test_canary_checks_are_not_traffic(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.backup.script("m", fail(FailureKind.SERVER_ERROR, detail="boom"))
    await h.round()
    assert h.state.metrics.total_requests == 0 and h.engine.model("b/m").metrics.total_requests == 0  # type: ignore[union-attr]
    assert not [e for e in h.events if isinstance(e, RequestStarted | Completed)]
    assert h.state.last_used_at is None, "a check does not make the model 'recently used'"


async def test_n_failures_in_a_row_restart_a_managed_server(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.backend.script("m", default=fail(FailureKind.SERVER_ERROR, tokens=(), detail="slot unavailable"))
    await h.round()
    await h.round()
    assert h.restarts == []
    await h.round()
    assert h.restarts == [("a", "canary failed 3× in a row: slot unavailable")]
    actions = [e.action for e in h.events if isinstance(e, CanaryFailed)]
    assert actions == ["routed around", "routed around", "restarting the server"]
    assert h.canary.failures_in_a_row("a/m") == 0, "counting starts again after the restart"
    await h.round()
    await h.round()
    assert len(h.restarts) == 1


async def test_an_external_server_is_never_restarted(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock, managed=False)
    await h.ready()
    h.backend.script("m", default=fail(FailureKind.SERVER_ERROR, tokens=()))
    for _ in range(5):
        await h.round()
    assert h.restarts == [] and h.canary.failures_in_a_row("a/m") == 5
    assert h.state.health is HealthStatus.UNHEALTHY


async def test_a_success_resets_the_count_and_puts_the_model_back(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    broken = fail(FailureKind.SERVER_ERROR, tokens=(), detail="boom")
    h.backend.script("m", broken, broken, ok("OK"), broken, broken)
    await h.round()
    await h.round()
    assert h.canary.failures_in_a_row("a/m") == 2
    await h.round()
    assert h.canary.failures_in_a_row("a/m") == 0
    assert h.state.health is not HealthStatus.UNHEALTHY and h.state.breaker.state is BreakerState.CLOSED
    await h.round()
    await h.round()
    assert h.restarts == [], "two in a row, not three"


async def test_a_real_answer_clears_the_canary_failure_and_its_count(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.backend.script(
        "m", Step(tokens=(), fail=FailureKind.SERVER_ERROR), Step(tokens=(), fail=FailureKind.SERVER_ERROR)
    )
    await h.round()
    await h.round()
    assert h.canary.failures_in_a_row("a/m") == 2
    await fake_clock.advance(SETTINGS.breaker.reset_timeout_s)  # half-open: a real request is the probe
    events = [e async for e in h.engine.chat(ChatRequest((ChatMessage("user", "hi"),), model="a/m"))]
    assert isinstance(events[-1], Completed) and events[-1].model == "a/m"
    assert h.state.canary_failure is None and h.state.health is not HealthStatus.UNHEALTHY
    h.backend.script("m", Step(tokens=(), fail=FailureKind.SERVER_ERROR))
    await h.round()
    assert h.canary.failures_in_a_row("a/m") == 1, "counting started again"


async def test_a_loading_model_is_not_a_failure(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.backend.script("m", fail(FailureKind.MODEL_LOADING, tokens=(), detail="loading model"))
    await h.round()
    assert h.state.canary_failure is None and h.canary.failures_in_a_row("a/m") == 0


async def test_a_model_that_is_not_loaded_is_not_loaded_by_a_check(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    h.engine.add_model("a", ModelInfo("m", loaded_context=4096, loaded=False))  # Ollama lists it, unloaded
    await h.ready()
    assert await h.round() == ["b/m"] and h.calls == 0


async def test_a_refused_connection_is_down_not_wedged(fake_clock: FakeClock) -> None:
    h = Harness(fake_clock)
    await h.ready()
    h.backend.script("m", default=fail(FailureKind.CONNECTION_REFUSED, tokens=()))
    for _ in range(4):
        await h.round()
    assert h.state.canary_failure is None and h.restarts == [], "the supervisor restarts crashed servers"
