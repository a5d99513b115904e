"""The quality score inside the engine (FAKE backends, FAKE clock): every answer carries its score
and what took points off; a model whose answers keep scoring low is degraded with that reason and
ranks lower for "auto"; a drift found outside the engine degrades the model for the health window."""

from __future__ import annotations

import random

from tests.support.fake_backend import FakeBackend, Step, ok
from tests.support.fake_clock import FakeClock

from steward.engine.core import Engine
from steward.engine.events import Completed
from steward.engine.health import HealthStatus
from steward.engine.request import ChatRequest
from steward.engine.router import performance_score
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, ModelInfo

# What a base model answers to a chat (the engine's loop detector lets a reply this short through)
ECHO = Step(tokens=("What is the capital of France?", "<|im_end|>", "\n", "What is"), finish="length")


def engine_with(clock: FakeClock) -> tuple[Engine, FakeBackend]:
    engine = Engine(EngineSettings(), clock=clock, rng=random.Random(1), wall=lambda: 0.0)
    backend = FakeBackend("a", clock)
    engine.add_backend(backend)
    engine.add_model("a", ModelInfo("m", loaded_context=4096))
    return engine, backend


async def ask(engine: Engine, text: str = "What is the capital of France?") -> Completed:
    events = [e async for e in engine.chat(ChatRequest((ChatMessage("user", text),), model="a/m"))]
    done = events[-1]
    assert isinstance(done, Completed)
    return done


async def test_every_answer_carries_its_quality(fake_clock: FakeClock) -> None:
    engine, backend = engine_with(fake_clock)
    backend.script("m", ok("Paris", " is the capital."), ECHO)
    clean, echo = await ask(engine), await ask(engine)
    assert clean.quality == 10.0 and clean.quality_signals == ()
    assert echo.quality == 1.0
    assert [s.split(":")[0] for s in echo.quality_signals] == [
        "echo (−4)",
        "leaked_tokens (−3)",
        "cut_short (−2)",
    ]


async def test_a_model_answering_badly_is_degraded_with_the_reason_and_ranks_lower(
    fake_clock: FakeClock,
) -> None:
    engine, backend = engine_with(fake_clock)
    backend.script("m", default=ok("Paris", " is the capital."))
    for _ in range(10):
        await ask(engine)
    state = engine.model("a/m")
    assert state is not None and state.health is HealthStatus.HEALTHY
    good_speed = performance_score(state)
    backend.script("m", default=ECHO)
    for _ in range(30):
        await ask(engine)
    assert state.health is HealthStatus.DEGRADED
    assert (
        state.health_reason.startswith("answers score low: ")
        and "/10 on average (last 40)" in state.health_reason
    )
    assert performance_score(state) < good_speed
    assert engine.snapshot().model("a/m").quality < 4  # type: ignore[union-attr]


async def test_a_drift_degrades_the_model_for_the_health_window(fake_clock: FakeClock) -> None:
    engine, backend = engine_with(fake_clock)
    backend.script("m", default=ok("Paris", " is the capital."))
    await ask(engine)
    engine.note_drift("a/m", "slower than usual since 14:02 (+38%)")
    state = engine.model("a/m")
    assert state is not None and state.health is HealthStatus.DEGRADED
    assert state.health_reason == "slower than usual since 14:02 (+38%)"
    await fake_clock.advance(engine.settings.health.window_s + 1)
    await ask(engine)
    assert state.health is HealthStatus.HEALTHY
