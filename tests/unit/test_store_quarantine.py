"""Quarantine state survives a restart while it is in force; expired entries are dropped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from steward.store import QuarantineRecord, open_store

NOW = 1_700_000_000.0


def test_quarantine_with_time_left_is_restored_after_reopening_and_expired_one_is_not(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    store, _ = open_store(path, commit_interval_s=0.0)
    store.save_quarantine("srv/a", "manual: flaky", since_ts=NOW - 3000, expires_ts=NOW + 600)
    store.save_quarantine("srv/b", "manual: old", since_ts=NOW - 4000, expires_ts=NOW - 1)
    store.save_quarantine("srv/c", "manual: until released", since_ts=NOW - 10)
    store.close()

    reopened, warnings = open_store(path, commit_interval_s=0.0)
    assert warnings == []
    assert reopened.active_quarantines(NOW) == [
        QuarantineRecord("srv/a", "manual: flaky", NOW - 3000, NOW + 600),
        QuarantineRecord("srv/c", "manual: until released", NOW - 10, None),
    ]
    reopened.close()
    conn = sqlite3.connect(path)
    keys = [r[0] for r in conn.execute("SELECT model_key FROM quarantines ORDER BY model_key")]
    conn.close()
    assert keys == ["srv/a", "srv/c"]  # the expired row was deleted, not merely hidden


def test_quarantine_expiring_exactly_now_is_not_restored(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    store.save_quarantine("srv/a", "r", since_ts=NOW - 600, expires_ts=NOW)
    assert store.active_quarantines(NOW) == []
    store.close()


def test_cleared_quarantine_is_gone_and_saving_again_replaces(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    store.save_quarantine("srv/a", "first", since_ts=NOW, expires_ts=None)
    store.save_quarantine("srv/a", "second", since_ts=NOW + 1, expires_ts=NOW + 100)
    assert store.active_quarantines(NOW + 2) == [QuarantineRecord("srv/a", "second", NOW + 1, NOW + 100)]
    store.clear_quarantine("srv/a")
    assert store.active_quarantines(NOW + 2) == []
    store.close()
