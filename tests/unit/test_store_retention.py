"""Retention deletes exactly what is older than each limit: a row at the cutoff stays, one before goes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.store import EventRecord, Sample, Store, open_store

DAY = 86_400.0
NOW = 1_700_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    yield st
    st.close()


def _rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(store.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _sample(ts: float) -> Sample:
    return Sample(ts, "srv/a", 0.2, 1.0, 5, 5, 5.0, "ok")


def test_raw_samples_older_than_the_limit_are_deleted_exactly(store: Store) -> None:
    cutoff = NOW - 7 * DAY
    for ts in (cutoff - 3 * DAY, cutoff - 0.001, cutoff, cutoff + 0.001, NOW):
        store.record_sample(_sample(ts))
    store.flush()
    counts = store.enforce_retention(NOW, raw_samples_days=7, minute_aggregates_days=90, events_days=90)
    assert counts.samples_deleted == 2
    assert counts.samples_rolled_up == 2
    assert _rows(store, "SELECT ts FROM samples ORDER BY ts") == [(cutoff,), (cutoff + 0.001,), (NOW,)]


def test_events_older_than_the_limit_are_deleted_exactly(store: Store) -> None:
    cutoff = NOW - 90 * DAY
    for ts in (cutoff - 1.0, cutoff - 0.001, cutoff, NOW):
        store.record_event(EventRecord(ts, "breaker_changed", "srv/a", {}))
    store.flush()
    counts = store.enforce_retention(NOW)
    assert counts.events_deleted == 2
    assert _rows(store, "SELECT ts FROM events ORDER BY ts") == [(cutoff,), (NOW,)]


def test_minute_aggregates_go_when_their_whole_minute_is_past_the_limit(store: Store) -> None:
    minute = 1_690_000_020.0 - (1_690_000_020.0 % 60)
    for ts in (minute + 10, minute + 70, minute + 130):  # three consecutive minutes
        store.record_sample(_sample(ts))
    store.flush()
    store.enforce_retention(minute + 200 + 7 * DAY)  # roll all three into aggregates
    assert len(_rows(store, "SELECT * FROM sample_minutes")) == 3
    # aggregate cutoff lands exactly at the end of the second minute
    now = minute + 120 + 90 * DAY
    counts = store.enforce_retention(now, raw_samples_days=7, minute_aggregates_days=90, events_days=90)
    assert counts.minute_aggregates_deleted == 2
    assert _rows(store, "SELECT minute_ts FROM sample_minutes") == [(int(minute) + 120,)]


def test_nothing_is_deleted_when_everything_is_young(store: Store) -> None:
    store.record_sample(_sample(NOW - 60))
    store.record_event(EventRecord(NOW - 60, "x", None, {}))
    store.flush()
    counts = store.enforce_retention(NOW)
    assert (counts.samples_deleted, counts.minute_aggregates_deleted, counts.events_deleted) == (0, 0, 0)


def test_negative_limits_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        store.enforce_retention(NOW, raw_samples_days=-1)
