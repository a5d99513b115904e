"""A model its own server says cannot answer (a llama.cpp router's model that failed to load) is
unhealthy with the server's words, and healthy again once the server lists it as able to answer
(FAKE backend and clock; the router's real payloads are in test_router_wire / test_router_mode)."""

from __future__ import annotations

import random

from tests.support.fake_backend import FakeBackend, ok
from tests.support.fake_clock import FakeClock

from steward.backends.llamacpp import router_info
from steward.backends.llamacpp_router import parse_models
from steward.engine.core import Engine
from steward.engine.events import EngineEvent, HealthChanged
from steward.engine.health import HealthStatus
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings
from steward.engine.types import ChatMessage, ModelInfo


def test_the_router_s_failed_model_reads_as_unavailable_with_its_exit_code() -> None:
    listed = {"data": [{"id": "m", "status": {"value": "unloaded", "failed": True, "exit_code": 1}}]}
    [model] = parse_models(listed)
    assert router_info(model).unavailable == "failed to load (exit 1)"
    [fine] = parse_models({"data": [{"id": "m", "status": {"value": "unloaded"}}]})
    assert router_info(fine).unavailable is None


async def test_unhealthy_while_the_server_says_it_cannot_answer_and_back_when_it_can(
    fake_clock: FakeClock,
) -> None:
    engine = Engine(EngineSettings(), clock=fake_clock, rng=random.Random(1), wall=lambda: 0.0)
    seen: list[EngineEvent] = []
    engine.subscribe(seen.append)
    backend = FakeBackend("a", fake_clock)
    engine.add_backend(backend)
    backend.script("m", default=ok("Paris"))
    engine.add_model("a", ModelInfo("m", loaded_context=4096))
    [_ async for _ in engine.chat(ChatRequest((ChatMessage("user", "Hi"),), model="a/m"))]
    state = engine.model("a/m")
    assert state is not None and state.health is HealthStatus.HEALTHY

    engine.add_model("a", ModelInfo("m", loaded_context=4096, unavailable="failed to load (exit 1)"))
    assert state.health is HealthStatus.UNHEALTHY
    assert state.health_reason == "the server says: failed to load (exit 1)"
    changed = [e for e in seen if isinstance(e, HealthChanged)]
    assert (changed[-1].old, changed[-1].new) == ("healthy", "unhealthy"), "told as it happened"

    engine.add_model("a", ModelInfo("m", loaded_context=4096))  # loaded again
    assert state.health is HealthStatus.HEALTHY
