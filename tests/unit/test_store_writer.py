"""StoreWriter: batching, flush/close, failure isolation and the bounded queue (real SQLite, real thread)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from steward.store import EventRecord, Sample, Store, StoreClosedError, open_store


def _event(i: int) -> EventRecord:
    return EventRecord(ts=float(i), type="attempt_started", model_key="srv/m", payload={"i": i})


def _hold_writer(store: Store) -> threading.Event:
    """Park the writer thread inside an operation until the returned gate is set."""
    started, gate = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        gate.wait(10)

    store.writer.submit(hold)
    assert started.wait(10)
    return gate


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_close_commits_everything_queued_before_it(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    for i in range(10_000):
        store.record_event(_event(i))
    store.record_sample(Sample(1.0, "srv/m", 0.1, 1.0, 3, 4, 4.0, "ok"))
    store.close()
    assert _count(tmp_path / "steward.db", "events") == 10_000
    assert _count(tmp_path / "steward.db", "samples") == 1


def test_records_are_committed_in_batches_not_one_commit_each(tmp_path: Path) -> None:
    commits: list[int] = []
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0, on_commit=commits.append)
    gate = _hold_writer(store)
    for i in range(5_000):
        store.record_event(_event(i))
    gate.set()
    store.flush()
    store.close()
    assert commits[-1] == 5_000
    assert len(commits) <= 3


def test_put_after_close_is_dropped_without_raising(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    store.close()
    store.record_event(_event(1))
    assert store.writer_stats.dropped_records == 1
    with pytest.raises(StoreClosedError):
        store.writer.submit(lambda conn: None).result(1)


def test_a_failing_operation_does_not_sink_the_records_of_its_batch(tmp_path: Path) -> None:
    errors: list[str] = []
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0, on_error=errors.append)
    gate = _hold_writer(store)

    def bad(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO quarantines VALUES ('x/y', 'r', 1.0, NULL)")
        raise ValueError("boom")

    store.record_event(_event(1))
    failing = store.writer.submit(bad)
    store.record_event(_event(2))
    gate.set()
    store.flush()
    with pytest.raises(ValueError, match="boom"):
        failing.result(5)
    assert len(store.events()) == 2
    assert store.active_quarantines(0.0) == []  # the op's own write was undone
    assert any("boom" in e for e in errors)
    store.close()


def test_full_queue_drops_and_reports_instead_of_growing(tmp_path: Path) -> None:
    errors: list[str] = []
    store, _ = open_store(
        tmp_path / "steward.db", commit_interval_s=0.0, max_pending=10, on_error=errors.append
    )
    gate = _hold_writer(store)
    for i in range(25):
        store.record_event(_event(i))
    gate.set()
    store.flush()
    stats = store.writer_stats
    store.close()
    assert stats.committed_records == 10
    assert stats.dropped_records == 15
    assert any("dropped" in e for e in errors)


def test_on_commit_reports_the_running_total(tmp_path: Path) -> None:
    totals: list[int] = []
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0, on_commit=totals.append)
    for batch in range(3):
        for i in range(100):
            store.record_event(_event(batch * 100 + i))
        store.flush()
    store.close()
    assert totals == sorted(totals)
    assert totals[-1] == 300
