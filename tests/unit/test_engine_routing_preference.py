"""The speed ↔ accuracy preference and per-task parameters (FAKE backends, FAKE clock): the
preference moves "auto" between the fast model and the capable one, the explanation line names
the weights used, a task type can have its own preference, and a task type's temperature and reply
length reach the server when the request leaves them open."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from tests.support.fake_backend import FakeBackend, ok
from tests.support.fake_clock import FakeClock

from steward.config import Settings, SettingsError, engine_settings
from steward.engine.core import Engine
from steward.engine.events import Completed, RequestStarted
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings, RoutingSettings, RoutingWeights
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo

CODE_QUESTION = "Write a Python function that reverses a list and a unit test for it."


class Params(FakeBackend):
    """A FAKE backend that remembers the generation parameters it was sent."""

    seen: list[GenerationParams]

    def stream_chat(self, model, messages, params):  # type: ignore[no-untyped-def,override]
        self.seen.append(params)
        return super().stream_chat(model, messages, params)


async def setup(clock: FakeClock, settings: EngineSettings) -> tuple[Engine, Params]:
    """ "fast/m": answers in 0.1 s, no capability tags; "coder/m": answers in 2 s, tagged for code."""
    engine = Engine(settings, clock=clock, rng=random.Random(1), wall=lambda: 0.0)
    fast, coder = Params("fast", clock), Params("coder", clock)
    fast.seen, coder.seen = [], []
    for backend, delay in ((fast, 0.1), (coder, 2.0)):
        engine.add_backend(backend)
        engine.add_model(backend.server_id, ModelInfo("m", loaded_context=4096))
        backend.script("m", default=ok("def f(x):", " return x[::-1]", first_delay=delay))
    engine.set_capabilities("coder/m", ["chat", "code"])
    for backend in ("fast/m", "coder/m"):  # both measured: five answers each
        for _ in range(5):
            await ask(engine, "hello", model=backend)
    return engine, coder


async def ask(engine: Engine, text: str, model: str = "auto") -> tuple[RequestStarted, Completed]:
    return await send(engine, ChatRequest((ChatMessage("user", text),), model=model))


async def send(engine: Engine, request: ChatRequest) -> tuple[RequestStarted, Completed]:
    clock = engine.clock
    assert isinstance(clock, FakeClock)
    async with clock.autojump():  # the answers' delays pass at once, exactly
        events = [e async for e in engine.chat(request)]
    started, done = events[0], events[-1]
    assert isinstance(started, RequestStarted) and isinstance(done, Completed)
    return started, done


@pytest.mark.parametrize(("preference", "winner"), [(0.0, "fast/m"), (1.0, "coder/m")])
async def test_the_preference_moves_auto_between_speed_and_capability(
    fake_clock: FakeClock, preference: float, winner: str
) -> None:
    settings = replace(EngineSettings(), weights=RoutingWeights(preference=preference))
    engine, _ = await setup(fake_clock, settings)
    started, done = await ask(engine, CODE_QUESTION)
    assert done.model == winner
    toward = "towards speed" if preference == 0 else "towards accuracy"
    assert (
        f"weights capability {0.8 * preference:.2f} · performance {0.8 * (1 - preference):.2f}"
        in started.explanation
    )
    assert f"(preference {preference:.2f}, {toward})" in started.explanation


async def test_a_task_type_can_prefer_accuracy_while_the_rest_prefers_speed(fake_clock: FakeClock) -> None:
    weights = RoutingWeights(preference=0.0, task_preference={"CODING": 1.0})
    engine, _ = await setup(fake_clock, replace(EngineSettings(), weights=weights))
    assert (await ask(engine, CODE_QUESTION))[1].model == "coder/m"
    assert (await ask(engine, "Tell me a fun fact about cats."))[1].model == "fast/m"


async def test_a_task_types_parameters_apply_when_the_request_leaves_them_open(fake_clock: FakeClock) -> None:
    routing = RoutingSettings(task_temperature={"CODING": 0.2}, task_max_tokens={"CODING": 333})
    engine, coder = await setup(fake_clock, replace(EngineSettings(), routing=routing))
    await ask(engine, CODE_QUESTION, model="coder/m")
    assert (coder.seen[-1].temperature, coder.seen[-1].max_tokens) == (0.2, 333)
    request = ChatRequest(
        (ChatMessage("user", CODE_QUESTION),), model="coder/m", params=GenerationParams(temperature=0.9)
    )
    await send(engine, request)
    assert (coder.seen[-1].temperature, coder.seen[-1].max_tokens) == (0.9, 333), (
        "the request's own value wins"
    )
    await ask(engine, "Tell me a fun fact about cats.", model="coder/m")
    assert coder.seen[-1].temperature is None, "other task types keep the server's default"


def test_per_task_settings_name_real_task_types() -> None:
    settings = Settings.model_validate(
        {"routing": {"task_temperature": {"coding": 0.2}}, "weights": {"preference": 0.8}}
    )
    mapped = engine_settings(settings)
    assert mapped.routing.task_temperature == {"CODING": 0.2} and mapped.weights.preference == 0.8
    with pytest.raises(SettingsError, match="unknown task type 'poetry'"):
        Settings().with_changes({"routing.task_temperature": {"poetry": 0.9}})
    with pytest.raises(SettingsError):
        Settings().with_changes({"weights.preference": 1.5})
