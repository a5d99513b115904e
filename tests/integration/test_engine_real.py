"""The engine against REAL llama-servers (SmolLM2-135M), with faults injected by a TCP proxy in
front of the primary: refused, hung, cut mid-stream, slow; a real context overflow; a real restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from tests.support.fault_proxy import Down, FaultProxy, LimitData, Timeout
from tests.support.fault_proxy import Latency as ProxyLatency
from tests.support.llama import LlamaServer

from steward.backends.factory import make_backend
from steward.engine.core import Engine
from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    BreakerChanged,
    CandidateSkipped,
    Completed,
    EngineEvent,
    HedgeStarted,
    PartialAbandoned,
    RequestFailed,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import (
    BreakerSettings,
    EngineSettings,
    HedgeSettings,
    Strategy,
    TimeoutSettings,
)
from steward.engine.types import ChatMessage, GenerationParams

MODEL = "SmolLM2-135M-Instruct.Q4_1"
PRIMARY, BACKUP = f"primary/{MODEL}", f"backup/{MODEL}"
QUESTION = (ChatMessage("user", "What is the capital of France?"),)
SETTINGS = EngineSettings(
    timeouts=TimeoutSettings(connect_s=1.0, first_token_s=15.0, stall_s=5.0, total_s=60.0),
    breaker=BreakerSettings(failure_threshold=1, reset_timeout_s=1.0, max_reset_timeout_s=2.0),
    hedge=HedgeSettings(delay_s=0.3, use_measured_p95=False),
)


@pytest.fixture
def proxy(llama_small: LlamaServer) -> AsyncIterator[FaultProxy]:
    with FaultProxy("127.0.0.1", llama_small.port) as p:
        yield p


async def build(primary_url: str, backup_url: str, settings: EngineSettings = SETTINGS) -> Engine:
    engine = Engine(settings)
    read_timeout = (
        max(settings.timeouts.first_token_s, settings.timeouts.stall_s) + 5.0
    )  # as the runtime does
    for sid, url in (("primary", primary_url), ("backup", backup_url)):
        engine.add_backend(
            make_backend("llamacpp", sid, url, api_key=None, connect_s=1.0, stall_s=read_timeout)
        )
    assert await engine.refresh_models() == []
    engine.set_fallback_chain([PRIMARY, BACKUP])
    return engine


async def ask(engine: Engine, model: str = PRIMARY, max_tokens: int = 24, **kw: object) -> list[EngineEvent]:
    request = ChatRequest(QUESTION, model=model, params=GenerationParams(max_tokens=max_tokens, seed=1), **kw)  # type: ignore[arg-type]
    return [event async for event in engine.chat(request)]


def completed(events: list[EngineEvent]) -> Completed:
    done = [e for e in events if isinstance(e, Completed)]
    assert done, [f"{e.type}: {getattr(e, 'detail', '')}" for e in events]
    return done[0]


def failures(events: list[EngineEvent]) -> list[AttemptFailed]:
    return [e for e in events if isinstance(e, AttemptFailed)]


async def test_success_from_the_real_server(proxy: FaultProxy, llama_large: LlamaServer) -> None:
    engine = await build(proxy.url, llama_large.url)
    events = await ask(engine)
    done = completed(events)
    assert done.model == PRIMARY and done.text.strip()
    assert done.usage is not None and done.usage.completion_tokens
    assert failures(events) == []
    await engine.aclose()


async def test_refused_primary_falls_back(proxy: FaultProxy, llama_large: LlamaServer) -> None:
    engine = await build(proxy.url, llama_large.url)
    proxy.set_fault(Down())
    events = await ask(engine)
    assert [f.kind for f in failures(events)] == [FailureKind.CONNECTION_REFUSED]
    assert completed(events).model == BACKUP
    await engine.aclose()


async def test_hung_primary_times_out_then_its_open_circuit_is_skipped(
    proxy: FaultProxy, llama_large: LlamaServer
) -> None:
    fast = replace(
        SETTINGS,
        timeouts=replace(SETTINGS.timeouts, first_token_s=2.0),
        breaker=replace(SETTINGS.breaker, reset_timeout_s=60.0, max_reset_timeout_s=60.0),  # stays open here
    )
    engine = await build(proxy.url, llama_large.url, fast)
    proxy.set_fault(Timeout())
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await ask(engine)
    first_elapsed = loop.time() - started
    assert [f.kind for f in failures(events)] == [FailureKind.FIRST_TOKEN_TIMEOUT]
    assert completed(events).model == BACKUP
    assert 2.0 <= first_elapsed < 2.0 + 5.0, "one first-token timeout, then the fallback"
    started = loop.time()
    again = await ask(engine)
    skipped = [e for e in again if isinstance(e, CandidateSkipped)]
    assert skipped and skipped[0].model == PRIMARY and skipped[0].kind is FailureKind.CIRCUIT_OPEN
    assert completed(again).model == BACKUP and failures(again) == []
    assert loop.time() - started < 2.0, "the hung primary costs nothing the second time"
    await engine.aclose()


async def test_mid_stream_cut_abandons_the_partial_answer_and_falls_back(
    proxy: FaultProxy, llama_large: LlamaServer
) -> None:
    engine = await build(proxy.url, llama_large.url)
    proxy.set_fault(LimitData(n_bytes=1500))  # response headers and a few SSE events, then the server "dies"
    events = await ask(engine, max_tokens=200)
    assert [f.kind for f in failures(events)] == [FailureKind.CONNECTION_LOST]
    abandoned = [e for e in events if isinstance(e, PartialAbandoned)]
    assert abandoned and abandoned[0].model == PRIMARY and abandoned[0].text
    assert completed(events).model == BACKUP
    await engine.aclose()


async def test_slow_first_token_is_hedged_and_the_losers_connection_is_closed(
    proxy: FaultProxy, llama_large: LlamaServer
) -> None:
    engine = await build(proxy.url, llama_large.url, replace(SETTINGS, strategy=Strategy.HEDGED))
    proxy.set_fault(ProxyLatency(ms=1500))
    closed_before = proxy.closed_by_client
    events = await ask(engine)
    hedge = [e for e in events if isinstance(e, HedgeStarted)]
    assert hedge and hedge[0].model == BACKUP and hedge[0].after_s == pytest.approx(0.3)
    assert completed(events).model == BACKUP
    assert [e.model for e in events if isinstance(e, AttemptCancelled)] == [PRIMARY]
    assert await asyncio.to_thread(proxy.wait_for_closed, closed_before + 1, 5.0), "loser's socket closed"
    await engine.aclose()


async def test_oversized_prompt_is_a_real_context_overflow_that_does_not_trip_the_breaker(
    llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    patient = replace(SETTINGS, timeouts=replace(SETTINGS.timeouts, first_token_s=120.0, total_s=180.0))
    engine = await build(llama_small.url, llama_large.url, patient)  # ~1,300 prompt tokens take a while here
    long = (ChatMessage("user", "tell me about paris. " * 220),)  # ~1,300 tokens: over 1,024, under 4,096
    request = ChatRequest(long, model=PRIMARY, params=GenerationParams(max_tokens=8))
    events = [e async for e in engine.chat(request)]
    assert len(failures(events)) == 1, [(f.model, f.kind, f.detail) for f in failures(events)]
    (failed,) = failures(events)
    assert failed.kind is FailureKind.CONTEXT_OVERFLOW and "1024" in failed.detail.replace(",", "")
    assert completed(events).model == BACKUP, "the larger window answers"
    snapshot = engine.snapshot().model(PRIMARY)
    assert snapshot is not None and snapshot.breaker == "closed"
    await engine.aclose()


async def test_breaker_half_opens_and_closes_after_the_server_restarts(
    llama_factory: Callable[..., LlamaServer], llama_large: LlamaServer
) -> None:
    private = llama_factory(ctx=1024)
    slow_reset = replace(
        SETTINGS, breaker=replace(SETTINGS.breaker, reset_timeout_s=2.0, max_reset_timeout_s=4.0)
    )
    engine = await build(private.url, llama_large.url, slow_reset)
    changes: list[tuple[str, str]] = []
    engine.subscribe(lambda e: changes.append((e.old, e.new)) if isinstance(e, BreakerChanged) else None)
    private.stop()
    assert completed(await ask(engine)).model == BACKUP
    assert changes == [("closed", "open")]
    await asyncio.to_thread(private.start)  # same port: the server is back
    await asyncio.sleep(2.1)  # past the 2 s reset timeout
    events = await ask(engine)
    assert completed(events).model == PRIMARY, "the half-open probe is a real request and it succeeds"
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    await engine.aclose()


async def test_every_candidate_down_is_one_clear_failure(proxy: FaultProxy) -> None:
    with FaultProxy("127.0.0.1", proxy.port) as second:
        engine = await build(proxy.url, second.url)
        proxy.set_fault(Down())
        second.set_fault(Down())
        events = await ask(engine)
    last = events[-1]
    assert isinstance(last, RequestFailed) and last.detail.count("connection_refused") == 2
    await engine.aclose()
