"""The SLO/drift watch seeded at start from the store's samples (a real store on disk, written by
the real recorder from engine events): a budget spent before a restart stays spent, drift is judged
against the model's usual level from before the restart, and only the user's traffic counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.slo_watch import KEY, watch

from steward.engine.events import AttemptFailed, Completed, EngineEvent, RequestStarted
from steward.engine.failures import FailureKind
from steward.engine.types import Usage
from steward.recorder import Recorder
from steward.service.model_watch import DriftDetected, SloAlertChanged, seeded_models
from steward.store import Sample, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    yield st
    st.close()


def _events(rid: str, ts: float, ok: bool, ttft: float, source: str, kind: FailureKind) -> list[EngineEvent]:
    events: list[EngineEvent] = [RequestStarted(ts, rid, "sequential", (KEY,), "", source=source)]
    if ok:
        events.append(Completed(ts, rid, KEY, "hi", Usage(10, 20), None, ttft, ttft + 1.0, 1))
    else:
        events.append(AttemptFailed(ts, rid, KEY, 1, kind, "failed", 0.01, False))
    return events


def record(
    store: Store,
    ts: float,
    ok: bool,
    ttft: float = 0.4,
    source: str = "chat",
    kind: FailureKind = FailureKind.CONNECTION_REFUSED,
) -> None:
    """One request as the running app would have recorded it (the real Recorder)."""
    recorder = Recorder(store.writer.put)
    for event in _events(f"{source}{ts}", ts, ok, ttft, source, kind):
        recorder(event)


async def test_a_budget_spent_before_a_restart_is_still_spent_and_a_burning_alert_is_told(
    store: Store,
) -> None:
    w, runtime, clock = watch()
    for i in range(600):  # ten minutes of answers, then three minutes of refusals, just before the restart
        record(store, clock.now - 780 + i, True)
    for i in range(180):
        record(store, clock.now - 180 + i, False)
    store.flush()
    assert await w.seed_from_store(store) == 780
    success = next(s for s in w.slo(KEY) if s.objective == "success")
    assert (success.good, success.total) == (600, 780)
    assert success.budget_left is not None and success.budget_left < 0, "overspent, as before the restart"
    told = [e for e in runtime.engine.published if isinstance(e, SloAlertChanged)]
    assert [(e.model, e.objective, e.alert) for e in told] == [(KEY, "success", "fast")]


async def test_lab_probe_cancelled_and_client_mistakes_from_history_are_not_counted(store: Store) -> None:
    w, _, clock = watch()
    for i in range(50):
        record(store, clock.now - 100 + i, False, source="lab")
        record(store, clock.now - 100 + i, False, source="probe")
        record(store, clock.now - 100 + i, False, kind=FailureKind.CANCELLED)
        record(store, clock.now - 100 + i, False, kind=FailureKind.CONTEXT_OVERFLOW)
        record(store, clock.now - 100 + i, True, source="gateway")
    store.flush()
    assert await w.seed_from_store(store) == 50
    success = next(s for s in w.slo(KEY) if s.objective == "success")
    assert (success.good, success.total) == (50, 50)


async def test_samples_older_than_the_slo_period_are_not_read(store: Store) -> None:
    w, _, clock = watch()
    record(store, clock.now - 8 * 86400, False)
    record(store, clock.now - 10, True)
    store.flush()
    assert await w.seed_from_store(store) == 1


async def test_drift_after_a_restart_is_judged_against_the_usual_level_from_before_it(store: Store) -> None:
    """40 usual answers before the restart, slow ones after: without the history the slow ones
    would only be the new warm-up (the baseline), so nothing would ever be told."""
    seeded, runtime, clock = watch()
    fresh, fresh_runtime, _ = watch()
    for i in range(40):
        record(store, clock.now - 400 + i * 5, True, ttft=0.4)
    store.flush()
    await seeded.seed_from_store(store)
    told_after = None
    for i in range(60):
        clock.now += 2
        for w in (seeded, fresh):
            for event in _events(f"r{i}", clock.now, True, 0.9, "chat", FailureKind.UNKNOWN):
                w(event)
        drifts = [e for e in runtime.engine.published if isinstance(e, DriftDetected)]
        if drifts and told_after is None:
            told_after = i + 1
    assert told_after is not None and told_after <= 20, told_after
    drift = seeded.drift(KEY)
    assert drift is not None and drift.metric == "ttft" and drift.change > 1.0
    assert not [e for e in fresh_runtime.engine.published if isinstance(e, DriftDetected)]


async def test_a_drift_found_in_history_is_kept_for_the_view_but_not_told_again(store: Store) -> None:
    w, runtime, clock = watch()
    for i in range(200):
        record(store, clock.now - 1000 + i * 2, True, ttft=0.4 if i < 100 else 0.9)
    store.flush()
    await w.seed_from_store(store)
    drift = w.drift(KEY)
    assert drift is not None and drift.metric == "ttft"
    assert not [e for e in runtime.engine.published if isinstance(e, DriftDetected)]
    assert runtime.engine.drifts == [], "health is not degraded again by a drift it was told of before"


async def test_answers_that_arrived_while_the_history_was_read_are_kept_once(store: Store) -> None:
    w, _, clock = watch()
    for i in range(20):
        record(store, clock.now - 100 + i, True)
    store.flush()
    history = seeded_models(_stored(store))
    for i in range(5):  # live, after the read: not in the store's rows read above
        clock.now += 1
        for event in _events(f"live{i}", clock.now, False, 0.4, "chat", FailureKind.CONNECTION_REFUSED):
            w(event)
    assert w.seed(history) == 20
    success = next(s for s in w.slo(KEY) if s.objective == "success")
    assert (success.good, success.total) == (20, 25)


async def test_rows_recorded_before_sources_were_kept_count_as_the_users(store: Store) -> None:
    rows = [Sample(1.0, KEY, 0.2, 1.0, 5, 10, None, "ok", None, None)]
    assert [len(m.samples) for m in seeded_models(rows).values()] == [1]


async def test_an_unreadable_store_seeds_nothing_says_why_and_the_watch_still_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    st.close()
    (tmp_path / "steward.db").write_bytes(b"not a database" * 100)
    w, _, clock = watch()
    assert await w.seed_from_store(st) == 0
    assert "not seeded from history" in caplog.text
    for event in _events("live", clock.now, True, 0.4, "chat", FailureKind.UNKNOWN):
        w(event)
    assert next(s for s in w.slo(KEY) if s.objective == "success").total == 1


def _stored(store: Store) -> list[Sample]:
    from steward.store.samples import iter_samples

    with store.reading() as conn:
        return list(iter_samples(conn, None, None))
