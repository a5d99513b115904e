"""Circuit breaker: every transition with its exact event sequence, on a fake clock."""

from __future__ import annotations

import asyncio

from tests.support.fake_clock import FakeClock

from steward.engine.breaker import BreakerState, CircuitBreaker
from steward.engine.settings import BreakerSettings

S = BreakerSettings(failure_threshold=3, success_threshold=1, reset_timeout_s=30.0, max_reset_timeout_s=300.0)


def make(
    settings: BreakerSettings = S,
) -> tuple[CircuitBreaker, FakeClock, list[tuple[str, str, float | None]]]:
    clock = FakeClock()
    events: list[tuple[str, str, float | None]] = []
    breaker = CircuitBreaker(
        "srv/m", settings, clock, lambda k, o, n, r, t: events.append((o.value, n.value, t))
    )
    return breaker, clock, events


def fail_n(breaker: CircuitBreaker, n: int, counted: bool = True) -> None:
    for _ in range(n):
        permit = breaker.try_acquire()
        assert permit is not None
        breaker.record_failure(permit, counted, "boom")


def test_opens_after_threshold_consecutive_counted_failures() -> None:
    breaker, _, events = make()
    fail_n(breaker, 2)
    assert breaker.state is BreakerState.CLOSED and breaker.consecutive_failures == 2
    fail_n(breaker, 1)
    assert breaker.state is BreakerState.OPEN
    assert events == [("closed", "open", 30.0)]
    assert breaker.try_acquire() is None


def test_success_resets_the_consecutive_count() -> None:
    breaker, _, events = make()
    fail_n(breaker, 2)
    permit = breaker.try_acquire()
    assert permit is not None
    breaker.record_success(permit)
    fail_n(breaker, 2)
    assert breaker.state is BreakerState.CLOSED and events == []


def test_uncounted_failures_never_trip() -> None:
    breaker, _, events = make()
    fail_n(breaker, 10, counted=False)
    assert breaker.state is BreakerState.CLOSED and events == []


def test_half_open_after_reset_timeout_then_closes_on_probe_success() -> None:
    breaker, clock, events = make()
    fail_n(breaker, 3)
    clock._now += 29.9
    assert breaker.state is BreakerState.OPEN
    assert breaker.reopen_in() is not None and abs(breaker.reopen_in() - 0.1) < 1e-9  # type: ignore[operator]
    clock._now += 0.1
    assert breaker.state is BreakerState.HALF_OPEN
    probe = breaker.try_acquire()
    assert probe is not None and probe.probe
    assert breaker.try_acquire() is None, "only one probe at a time"
    breaker.record_success(probe)
    assert breaker.state is BreakerState.CLOSED
    assert events == [("closed", "open", 30.0), ("open", "half_open", None), ("half_open", "closed", None)]


def test_failed_probe_reopens_with_doubled_timeout_capped() -> None:
    breaker, clock, events = make()
    fail_n(breaker, 3)
    timeouts = []
    for _ in range(6):
        clock._now += 10_000
        probe = breaker.try_acquire()
        assert probe is not None and probe.probe
        breaker.record_failure(probe, True, "still down")
        timeouts.append(events[-1][2])
    assert timeouts == [60.0, 120.0, 240.0, 300.0, 300.0, 300.0]
    assert [e[:2] for e in events[:3]] == [("closed", "open"), ("open", "half_open"), ("half_open", "open")]


def test_success_threshold_needs_m_successes_one_probe_at_a_time() -> None:
    breaker, clock, events = make(
        BreakerSettings(failure_threshold=1, success_threshold=2, reset_timeout_s=5)
    )
    fail_n(breaker, 1)
    clock._now += 5
    first = breaker.try_acquire()
    assert first is not None
    breaker.record_success(first)
    assert breaker.state is BreakerState.HALF_OPEN
    second = breaker.try_acquire()
    assert second is not None and second.probe
    breaker.record_success(second)
    assert breaker.state is BreakerState.CLOSED
    assert [e[1] for e in events] == ["open", "half_open", "closed"]


def test_released_probe_frees_the_slot_without_a_verdict() -> None:
    breaker, clock, _ = make()
    fail_n(breaker, 3)
    clock._now += 30
    probe = breaker.try_acquire()
    assert probe is not None
    breaker.release(probe)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.try_acquire() is not None


def test_stale_permit_cannot_free_a_newer_probe() -> None:
    breaker, clock, _ = make()
    fail_n(breaker, 3)
    clock._now += 30
    old = breaker.try_acquire()
    assert old is not None
    breaker.record_failure(old, False, "not counted")  # frees the slot
    new = breaker.try_acquire()
    assert new is not None
    breaker.release(old)  # a late release of the consumed permit
    assert breaker.try_acquire() is None, "the new probe still holds the slot"


def test_late_results_from_before_a_trip_are_ignored() -> None:
    breaker, _, events = make()
    in_flight = [breaker.try_acquire() for _ in range(5)]
    for permit in in_flight[:3]:
        assert permit is not None
        breaker.record_failure(permit, True, "x")
    for permit in in_flight[3:]:
        assert permit is not None
        breaker.record_failure(permit, True, "late")
    assert len([e for e in events if e[1] == "open"]) == 1


async def test_hundred_concurrent_callers_at_the_reset_instant_send_exactly_one_probe() -> None:
    breaker, clock, _ = make()
    fail_n(breaker, 3)
    await clock.advance(30.0)
    admitted: list[bool] = []
    gate = asyncio.Event()

    async def caller() -> None:
        await gate.wait()
        permit = breaker.try_acquire()
        admitted.append(permit is not None)
        if permit is not None:
            await clock.sleep(1.0)  # the probe takes a while; nobody else may go meanwhile
            breaker.record_success(permit)

    tasks = [asyncio.create_task(caller()) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    await clock.settle()
    assert admitted.count(True) == 1 and len(admitted) == 100
    await clock.advance(1.0)
    await asyncio.gather(*tasks)
    assert breaker.state is BreakerState.CLOSED


def test_reset_closes_and_forgets_trips() -> None:
    breaker, _clock, events = make()
    fail_n(breaker, 3)
    breaker.reset()
    assert breaker.state is BreakerState.CLOSED and breaker.trips == 0
    fail_n(breaker, 3)
    assert events[-1] == ("closed", "open", 30.0), "timeout starts over after a reset"


def test_lowering_the_threshold_live_trips_a_breaker_already_past_it() -> None:
    breaker, _, events = make()
    fail_n(breaker, 2)
    breaker.update_settings(BreakerSettings(failure_threshold=2))
    assert breaker.state is BreakerState.OPEN and events[-1][1] == "open"
