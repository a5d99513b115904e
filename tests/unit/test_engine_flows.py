"""Engine request flows on a fake clock with FAKE backends: strategies, retries, fallbacks,
partial answers, quarantine, bulkheads. Exact event sequences; nothing really sleeps."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from tests.support.fake_backend import FakeBackend, Step, fail, hang, ok
from tests.support.fake_clock import FakeClock

from steward.engine.core import Engine
from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    EngineEvent,
    FallbackChosen,
    HedgeStarted,
    PartialAbandoned,
    RequestFailed,
    RequestStarted,
    RetryScheduled,
    Token,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import EngineSettings, HedgeSettings, RetrySettings, Strategy, TimeoutSettings
from steward.engine.types import ChatMessage, ModelInfo

HELLO = (ChatMessage("user", "hello"),)


def build(
    clock: FakeClock, servers: Sequence[str] = ("a", "b", "c"), settings: EngineSettings | None = None
) -> tuple[Engine, dict[str, FakeBackend]]:
    engine = Engine(settings or EngineSettings(), clock=clock, rng=random.Random(7), wall=lambda: 0.0)
    backends = {}
    for sid in servers:
        backend = FakeBackend(sid, clock)
        engine.add_backend(backend)
        engine.add_model(sid, ModelInfo("m", loaded_context=4096))
        backends[sid] = backend
    engine.set_fallback_chain([f"{sid}/m" for sid in servers])
    return engine, backends


async def run(engine: Engine, clock: FakeClock, request: ChatRequest | None = None) -> list[EngineEvent]:
    events: list[EngineEvent] = []
    async with clock.autojump():
        async for event in engine.chat(request or ChatRequest(HELLO, model="a/m")):
            events.append(event)
    assert isinstance(events[-1], Completed | RequestFailed), "the final event always comes last"
    assert sum(isinstance(e, Completed | RequestFailed) for e in events) == 1
    return events


def kinds(events: list[EngineEvent]) -> list[str]:
    return [e.type for e in events]


def answer(events: list[EngineEvent]) -> Completed:
    done = [e for e in events if isinstance(e, Completed)]
    assert len(done) == 1, kinds(events)
    return done[0]


async def test_success_streams_tokens_then_completes(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", ok("Par", "is"))
    events = await run(engine, fake_clock)
    assert kinds(events) == ["RequestStarted", "AttemptStarted", "Token", "Token", "Completed"]
    done = answer(events)
    assert done.model == "a/m" and done.text == "Paris" and done.attempts == 1
    assert [e.text for e in events if isinstance(e, Token)] == ["Par", "is"]


async def test_refused_primary_falls_back_to_next_in_chain(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", fail(FailureKind.CONNECTION_REFUSED))
    events = await run(engine, fake_clock)
    assert kinds(events) == [
        "RequestStarted",
        "AttemptStarted",
        "AttemptFailed",
        "FallbackChosen",
        "AttemptStarted",
        "Token",
        "Token",
        "Completed",
    ]
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert failed.kind is FailureKind.CONNECTION_REFUSED and not failed.will_retry
    chosen = next(e for e in events if isinstance(e, FallbackChosen))
    assert (chosen.from_model, chosen.model) == ("a/m", "b/m")
    assert answer(events).model == "b/m"


async def test_server_error_is_retried_on_the_same_model_with_jittered_backoff(fake_clock: FakeClock) -> None:
    settings = EngineSettings(
        retry=RetrySettings(max_retries_same_model=2, backoff_base_s=1.0, backoff_max_s=8.0)
    )
    engine, backends = build(fake_clock, settings=settings)
    backends["a"].script("m", fail(FailureKind.SERVER_ERROR), fail(FailureKind.SERVER_ERROR), ok("fine"))
    start = fake_clock.now()
    events = await run(engine, fake_clock)
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert [r.reason.split(":")[0] for r in retries] == ["server_error", "server_error"]
    assert 0 <= retries[0].delay_s <= 1.0 and 0 <= retries[1].delay_s <= 2.0
    assert answer(events).model == "a/m" and backends["a"].scripts["m"].calls == 3
    assert fake_clock.now() - start == pytest.approx(retries[0].delay_s + retries[1].delay_s)


async def test_hung_primary_costs_one_first_token_timeout_then_the_open_circuit_is_skipped(
    fake_clock: FakeClock,
) -> None:
    settings = EngineSettings(timeouts=TimeoutSettings(first_token_s=5.0))
    settings = EngineSettings(
        timeouts=settings.timeouts, breaker=settings.breaker.__class__(failure_threshold=1)
    )
    engine, backends = build(fake_clock, settings=settings)
    backends["a"].script("m", default=hang())
    start = fake_clock.now()
    events = await run(engine, fake_clock)
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert failed.kind is FailureKind.FIRST_TOKEN_TIMEOUT and not failed.will_retry
    assert answer(events).model == "b/m"
    assert fake_clock.now() - start == pytest.approx(5.0)
    assert backends["a"].scripts["m"].open_streams == 0, "the hung stream was closed"
    second = await run(engine, fake_clock)
    skipped = [e for e in second if isinstance(e, CandidateSkipped)]
    assert skipped[0].model == "a/m" and skipped[0].kind is FailureKind.CIRCUIT_OPEN
    assert answer(second).model == "b/m" and backends["a"].scripts["m"].calls == 1


async def test_mid_stream_cut_abandons_partial_text_and_fallback_restarts_the_answer(
    fake_clock: FakeClock,
) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", fail(FailureKind.CONNECTION_LOST, after=2, tokens=("The ", "cap", "ital")))
    backends["b"].script("m", ok("Paris"))
    events = await run(engine, fake_clock)
    abandoned = next(e for e in events if isinstance(e, PartialAbandoned))
    assert abandoned.model == "a/m" and abandoned.text == "The cap"
    assert kinds(events).index("PartialAbandoned") < kinds(events).index("FallbackChosen")
    assert answer(events).text == "Paris"


async def test_bad_request_does_not_fall_back(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", fail(FailureKind.BAD_REQUEST))
    events = await run(engine, fake_clock)
    assert kinds(events)[-1] == "RequestFailed"
    assert backends["b"].scripts["m"].calls == 0


async def test_all_candidates_failing_gives_one_clear_request_failure(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    for backend in backends.values():
        backend.script("m", default=fail(FailureKind.OUT_OF_MEMORY))
    events = await run(engine, fake_clock)
    failure = events[-1]
    assert isinstance(failure, RequestFailed)
    assert failure.detail.count("out_of_memory") == 3
    assert failure.kinds == (FailureKind.OUT_OF_MEMORY,) * 3


async def test_hedge_starts_after_delay_first_token_wins_and_loser_is_closed(fake_clock: FakeClock) -> None:
    settings = EngineSettings(
        strategy=Strategy.HEDGED, hedge=HedgeSettings(delay_s=0.5, use_measured_p95=False)
    )
    engine, backends = build(fake_clock, settings=settings)
    backends["a"].script("m", ok("slow", first_delay=3.0))
    backends["b"].script("m", ok("fast", first_delay=0.1))
    start = fake_clock.now()
    events = await run(engine, fake_clock)
    hedge = next(e for e in events if isinstance(e, HedgeStarted))
    assert hedge.model == "b/m" and hedge.after_s == 0.5 and hedge.waiting_on == "a/m"
    cancelled = next(e for e in events if isinstance(e, AttemptCancelled))
    assert cancelled.model == "a/m"
    assert answer(events).model == "b/m" and answer(events).text == "fast"
    assert fake_clock.now() - start == pytest.approx(0.6)
    assert backends["a"].scripts["m"].open_streams == 0 and backends["a"].scripts["m"].closed_streams == 1


async def test_hedge_is_not_started_when_primary_answers_in_time(fake_clock: FakeClock) -> None:
    settings = EngineSettings(
        strategy=Strategy.HEDGED, hedge=HedgeSettings(delay_s=0.5, use_measured_p95=False)
    )
    engine, backends = build(fake_clock, settings=settings)
    backends["a"].script("m", ok("quick", first_delay=0.2))
    events = await run(engine, fake_clock)
    assert "HedgeStarted" not in kinds(events)
    assert backends["b"].scripts["m"].calls == 0


async def test_hedge_never_doubles_up_on_the_same_server_unless_allowed(fake_clock: FakeClock) -> None:
    settings = EngineSettings(
        strategy=Strategy.HEDGED, hedge=HedgeSettings(delay_s=0.5, use_measured_p95=False)
    )
    engine = Engine(settings, clock=fake_clock, rng=random.Random(1), wall=lambda: 0.0)
    same = FakeBackend("a", fake_clock, {"m1": 4096, "m2": 4096})
    other = FakeBackend("b", fake_clock)
    engine.add_backend(same)
    engine.add_backend(other)
    for name in ("m1", "m2"):
        engine.add_model("a", ModelInfo(name, loaded_context=4096))
    engine.add_model("b", ModelInfo("m", loaded_context=4096))
    engine.set_fallback_chain(["a/m1", "a/m2", "b/m"])
    same.script("m1", ok("slow", first_delay=2.0))
    events = await run(engine, fake_clock, ChatRequest(HELLO, model="a/m1"))
    hedges = [e.model for e in events if isinstance(e, HedgeStarted)]
    assert hedges == ["b/m"], "a/m2 shares a server with the primary"


async def test_race_starts_all_candidates_at_once(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock, settings=EngineSettings(strategy=Strategy.RACE))
    backends["a"].script("m", ok("a", first_delay=0.3))
    backends["b"].script("m", ok("b", first_delay=0.2))
    backends["c"].script("m", ok("c", first_delay=0.1))
    events = await run(engine, fake_clock)
    assert [e.model for e in events if isinstance(e, AttemptStarted)] == ["a/m", "b/m", "c/m"]
    assert answer(events).model == "c/m"
    assert sorted(e.model for e in events if isinstance(e, AttemptCancelled)) == ["a/m", "b/m"]


async def test_weighted_strategy_spreads_first_choice_by_score(fake_clock: FakeClock) -> None:
    engine, _ = build(fake_clock, settings=EngineSettings(strategy=Strategy.WEIGHTED))
    firsts = []
    for _ in range(60):
        events = await run(engine, fake_clock, ChatRequest(HELLO))
        firsts.append(next(e for e in events if isinstance(e, AttemptStarted)).model)
    assert set(firsts) == {"a/m", "b/m", "c/m"}, "equal scores → every model gets a share"


async def test_sequential_auto_order_follows_the_fallback_chain(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", fail(FailureKind.SERVER_ERROR), fail(FailureKind.SERVER_ERROR))
    events = await run(engine, fake_clock, ChatRequest(HELLO))
    started = events[0]
    assert isinstance(started, RequestStarted) and started.candidates == ("a/m", "b/m", "c/m")
    assert answer(events).model == "b/m"


async def test_a_quarantine_without_a_reason_reads_without_a_dash(fake_clock: FakeClock) -> None:
    engine, _backends = build(fake_clock)
    engine.quarantine("a/m", "", duration_s=1799)
    events = await run(engine, fake_clock)
    skipped = next(e for e in events if isinstance(e, CandidateSkipped))
    assert skipped.reason == "quarantined by you (29 min left)"
    engine.quarantine("a/m", "", duration_s=None)
    events = await run(engine, fake_clock)
    skipped = next(e for e in events if isinstance(e, CandidateSkipped))
    assert skipped.reason == "quarantined by you (until released)"


async def test_manual_quarantine_beats_a_closed_breaker_and_expires(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    engine.quarantine("a/m", "flaky today", duration_s=600)
    assert engine.snapshot().model("a/m").health == "quarantined"  # type: ignore[union-attr]
    events = await run(engine, fake_clock)
    skipped = next(e for e in events if isinstance(e, CandidateSkipped))
    assert (
        skipped.model == "a/m" and skipped.kind is FailureKind.QUARANTINED and "flaky today" in skipped.reason
    )
    assert skipped.reason == "quarantined by you — flaky today (10 min left)", (
        "who, why and the wait in words"
    )
    assert answer(events).model == "b/m" and backends["a"].scripts["m"].calls == 0
    await fake_clock.advance(600)
    released: list[EngineEvent] = []
    engine.subscribe(released.append)
    events = await run(engine, fake_clock)
    assert answer(events).model == "a/m"
    assert [e.type for e in released][:1] == ["Released"]


async def test_release_puts_a_model_back_immediately(fake_clock: FakeClock) -> None:
    engine, _ = build(fake_clock)
    engine.quarantine("a/m", "testing", duration_s=None)
    assert engine.release("a/m") is True
    assert engine.release("a/m") is False
    assert answer(await run(engine, fake_clock)).model == "a/m"


async def test_context_overflow_prefers_a_larger_window_and_does_not_trip_the_breaker(
    fake_clock: FakeClock,
) -> None:
    engine = Engine(EngineSettings(), clock=fake_clock, rng=random.Random(1), wall=lambda: 0.0)
    windows = {"small": 1024, "tiny": 512, "large": 8192}
    for sid, window in windows.items():
        engine.add_backend(FakeBackend(sid, fake_clock))
        engine.add_model(sid, ModelInfo("m", loaded_context=window))
    engine.set_fallback_chain(["small/m", "tiny/m", "large/m"])
    backend = engine._servers["small"].backend
    assert isinstance(backend, FakeBackend)
    backend.script("m", default=fail(FailureKind.CONTEXT_OVERFLOW, n_ctx=1024))
    for _ in range(5):
        events = await run(engine, fake_clock, ChatRequest(HELLO, model="small/m"))
        assert answer(events).model == "large/m"
        tiny = next(e for e in events if isinstance(e, CandidateSkipped))
        assert tiny.model == "tiny/m" and tiny.kind is FailureKind.CONTEXT_OVERFLOW
    assert engine.snapshot().model("small/m").breaker == "closed"  # type: ignore[union-attr]


async def test_degenerate_output_is_cut_and_falls_back(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", Step(repeat="la"))
    events = await run(engine, fake_clock)
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert failed.kind is FailureKind.DEGENERATE_OUTPUT
    assert backends["a"].scripts["m"].open_streams == 0
    assert answer(events).model == "b/m"


async def test_model_loading_waits_and_retries_without_counting_a_failure(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock, servers=("a",))  # nothing else could answer meanwhile
    backends["a"].script("m", fail(FailureKind.MODEL_LOADING, tokens=()), ok("warm"))
    events = await run(engine, fake_clock)
    assert "ModelLoading" in kinds(events)
    assert answer(events).model == "a/m"
    snap = engine.snapshot().model("a/m")
    assert snap is not None and snap.consecutive_failures == 0


async def test_bulkhead_full_queue_fails_fast_as_server_busy_and_falls_back(fake_clock: FakeClock) -> None:
    from steward.engine.settings import BulkheadSettings

    settings = EngineSettings(
        bulkhead=BulkheadSettings(default_concurrency=1, queue_limit=0, queue_timeout_s=1)
    )
    engine, backends = build(fake_clock, settings=settings)
    backends["a"].script("m", ok("long", first_delay=5.0), ok("second"))
    first_events: list[EngineEvent] = []

    async def first() -> None:
        async for event in engine.chat(ChatRequest(HELLO, model="a/m")):
            first_events.append(event)

    import asyncio

    async with fake_clock.autojump():
        task = asyncio.create_task(first())
        await fake_clock.settle()
        events = [e async for e in engine.chat(ChatRequest(HELLO, model="a/m"))]
        await task
    failed = next(e for e in events if isinstance(e, AttemptFailed))
    assert failed.kind is FailureKind.SERVER_BUSY
    assert answer(events).model == "b/m" and answer(first_events).model == "a/m"


async def test_closing_the_stream_cancels_the_request_and_closes_connections(fake_clock: FakeClock) -> None:
    engine, backends = build(fake_clock)
    backends["a"].script("m", ok(*["tok"] * 50, token_delay=1.0))
    async with fake_clock.autojump():
        stream = engine.chat(ChatRequest(HELLO, model="a/m"))
        async for event in stream:
            if isinstance(event, Token):
                break
        await stream.aclose()  # type: ignore[attr-defined]
        await fake_clock.settle()
    script = backends["a"].scripts["m"]
    assert script.open_streams == 0 and script.closed_streams == 1
    assert engine.snapshot().active_requests == 0


async def test_every_event_reaches_subscribers_in_order(fake_clock: FakeClock) -> None:
    engine, _backends = build(fake_clock)
    seen: list[EngineEvent] = []
    unsubscribe = engine.subscribe(seen.append)
    events = await run(engine, fake_clock)
    assert [e.type for e in seen if e.request_id] == kinds(events)
    unsubscribe()
    await run(engine, fake_clock)
    assert len([e for e in seen if isinstance(e, Completed)]) == 1


async def test_unknown_pinned_model_is_said_and_another_model_answers(fake_clock: FakeClock) -> None:
    engine, _ = build(fake_clock)
    events = await run(engine, fake_clock, ChatRequest(HELLO, model="nope/x"))
    started = events[0]
    assert isinstance(started, RequestStarted) and "nope/x is not known" in started.explanation
    assert answer(events).model == "a/m"


async def test_unknown_pinned_model_fails_clearly_when_fallback_to_any_is_off(fake_clock: FakeClock) -> None:
    from steward.engine.settings import RoutingSettings

    engine, _ = build(fake_clock, settings=EngineSettings(routing=RoutingSettings(fallback_to_any=False)))
    engine.set_fallback_chain([])
    events = await run(engine, fake_clock, ChatRequest(HELLO, model="nope/x"))
    assert isinstance(events[-1], RequestFailed) and "nope/x" in events[-1].detail


async def test_when_every_circuit_is_open_the_one_closest_to_half_open_is_tried_anyway(
    fake_clock: FakeClock,
) -> None:
    from steward.engine.settings import BreakerSettings

    settings = EngineSettings(breaker=BreakerSettings(failure_threshold=1, reset_timeout_s=30.0))
    engine, backends = build(fake_clock, servers=("a", "b"), settings=settings)
    backends["a"].script("m", fail(FailureKind.SERVER_ERROR, tokens=()))
    backends["b"].script("m", fail(FailureKind.SERVER_ERROR, tokens=()))
    settings_no_retry = replace_retry(settings)
    engine.update_settings(settings_no_retry)
    first = await run(engine, fake_clock)
    assert isinstance(first[-1], RequestFailed)
    await fake_clock.advance(5)  # b opened a moment after a: b half-opens later than a
    events = await run(engine, fake_clock)
    started = [e for e in events if isinstance(e, AttemptStarted)]
    assert len(started) == 1 and started[0].model == "a/m" and "every circuit is open" in started[0].reason
    assert answer(events).model == "a/m"
    assert engine.snapshot().model("a/m").breaker == "closed"  # type: ignore[union-attr]
    assert engine.snapshot().model("b/m").breaker == "open"  # type: ignore[union-attr]


async def test_panic_mode_can_be_turned_off(fake_clock: FakeClock) -> None:
    from steward.engine.settings import BreakerSettings

    settings = replace_retry(
        EngineSettings(breaker=BreakerSettings(failure_threshold=1, panic_when_all_open=False))
    )
    engine, backends = build(fake_clock, servers=("a",), settings=settings)
    backends["a"].script("m", fail(FailureKind.SERVER_ERROR, tokens=()))
    await run(engine, fake_clock)
    events = await run(engine, fake_clock)
    assert isinstance(events[-1], RequestFailed) and "circuit open" in events[-1].detail
    assert backends["a"].scripts["m"].calls == 1


def replace_retry(settings: EngineSettings) -> EngineSettings:
    from dataclasses import replace

    return replace(settings, retry=RetrySettings(max_retries_same_model=0))
