"""Context handling against `OllamaFake` (a protocol-faithful FAKE Ollama: no binary exists here):
Steward always sends options.num_ctx, and a server that truncates silently is caught."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from tests.support.ollama_fake import FakeModel, OllamaFake

from steward.backends.factory import make_backend
from steward.engine.context import ContextManager
from steward.engine.core import Engine
from steward.engine.events import Completed, EngineEvent, TruncationSuspected
from steward.engine.request import ChatRequest
from steward.engine.settings import ContextSettings, EngineSettings
from steward.engine.types import ChatMessage, GenerationParams

MODEL = "llama3.2:1b"
KEY = f"ollama/{MODEL}"
PARAMS = GenerationParams(max_tokens=64)  # window 4096 → budget 4000, act above 3200


def long_conversation() -> tuple[ChatMessage, ...]:
    """12 messages of 200 words: 2,464 tokens for the fake, 3,070 by the uncalibrated estimate."""
    messages = [ChatMessage("system", "Be brief.")]
    for i in range(6):
        messages += [
            ChatMessage("user", f"q{i} " + "word " * 199),
            ChatMessage("assistant", f"a{i} " + "word " * 199),
        ]
    messages.append(ChatMessage("user", "What is the capital of France?"))
    return tuple(messages)


@pytest.fixture
def fake() -> Iterator[OllamaFake]:
    with OllamaFake([FakeModel(MODEL, context_length=8192)], default_num_ctx=2048) as server:
        yield server


@pytest.fixture
async def engine(fake: OllamaFake) -> AsyncIterator[Engine]:
    manager = ContextManager(ContextSettings(default_num_ctx=4096))
    eng = Engine(EngineSettings(), fitter=manager)
    eng.add_backend(make_backend("ollama", "ollama", fake.url, api_key=None, connect_s=2.0, stall_s=10.0))
    assert await eng.refresh_models() == []
    yield eng
    await eng.aclose()


async def ask(engine: Engine, messages: tuple[ChatMessage, ...]) -> list[EngineEvent]:
    return [e async for e in engine.chat(ChatRequest(messages, model=KEY, params=PARAMS))]


async def test_num_ctx_is_always_sent_and_is_the_live_window(engine: Engine, fake: OllamaFake) -> None:
    events = await ask(engine, (ChatMessage("user", "Hi"),))
    assert isinstance(events[-1], Completed)
    assert fake.bodies("/api/chat")[-1]["options"]["num_ctx"] == 4096  # default, under the trained 8192
    state = engine.model(KEY)
    assert state is not None and state.window == 4096 and fake.model(MODEL).loaded_context_length == 4096


async def test_honest_server_is_not_suspected_and_calibrates_the_estimator(
    engine: Engine, fake: OllamaFake
) -> None:
    events = await ask(engine, long_conversation())
    done = events[-1]
    assert isinstance(done, Completed) and done.usage is not None
    assert done.usage.prompt_tokens == fake.count_prompt_tokens(fake.bodies("/api/chat")[-1]["messages"])
    assert not [e for e in events if isinstance(e, TruncationSuspected)]
    manager = engine.fitter
    state = engine.model(KEY)
    assert isinstance(manager, ContextManager) and state is not None
    assert manager.counter.estimator(state).samples == 1
    assert manager.counter.estimator(state).chars_per_token > 4.0  # the fake's words are ~5 chars a token


async def test_silent_truncation_is_suspected(engine: Engine, fake: OllamaFake) -> None:
    # The model is reloaded behind Steward's back with a 1,000-token window: the fake then drops the
    # oldest messages and still answers 200, as Ollama does.
    fake.add_model(replace(fake.model(MODEL), context_length=1000))
    events = await ask(engine, long_conversation())
    assert isinstance(events[-1], Completed)
    (suspected,) = [e for e in events if isinstance(e, TruncationSuspected)]
    assert isinstance(suspected, TruncationSuspected) and suspected.model == KEY
    assert suspected.reported_tokens <= 1000 < 3000 < suspected.expected_tokens
    state = engine.model(KEY)
    assert state is not None and state.truncation_at is not None
