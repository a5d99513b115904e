"""Context fitting against REAL llama-servers (SmolLM2-135M): a 512-token one started here and the
session's 4096-token one. Each policy's fit is accepted by the real server (no 400), `stop` refuses,
a too-long conversation falls back to the large window, and exact counts match the server's usage."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.support.llama import LlamaServer, make_llama_server

from steward.backends.factory import make_backend
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import (
    AttemptFailed,
    CandidateSkipped,
    Completed,
    ContextFitted,
    EngineEvent,
    FallbackChosen,
    RequestFailed,
    TruncationSuspected,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import ContextPolicy, EngineSettings
from steward.engine.types import ChatMessage, GenerationParams

PARAMS = GenerationParams(max_tokens=16, temperature=0.0)  # small budget: 512 − 16 − 32 = 464


def long_conversation(turns: int = 12) -> tuple[ChatMessage, ...]:
    """≈ 900 tokens: far more than a 512-token window holds."""
    messages = [ChatMessage("system", "You are a concise assistant. Answer in one short sentence.")]
    for i in range(turns):
        messages.append(
            ChatMessage("user", f"Question {i}: tell me one fact about the number {i} and the colour blue.")
        )
        messages.append(
            ChatMessage(
                "assistant", f"The number {i} is often painted blue on old maps, and blue is calm. " * 2
            )
        )
    messages.append(ChatMessage("user", "What is the capital of France?"))
    return tuple(messages)


@pytest.fixture(scope="module")
def llama_512(llama_logs: Path) -> Iterator[LlamaServer]:
    """A private real llama-server with a 512-token window (shared by this module's tests)."""
    server = make_llama_server(llama_logs, ctx=512).start()
    try:
        yield server
    finally:
        server.stop()


async def build_engine(servers: dict[str, LlamaServer]) -> Engine:
    """llamacpp backends behind a ContextManager (whose summaries come from the engine itself)."""
    holder: list[Engine] = []
    summarize = engine_summarizer(lambda r: holder[0].chat(r), model="auto", max_tokens=32)
    manager = ContextManager(lambda: holder[0].settings.context, summarize=summarize)
    eng = Engine(EngineSettings(), fitter=manager)
    holder.append(eng)
    for sid, server in servers.items():
        eng.add_backend(make_backend("llamacpp", sid, server.url, api_key=None, connect_s=2.0, stall_s=60.0))
    assert await eng.refresh_models() == []
    return eng


@pytest.fixture
async def engine(llama_512: LlamaServer, llama_large: LlamaServer) -> AsyncIterator[Engine]:
    """Two candidates: "small" (512) and "large" (4096); windows read from the servers."""
    eng = await build_engine({"small": llama_512, "large": llama_large})
    yield eng
    await eng.aclose()


@pytest.fixture
async def small_only(llama_512: LlamaServer) -> AsyncIterator[Engine]:
    eng = await build_engine({"small": llama_512})
    yield eng
    await eng.aclose()


def key(engine: Engine, server_id: str) -> str:
    (state,) = [m for m in engine.models() if m.ref.server_id == server_id]
    return state.key


async def ask(engine: Engine, request: ChatRequest) -> list[EngineEvent]:
    return [event async for event in engine.chat(request)]


def only(events: list[EngineEvent], kind: type[EngineEvent]) -> list[EngineEvent]:
    return [e for e in events if isinstance(e, kind)]


async def test_windows_come_from_the_servers(engine: Engine) -> None:
    windows = {m.ref.server_id: m.window for m in engine.models()}
    assert windows == {"small": 512, "large": 4096}


@pytest.mark.parametrize(
    "policy", [ContextPolicy.SLIDING_WINDOW, ContextPolicy.TRUNCATE_MIDDLE, ContextPolicy.SUMMARIZE]
)
async def test_each_policy_fits_the_small_window_and_the_real_server_accepts(
    engine: Engine, policy: ContextPolicy
) -> None:
    small, large = key(engine, "small"), key(engine, "large")
    engine.set_fallback_chain([large])  # only used by the summarizing request ("auto")
    events = await ask(
        engine, ChatRequest(long_conversation(), model=small, params=PARAMS, context_policy=policy)
    )
    assert not only(events, AttemptFailed) and not only(events, RequestFailed), [e.payload() for e in events]
    fitted = [e for e in only(events, ContextFitted) if isinstance(e, ContextFitted) and e.model == small]
    assert len(fitted) == 1
    fit = fitted[0]
    assert fit.policy == policy.value and fit.exact and fit.window == 512
    assert fit.tokens_before > 512 >= 464 >= fit.tokens_after and fit.dropped_messages > 0
    assert len(fit.dropped_preview) == fit.dropped_messages
    if policy is ContextPolicy.SUMMARIZE:
        assert fit.summary and fit.note is None
    done = [e for e in only(events, Completed) if isinstance(e, Completed)]
    assert done[-1].model == small and done[-1].text.strip()


async def test_policy_stop_refuses_with_the_numbers(small_only: Engine) -> None:
    small = key(small_only, "small")
    events = await ask(
        small_only,
        ChatRequest(long_conversation(), model=small, params=PARAMS, context_policy=ContextPolicy.STOP),
    )
    failures = only(events, RequestFailed)
    assert len(failures) == 1, [e.payload() for e in events]
    failed = failures[0]
    assert isinstance(failed, RequestFailed) and failed.kinds == (FailureKind.CONTEXT_OVERFLOW,)
    assert "conversation needs" in failed.detail and f"model {small} holds 464" in failed.detail
    assert "(policy: stop)" in failed.detail
    assert not only(events, Completed)


async def test_too_long_for_the_small_one_the_large_one_answers_and_says_why(engine: Engine) -> None:
    small, large = key(engine, "small"), key(engine, "large")
    engine.set_fallback_chain([small, large])
    messages = long_conversation()
    events = await ask(
        engine, ChatRequest(messages, model=small, params=PARAMS, context_policy=ContextPolicy.STOP)
    )
    (chosen,) = only(events, FallbackChosen)
    assert isinstance(chosen, FallbackChosen) and chosen.from_model == small and chosen.model == large
    assert "context_overflow" in chosen.reason and "holds 464" in chosen.reason
    (done,) = only(events, Completed)
    assert isinstance(done, Completed) and done.model == large and done.text.strip()
    assert not only(events, TruncationSuspected)


async def test_latest_message_too_big_for_the_small_one_skips_it(engine: Engine) -> None:
    small, large = key(engine, "small"), key(engine, "large")
    engine.set_fallback_chain([small, large])
    huge = ChatMessage("user", "Summarize: " + "the quick brown fox jumps over the lazy dog. " * 60)
    events = await ask(engine, ChatRequest((huge,), model=small, params=PARAMS))
    (skipped,) = only(events, CandidateSkipped)
    assert isinstance(skipped, CandidateSkipped) and skipped.model == small
    assert (
        skipped.kind is FailureKind.CONTEXT_OVERFLOW
        and "window 512 cannot hold the latest message" in skipped.reason
    )
    (done,) = only(events, Completed)
    assert isinstance(done, Completed) and done.model == large


async def test_exact_counts_match_the_servers_usage(engine: Engine) -> None:
    large = key(engine, "large")
    state = engine.model(large)
    assert state is not None
    fitter = engine.fitter
    assert isinstance(fitter, ContextManager)
    for turns in (1, 6, 12):
        messages = long_conversation(turns)
        fit = await fitter.fit(state, messages, PARAMS, ContextPolicy.SLIDING_WINDOW, "count")
        server_count = await state.backend.count_tokens(state.ref.model, messages)
        events = await ask(engine, ChatRequest(messages, model=large, params=PARAMS))
        (done,) = only(events, Completed)
        assert isinstance(done, Completed) and done.usage is not None
        print(
            f"turns={turns}: expected {fit.expected_prompt_tokens}, /tokenize {server_count},"
            f" usage {done.usage.prompt_tokens}"
        )
        assert fit.exact and fit.expected_prompt_tokens == server_count == done.usage.prompt_tokens
