"""The writer under real adversity: a full database (tiny `max_page_count`) and sustained load.

A full disk must surface as an `on_error` call, never as an exception on the caller's thread, and the
writer must keep working once space is back. Under load it must not commit more than ~10 times a second.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

from steward.store import EventRecord, Store, open_store


def _page_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA page_count").fetchone()[0])


def _set_max_pages(store: Store, pages: int) -> None:
    store.writer.call(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}").fetchall())


def test_full_disk_reports_an_error_drops_the_batch_and_the_writer_carries_on(tmp_path: Path) -> None:
    errors: list[str] = []
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.01, on_error=errors.append)
    pages = store.writer.call(_page_count)
    _set_max_pages(store, pages + 2)

    for i in range(2000):  # ~1 MB of payload into a database capped at two more pages
        store.record_event(EventRecord(float(i), "attempt_failed", "srv/a", {"detail": "y" * 500}))
    assert store.flush()

    assert store.writer.alive
    assert any("full" in e for e in errors), errors
    stats = store.writer_stats
    assert stats.dropped_records > 0
    assert stats.committed_records + stats.dropped_records == 2000

    # space comes back: the same writer commits again
    _set_max_pages(store, 1_000_000)
    store.record_event(EventRecord(9999.0, "disk_ok", None, {}))
    assert store.flush()
    assert [e.type for e in store.events(types=["disk_ok"])] == ["disk_ok"]
    store.save_quarantine("srv/a", "still works", 1.0, None)
    assert [q.model_key for q in store.active_quarantines(2.0)] == ["srv/a"]
    store.close()


def test_chat_write_on_a_full_disk_fails_visibly_but_not_on_the_callers_thread(tmp_path: Path) -> None:
    errors: list[str] = []
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0, on_error=errors.append)
    _set_max_pages(store, store.writer.call(_page_count))
    store.create_session("x" * 50_000, now_ts=1.0)  # must not raise here
    assert store.flush()
    assert errors
    assert store.writer.alive
    store.close()


def test_sustained_load_commits_at_most_ten_times_a_second_and_loses_nothing(tmp_path: Path) -> None:
    commits: list[float] = []
    store, _ = open_store(tmp_path / "steward.db", on_commit=lambda total: commits.append(time.monotonic()))
    stop = threading.Event()
    sent = 0

    def produce() -> None:
        nonlocal sent
        while not stop.is_set():
            for _ in range(20):
                store.record_event(EventRecord(float(sent), "token", "srv/a", {"n": sent}))
                sent += 1
            time.sleep(0.005)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(1.5)
    stop.set()
    producer.join()
    store.close()

    gaps = [b - a for a, b in itertools.pairwise(commits)]
    assert len(commits) <= 17  # 1.5 s at ≤ 10/s, plus the first and the closing flush
    assert min(gaps) >= 0.099
    assert store.writer_stats.committed_records == sent


def test_every_operation_of_a_batch_lost_to_a_full_disk_gets_an_answer(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    _set_max_pages(store, store.writer.call(_page_count))
    started, gate = threading.Event(), threading.Event()

    def hold(conn: sqlite3.Connection) -> None:
        started.set()
        gate.wait(10)

    store.writer.submit(hold)
    assert started.wait(10)
    for i in range(500):  # these records fill the disk first, inside the same batch as the operations
        store.record_event(EventRecord(float(i), "x", None, {"detail": "z" * 500}))
    first = store.writer.submit(lambda conn: conn.execute("SELECT 1").fetchone())
    second = store.writer.submit(lambda conn: conn.execute("SELECT 2").fetchone())
    gate.set()
    assert store.flush()
    for future in (first, second):
        assert future.done()
        error = future.exception(0)
        assert isinstance(error, sqlite3.OperationalError)
        assert "full" in str(error)
    assert store.writer.alive
    store.close()
