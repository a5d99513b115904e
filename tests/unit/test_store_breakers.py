"""Open circuits survive a restart: restored open or half-open-ready, forgotten once stale or closed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from steward.store import SCHEMA_VERSION, BreakerRecord, open_store
from steward.store.schema import MIGRATIONS, migrate

NOW = 1_700_000_000.0
DAY = 86_400.0


def test_open_circuits_come_back_after_reopening_and_stale_ones_are_deleted(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    store, _ = open_store(path, commit_interval_s=0.0)
    store.save_breaker("srv/a", "3 consecutive failures", opened_ts=NOW - 20, reopen_ts=NOW + 40, trips=2)
    store.save_breaker("srv/b", "probe failed", opened_ts=NOW - 100, reopen_ts=NOW - 70, trips=3)
    store.save_breaker("srv/c", "old", opened_ts=NOW - DAY - 60, reopen_ts=NOW - DAY - 30, trips=1)
    store.close()

    reopened, warnings = open_store(path, commit_interval_s=0.0)
    assert warnings == []
    records = reopened.remembered_breakers(NOW)
    assert records == [
        BreakerRecord("srv/a", "3 consecutive failures", NOW - 20, NOW + 40, 2),
        BreakerRecord("srv/b", "probe failed", NOW - 100, NOW - 70, 3),  # half-open-ready, trips kept
    ]
    assert [r.reopen_in(NOW) for r in records] == [40.0, 0.0]
    reopened.close()
    conn = sqlite3.connect(path)
    keys = [r[0] for r in conn.execute("SELECT model_key FROM breakers ORDER BY model_key")]
    conn.close()
    assert keys == ["srv/a", "srv/b"]  # the stale row was deleted, not merely hidden


def test_forget_after_is_a_parameter_and_its_boundary_forgets(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    store.save_breaker("srv/a", "r", opened_ts=NOW - 90, reopen_ts=NOW - 60, trips=1)
    assert [r.model_key for r in store.remembered_breakers(NOW, forget_after_s=61)] == ["srv/a"]
    assert store.remembered_breakers(NOW, forget_after_s=60) == []
    store.close()


def test_cleared_circuit_is_gone_and_saving_again_replaces(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    store.save_breaker("srv/a", "first", opened_ts=NOW, reopen_ts=NOW + 30, trips=1)
    store.save_breaker("srv/a", "probe failed", opened_ts=NOW + 40, reopen_ts=NOW + 100, trips=2)
    assert store.remembered_breakers(NOW + 50) == [
        BreakerRecord("srv/a", "probe failed", NOW + 40, NOW + 100, 2)
    ]
    store.clear_breaker("srv/a")
    store.clear_breaker("srv/never")  # clearing what is not there is harmless
    assert store.remembered_breakers(NOW + 50) == []
    store.close()


def test_a_version_1_database_gains_the_breakers_table_and_keeps_its_quarantines(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("COMMIT")
    conn.execute("INSERT INTO quarantines VALUES ('srv/q', 'manual', ?, NULL)", (NOW,))
    conn.close()

    store, warnings = open_store(path, commit_interval_s=0.0)
    assert warnings == []
    assert [q.model_key for q in store.active_quarantines(NOW)] == ["srv/q"]
    store.save_breaker("srv/a", "r", opened_ts=NOW, reopen_ts=NOW + 30, trips=1)
    assert [r.model_key for r in store.remembered_breakers(NOW)] == ["srv/a"]
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert migrate(conn) == 0  # already current
    conn.close()
