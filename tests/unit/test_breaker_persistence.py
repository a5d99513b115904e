"""Open circuits outlive the process: the breaker's export/restore on a fake clock, the engine's
restored event, the persister's writes, and two engines sharing one real store (two CLI runs).
Nothing sleeps."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tests.support.fake_backend import FakeBackend, fail, hang, ok
from tests.support.fake_clock import FakeClock

from steward.engine.breaker import BreakerState, CircuitBreaker, OpenCircuit
from steward.engine.core import Engine
from steward.engine.events import (
    AttemptStarted,
    BreakerChanged,
    CandidateSkipped,
    Completed,
    EngineEvent,
    HealthChanged,
    RequestFailed,
)
from steward.engine.failures import FailureKind
from steward.engine.request import ChatRequest
from steward.engine.settings import BreakerSettings, EngineSettings, TimeoutSettings
from steward.engine.types import ChatMessage, ModelInfo
from steward.history import BreakerPersister, restore_breakers
from steward.recorder import to_event_record
from steward.store import BreakerRecord, Store, open_store

S = BreakerSettings(failure_threshold=1, success_threshold=1, reset_timeout_s=30.0, max_reset_timeout_s=300.0)
WALL0 = 1_700_000_000.0
HELLO = (ChatMessage("user", "hello"),)


# --- the breaker ---------------------------------------------------------------------------------


def make_breaker() -> tuple[CircuitBreaker, FakeClock, list[tuple[str, str, float | None]]]:
    clock = FakeClock()
    events: list[tuple[str, str, float | None]] = []
    breaker = CircuitBreaker("srv/m", S, clock, lambda k, o, n, r, t: events.append((o.value, n.value, t)))
    return breaker, clock, events


def fail_probe(breaker: CircuitBreaker) -> None:
    permit = breaker.try_acquire()
    assert permit is not None and permit.probe
    breaker.record_failure(permit, True, "still dead")


def test_restored_open_circuit_refuses_until_its_remaining_time_then_half_opens() -> None:
    breaker, clock, events = make_breaker()
    assert breaker.restore_open(20.0, trips=2, reason="3 consecutive failures") is BreakerState.OPEN
    assert events == [], "restoring is announced by the engine, not as a live transition"
    assert breaker.try_acquire() is None and not breaker.would_admit()
    assert breaker.reopen_in() == pytest.approx(20.0) and breaker.trips == 2
    assert breaker.open_state() == OpenCircuit(20.0, 2, "3 consecutive failures")
    clock._now += 19.9
    assert breaker.state.value == "open"
    clock._now += 0.1
    assert breaker.state.value == "half_open"
    assert events == [("open", "half_open", None)]
    assert breaker.open_state() == OpenCircuit(0.0, 2, "3 consecutive failures")


def test_trips_carry_on_so_a_failed_probe_reopens_with_the_next_longer_timeout() -> None:
    breaker, clock, events = make_breaker()
    breaker.restore_open(5.0, trips=2, reason="r")
    clock._now += 5.0
    fail_probe(breaker)
    assert breaker.trips == 3 and events[-1] == ("half_open", "open", 120.0)  # 30 · 2², not 30 again
    clock._now += 120.0
    fail_probe(breaker)
    assert events[-1] == ("half_open", "open", 240.0)
    assert breaker.open_state() == OpenCircuit(240.0, 4, "probe failed: still dead")


def test_no_time_left_restores_half_open_with_its_trips_and_a_good_probe_closes_it() -> None:
    breaker, _, events = make_breaker()
    assert breaker.restore_open(0.0, trips=3, reason="r") is BreakerState.HALF_OPEN
    assert breaker.reopen_in() is None and breaker.trips == 3
    probe = breaker.try_acquire()
    assert probe is not None and probe.probe and breaker.try_acquire() is None
    breaker.record_success(probe)
    assert breaker.state is BreakerState.CLOSED and breaker.trips == 0 and breaker.open_state() is None
    assert events == [("half_open", "closed", None)]


def test_restore_is_capped_at_the_longest_timeout_and_needs_at_least_one_trip() -> None:
    breaker, _, _ = make_breaker()
    breaker.restore_open(86_400.0, trips=0, reason="wall clock went back")
    assert breaker.reopen_in() == pytest.approx(300.0) and breaker.trips == 1


def test_a_permit_from_before_the_restore_changes_nothing() -> None:
    breaker, _, events = make_breaker()
    stale = breaker.try_acquire()
    assert stale is not None
    breaker.restore_open(10.0, trips=1, reason="r")
    breaker.record_success(stale)
    assert breaker.state is BreakerState.OPEN and events == []


def test_open_state_of_a_closed_breaker_is_none_and_reading_it_never_transitions() -> None:
    breaker, clock, events = make_breaker()
    assert breaker.open_state() is None
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.record_failure(permit, True, "boom")
    clock._now += 31.0
    assert breaker.open_state() == OpenCircuit(0.0, 1, "1 consecutive failures, last: boom")
    assert events == [("closed", "open", 30.0)], "open_state did not half-open it"


# --- engine, persister, restore ------------------------------------------------------------------


def build(
    clock: FakeClock, wall0: float, settings: EngineSettings | None = None
) -> tuple[Engine, dict[str, FakeBackend], list[EngineEvent]]:
    start = clock.now()
    engine = Engine(
        settings or EngineSettings(breaker=S, timeouts=TimeoutSettings(first_token_s=5.0)),
        clock=clock,
        rng=random.Random(7),
        wall=lambda: wall0 + clock.now() - start,
    )
    backends = {}
    for sid in ("a", "b"):
        backend = FakeBackend(sid, clock)
        engine.add_backend(backend)
        engine.add_model(sid, ModelInfo("m", loaded_context=4096))
        backends[sid] = backend
    engine.set_fallback_chain(["a/m", "b/m"])
    seen: list[EngineEvent] = []
    engine.subscribe(seen.append)
    return engine, backends, seen


async def chat(engine: Engine, clock: FakeClock) -> list[EngineEvent]:
    events: list[EngineEvent] = []
    async with clock.autojump():
        async for event in engine.chat(ChatRequest(HELLO, model="a/m")):
            events.append(event)
    assert isinstance(events[-1], Completed | RequestFailed)
    return events


def breaker_events(events: list[EngineEvent]) -> list[BreakerChanged]:
    return [e for e in events if isinstance(e, BreakerChanged)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    return opened


def test_engine_restore_emits_one_restored_event_that_serialises_and_marks_the_model_unhealthy() -> None:
    clock = FakeClock()
    engine, _, seen = build(clock, WALL0)
    assert engine.restore_breaker("a/m", 20.0, 2, "3 consecutive failures") is BreakerState.OPEN
    (event,) = breaker_events(seen)
    assert (event.old, event.new, event.reopen_in_s, event.restored) == ("closed", "open", 20.0, True)
    assert event.reason == "restored from an earlier run (trip 2): 3 consecutive failures"
    record = to_event_record(event)
    assert record is not None and record.payload["restored"] is True and record.model_key == "a/m"
    health = [e for e in seen if isinstance(e, HealthChanged)]
    assert health[-1].new == "unhealthy"
    snap = engine.snapshot().model("a/m")
    assert snap is not None and snap.breaker == "open" and snap.trips == 2
    with pytest.raises(KeyError):
        engine.restore_breaker("nope/m", 20.0, 1, "r")


async def test_persister_remembers_an_open_circuit_and_forgets_it_on_reset(store: Store) -> None:
    clock = FakeClock()
    engine, backends, seen = build(clock, WALL0)
    engine.subscribe(BreakerPersister(store, engine))
    backends["a"].script("m", fail(FailureKind.SERVER_ERROR, tokens=()))
    await chat(engine, clock)
    (opened,) = breaker_events(seen)
    assert store.remembered_breakers(opened.ts) == [
        BreakerRecord("a/m", opened.reason, opened.ts, opened.ts + 30.0, 1)
    ]
    engine.reset("a/m")
    assert breaker_events(seen)[-1].new == "closed"
    assert store.remembered_breakers(opened.ts) == []
    store.close()


async def test_persister_keeps_half_open_updates_a_failed_probe_and_forgets_a_good_one(store: Store) -> None:
    clock = FakeClock()
    engine, backends, seen = build(clock, WALL0)
    engine.subscribe(BreakerPersister(store, engine))
    backends["a"].script(
        "m", fail(FailureKind.SERVER_ERROR, tokens=()), fail(FailureKind.SERVER_ERROR, tokens=())
    )
    await chat(engine, clock)
    await clock.advance(30.0)
    assert engine.snapshot().model("a/m").breaker == "half_open"  # type: ignore[union-attr]
    assert [r.trips for r in store.remembered_breakers(engine.wall())] == [1], "half-open keeps its row"
    await chat(engine, clock)  # the probe fails: trip 2, 60 s
    reopened = breaker_events(seen)[-1]
    assert (reopened.new, reopened.reopen_in_s) == ("open", 60.0)
    assert store.remembered_breakers(engine.wall()) == [
        BreakerRecord("a/m", reopened.reason, reopened.ts, reopened.ts + 60.0, 2)
    ]
    await clock.advance(60.0)
    events = await chat(engine, clock)  # the probe answers: closed
    assert [e.model for e in events if isinstance(e, Completed)] == ["a/m"]
    assert store.remembered_breakers(engine.wall()) == []
    store.close()


async def test_restored_events_are_not_written_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _, _ = build(FakeClock(), WALL0)
    saved: list[object] = []
    monkeypatch.setattr(store, "save_breaker", lambda *args: saved.append(args))
    engine.subscribe(BreakerPersister(store, engine))
    engine.restore_breaker("a/m", 20.0, 2, "r")
    assert saved == []
    store.close()


async def test_restore_skips_models_no_server_offers_but_keeps_their_rows(store: Store) -> None:
    engine, _, seen = build(FakeClock(), WALL0)
    store.save_breaker("gone/m", "r", WALL0 - 10, WALL0 + 20, 1)
    assert await restore_breakers(engine, store, now=lambda: WALL0) == []
    assert breaker_events(seen) == []
    assert [r.model_key for r in store.remembered_breakers(WALL0)] == ["gone/m"]
    store.close()


async def test_a_circuit_past_its_reopen_time_comes_back_half_open_and_is_probed_first(store: Store) -> None:
    clock = FakeClock()
    engine, backends, seen = build(clock, WALL0)
    store.save_breaker("a/m", "probe failed: x", WALL0 - 100, WALL0 - 40, 2)
    engine.subscribe(BreakerPersister(store, engine))
    lines = await restore_breakers(engine, store, now=engine.wall)
    assert lines == ["circuit of a/m restored: half-open, the next request probes it (trip 2)"]
    assert [(e.old, e.new, e.restored) for e in breaker_events(seen)] == [("closed", "half_open", True)]
    backends["a"].script("m", hang())
    events = await chat(engine, clock)
    assert next(e.model for e in events if isinstance(e, AttemptStarted)) == "a/m"
    assert breaker_events(seen)[-1].reopen_in_s == 120.0, "trip 3: the timeout kept growing"
    assert [r.trips for r in store.remembered_breakers(engine.wall())] == [3]
    store.close()


async def test_two_runs_the_second_skips_the_dead_primary_until_it_half_opens(tmp_path: Path) -> None:
    """Run 1 pays the hung primary's timeout twice (trip, then a failed probe); run 2 starts 10 s
    later on a fresh monotonic clock, skips it at once, and probes it when the 60 s are up."""
    path = tmp_path / "steward.db"
    store1, _ = open_store(path, commit_interval_s=0.0)
    clock1 = FakeClock()
    engine1, backends1, seen1 = build(clock1, WALL0)
    engine1.subscribe(BreakerPersister(store1, engine1))
    backends1["a"].script("m", default=hang())
    await chat(engine1, clock1)
    await clock1.advance(30.0)
    await chat(engine1, clock1)
    assert backends1["a"].scripts["m"].calls == 2
    tripped = breaker_events(seen1)[-1]
    assert (tripped.new, tripped.reopen_in_s) == ("open", 60.0)
    store1.close()

    store2, _ = open_store(path, commit_interval_s=0.0)
    clock2 = FakeClock(start=50_000.0)  # monotonic time means nothing across runs
    engine2, backends2, seen2 = build(clock2, tripped.ts + 10.0)
    engine2.subscribe(BreakerPersister(store2, engine2))
    lines = await restore_breakers(engine2, store2, now=engine2.wall)
    assert lines == ["circuit of a/m restored: open, half-opens in 50 s (trip 2)"]

    first = await chat(engine2, clock2)
    skipped = [e for e in first if isinstance(e, CandidateSkipped)]
    assert [(e.model, e.kind) for e in skipped] == [("a/m", FailureKind.CIRCUIT_OPEN)]
    assert skipped[0].reason == "circuit open, retry in 50 s"
    assert [e.model for e in first if isinstance(e, AttemptStarted)] == ["b/m"]
    assert backends2["a"].scripts["m"].calls == 0, "no attempt, no timeout paid"
    assert clock2.now() == 50_000.0

    await clock2.advance(50.0)
    backends2["a"].script("m", ok("back"))
    again = await chat(engine2, clock2)
    assert [e.model for e in again if isinstance(e, AttemptStarted)] == ["a/m"]
    assert [e.model for e in again if isinstance(e, Completed)] == ["a/m"]
    assert [(e.old, e.new) for e in breaker_events(seen2)][-2:] == [
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    assert store2.remembered_breakers(engine2.wall()) == [], "closed: forgotten for the next run"
    store2.close()


async def test_one_failure_per_short_run_adds_up_to_a_trip_across_runs(tmp_path: Path) -> None:
    """`steward chat` runs once and exits: each run fails the hung primary once. The failures of a
    still-closed circuit are remembered, so the third run trips it and the fourth skips it."""
    path = tmp_path / "steward.db"
    settings = EngineSettings(
        breaker=BreakerSettings(failure_threshold=3, reset_timeout_s=30.0, max_reset_timeout_s=300.0),
        timeouts=TimeoutSettings(first_token_s=5.0),
    )
    wall = WALL0
    calls = []
    for run in range(4):
        store_n, _ = open_store(path, commit_interval_s=0.0)
        clock = FakeClock(start=1000.0 * (run + 1))
        engine, backends, _ = build(clock, wall, settings)
        engine.subscribe(BreakerPersister(store_n, engine))
        lines = await restore_breakers(engine, store_n, now=engine.wall)
        if run in (1, 2):
            assert lines == [f"a/m: {run} failure(s) in a row carried over from an earlier run"]
        backends["a"].script("m", default=hang())
        events = await chat(engine, clock)
        assert isinstance(events[-1], Completed) and events[-1].model == "b/m"
        calls.append(backends["a"].scripts["m"].calls)
        wall = engine.wall() + 5.0  # the next run starts a few seconds later
        store_n.close()
    assert calls == [1, 1, 1, 0], "the fourth run skips the primary: its circuit opened in the third"


async def test_a_success_forgets_the_failures_of_a_closed_circuit(store: Store) -> None:
    clock = FakeClock()
    settings = EngineSettings(
        breaker=BreakerSettings(failure_threshold=3), timeouts=TimeoutSettings(first_token_s=5.0)
    )
    engine, backends, _ = build(clock, WALL0, settings)
    engine.subscribe(BreakerPersister(store, engine))
    backends["a"].script("m", hang(), ok("fine"))
    await chat(engine, clock)
    [record] = store.remembered_breakers(engine.wall())
    assert (record.trips, record.failures) == (0, 1)
    await chat(engine, clock)
    assert store.remembered_breakers(engine.wall()) == []
