"""The engine keeps its promise against REAL llama-servers (SmolLM2-135M): a hung or absent first
choice costs the user's timeouts and no more, one attempt is one connection, summaries are written
on a single-slot server, and settings changed live reach every existing connection."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest
from tests.support.fault_proxy import FaultProxy, ResetPeer
from tests.support.fault_proxy import Latency as ProxyLatency
from tests.support.llama import LlamaServer

from steward.backends.factory import make_backend
from steward.config import Settings
from steward.engine.context import ContextManager, engine_summarizer
from steward.engine.core import Engine
from steward.engine.events import (
    AttemptFailed,
    AttemptStarted,
    Completed,
    ContextFitted,
    EngineEvent,
    RequestStarted,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import (
    BreakerSettings,
    ContextPolicy,
    ContextSettings,
    EngineSettings,
    RetrySettings,
    TimeoutSettings,
)
from steward.engine.types import ChatMessage, GenerationParams, ModelInfo
from steward.runtime import Runtime, RuntimeOptions

MODEL = "SmolLM2-135M-Instruct.Q4_1"
QUESTION = (ChatMessage("user", "What is the capital of France?"),)


@pytest.fixture
def hung_listener() -> Iterator[int]:
    """A port that accepts connections and reads, but never answers (a wedged server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def collect(engine: Engine, request: ChatRequest) -> tuple[list[EngineEvent], list[float]]:
    events: list[EngineEvent] = []
    stamps: list[float] = []
    async for event in engine.chat(request):
        events.append(event)
        stamps.append(time.monotonic())
    return events, stamps


async def test_a_server_hung_at_start_costs_probe_s_at_start_and_first_token_s_per_request(
    llama_small: LlamaServer, hung_listener: int
) -> None:
    settings = Settings.model_validate(
        {
            "timeouts": {"connect_s": 1.0, "probe_s": 1.0, "first_token_s": 2.0},
            "breaker": {"failure_threshold": 1},
            "endpoints": [
                {"id": "hung", "kind": "llamacpp", "base_url": f"http://127.0.0.1:{hung_listener}"},
                {"id": "back", "kind": "llamacpp", "base_url": llama_small.url},
            ],
            "routing": {"default_model": "hung/x", "fallback_chain": [f"back/{MODEL}"]},
        }
    )
    began = time.monotonic()
    runtime = await Runtime.start(
        RuntimeOptions(settings=settings, store=False, embedded=False, discover=False, health_monitor=False)
    )
    try:
        start_s = time.monotonic() - began
        assert start_s <= 1.0 + 0.5, f"start took {start_s:.2f} s with a hung server (probe_s 1 s)"
        assert any("hung" in w and "did not answer within 1 s" in w for w in runtime.warnings), (
            runtime.warnings
        )
        request = ChatRequest(QUESTION, model="hung/x", params=GenerationParams(max_tokens=8))
        events, stamps = await collect(runtime.engine, request)
        failed = [e for e in events if isinstance(e, AttemptFailed)]
        assert [(e.model, e.kind) for e in failed] == [("hung/x", FailureKind.FIRST_TOKEN_TIMEOUT)]
        assert 1.9 <= failed[0].elapsed_s <= 2.3 and "2 s first-token timeout" in failed[0].detail
        done = events[-1]
        assert isinstance(done, Completed) and done.model == f"back/{MODEL}"
        fallback = next(
            i for i, e in enumerate(events) if isinstance(e, AttemptStarted) and e.model != "hung/x"
        )
        waited = stamps[fallback] - stamps[0]
        assert waited <= 1.0 + 2.0 + 0.5, (
            f"the fallback started after {waited:.2f} s"
        )  # connect + first token
        # The circuit is open now: the next request goes straight to the fallback.
        events, stamps = await collect(runtime.engine, request)
        started = next(i for i, e in enumerate(events) if isinstance(e, AttemptStarted))
        assert isinstance(events[started], AttemptStarted) and events[started].model == f"back/{MODEL}"
        assert stamps[started] - stamps[0] <= 0.05
        assert isinstance(events[-1], Completed)
    finally:
        await runtime.stop()


async def test_one_attempt_is_one_connection_and_the_half_open_probe_is_one(llama_small: LlamaServer) -> None:
    settings = EngineSettings(
        breaker=BreakerSettings(failure_threshold=1, reset_timeout_s=0.5, max_reset_timeout_s=1.0),
        retry=RetrySettings(max_retries_same_model=0),
        timeouts=TimeoutSettings(connect_s=1.0, first_token_s=20.0),
    )
    engine = Engine(settings)
    with FaultProxy("127.0.0.1", llama_small.port) as proxy:
        # A plain OpenAI-compatible backend: no window or count look-ups, only the chat itself.
        engine.add_backend(make_backend("openai", "p", proxy.url, api_key=None, connect_s=1.0, stall_s=10.0))
        engine.add_model("p", ModelInfo(MODEL, loaded_context=1024))
        # Every fresh connection is reset once the request is in, before any response byte (the
        # answer is held back 2 s): the case the stale-keep-alive re-send used to fire on too.
        proxy.set_fault(ProxyLatency(ms=2000), ResetPeer(after_ms=150))
        request = ChatRequest(QUESTION, model=f"p/{MODEL}", params=GenerationParams(max_tokens=4))
        events, _ = await collect(engine, request)
        failed = [e for e in events if isinstance(e, AttemptFailed)]
        assert len(failed) == 1 and failed[0].kind is FailureKind.CONNECTION_LOST
        assert proxy.connections_accepted == 1, "a reset fresh connection must not be re-sent"
        proxy.clear()
        await asyncio.sleep(0.6)  # past the reset timeout: the next request is the half-open probe
        before = proxy.connections_accepted
        events, _ = await collect(engine, request)
        assert isinstance(events[-1], Completed)
        assert proxy.connections_accepted - before == 1
    await engine.aclose()


@pytest.mark.timeout(300)  # a summary and a 700-token prompt on 2 shared cores
async def test_a_summary_is_written_on_a_real_single_slot_server(llama_factory: object) -> None:
    server = llama_factory(ctx=1024, parallel=1)  # type: ignore[operator]
    settings = EngineSettings(
        context=ContextSettings(policy=ContextPolicy.SUMMARIZE),
        timeouts=TimeoutSettings(first_token_s=30.0),
    )
    engine = Engine(settings)
    engine.fitter = ContextManager(lambda: engine.settings.context, summarize=engine_summarizer(engine.chat))
    engine.add_backend(
        make_backend("llamacpp", "one", server.url, api_key=None, connect_s=1.0, stall_s=40.0, aux_s=5.0)
    )
    assert await engine.refresh_models() == []
    state = engine.model(f"one/{MODEL}")
    assert state is not None and state.server.bulkhead.limit == 1
    history: list[ChatMessage] = []
    for n in range(16):
        history += [
            ChatMessage("user", f"Tell me fact number {n} about the planet Mars, in two sentences."),
            ChatMessage("assistant", f"Fact {n}: Mars has a thin atmosphere of carbon dioxide. " * 3),
        ]
    history.append(ChatMessage("user", "Which planet were we talking about?"))
    request = ChatRequest(tuple(history), model=f"one/{MODEL}", params=GenerationParams(max_tokens=16))
    events, _ = await collect(engine, request)
    fitted = [e for e in events if isinstance(e, ContextFitted)]
    # Before, the summary waited for the slot its own request held, gave up after the queue
    # timeout and fell back to the sliding window with a "summary failed" note.
    assert fitted and fitted[0].policy == "summarize" and fitted[0].note is None, fitted
    assert fitted[0].summary and fitted[0].summary.strip()
    assert isinstance(events[-1], Completed)
    await engine.aclose()


async def test_settings_applied_live_reach_existing_connections(llama_small: LlamaServer) -> None:
    settings = Settings.model_validate(
        {"endpoints": [{"id": "s", "kind": "llamacpp", "base_url": llama_small.url}]}
    )
    runtime = await Runtime.start(
        RuntimeOptions(settings=settings, store=False, embedded=False, discover=False, health_monitor=False)
    )
    try:
        backend = runtime.engine.backends()[0]
        http = backend._http  # type: ignore[attr-defined]
        changed = settings.with_changes(
            {
                "timeouts.connect_s": 0.7,
                "timeouts.first_token_s": 45.0,
                "timeouts.probe_s": 0.9,
                "bulkhead.default_concurrency": 3,
                "context.max_reply_tokens": 77,
                "breaker.failure_threshold": 9,
                "routing.fallback_to_any": False,
            }
        )
        await runtime.apply_settings(changed, save=False)
        assert http.client.timeout.connect == 0.7 and http.client.timeout.read == 45.0 + 5.0
        assert http.aux_s == 0.9
        state = runtime.engine.model(f"s/{MODEL}")
        assert state is not None
        assert state.breaker.settings.failure_threshold == 9
        assert state.server.bulkhead.limit == (state.info.slots if state.info and state.info.slots else 3)
        assert runtime.engine.settings.routing.fallback_to_any is False
        events, _ = await collect(runtime.engine, ChatRequest(QUESTION, model=f"s/{MODEL}"))
        started = events[0]
        assert isinstance(started, RequestStarted) and isinstance(events[-1], Completed)
        usage = events[-1].usage
        assert usage is not None and (usage.completion_tokens or 0) <= 77  # the live reply limit
    finally:
        await runtime.stop()


async def test_a_configured_server_down_at_start_is_routed_to_as_soon_as_it_answers(
    llama_logs: object,
) -> None:
    from tests.support.llama import make_llama_server

    late = make_llama_server(llama_logs, ctx=1024)  # type: ignore[arg-type]
    settings = Settings.model_validate(
        {
            "endpoints": [{"id": "late", "kind": "llamacpp", "base_url": late.url}],
            "health": {"probe_interval_s": 60.0},
            "discovery": {"interval_s": 600.0},
        }
    )
    runtime = await Runtime.start(
        RuntimeOptions(settings=settings, store=False, embedded=False, discover=False)
    )
    try:
        assert runtime.engine.models() == [] and any("late" in w for w in runtime.warnings)
        await asyncio.to_thread(late.start)
        started = time.monotonic()
        while runtime.engine.model(f"late/{MODEL}") is None and time.monotonic() - started < 40:  # noqa: ASYNC110
            await asyncio.sleep(0.2)  # polling what the runtime's own re-probe task does
        found_after = time.monotonic() - started
        assert runtime.engine.model(f"late/{MODEL}") is not None
        assert found_after < 15, "re-probed on its own backoff (at most 10 s apart), not every 600 s"
        request = ChatRequest(QUESTION, model=f"late/{MODEL}", params=GenerationParams(max_tokens=16))
        events, _ = await collect(runtime.engine, request)
        assert isinstance(events[-1], Completed)
    finally:
        await runtime.stop()
        late.stop()
