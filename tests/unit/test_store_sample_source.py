"""Samples keep who asked (chat, gateway, cli, lab, probe): the recorder tags them from the
request's RequestStarted, and a database from before (schema 2) gains the column, its old rows
reading back with no source."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from steward.engine.events import AttemptFailed, Completed, RequestStarted
from steward.engine.failures import FailureKind
from steward.recorder import Recorder
from steward.store import SCHEMA_VERSION, open_store
from steward.store.samples import iter_samples
from steward.store.schema import MIGRATIONS

KEY = "small/m"


def test_the_recorder_tags_each_sample_with_the_source_of_its_request(tmp_path: Path) -> None:
    store, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    recorder = Recorder(store.writer.put)
    for rid, source in (("g", "gateway"), ("l", "lab"), ("c", "cli")):
        recorder(RequestStarted(1.0, rid, "sequential", (KEY,), "", source=source))
    recorder(AttemptFailed(2.0, "g", KEY, 1, FailureKind.CONNECTION_REFUSED, "refused", 0.01, True))
    recorder(Completed(3.0, "g", KEY, "hi", None, None, 0.1, 0.2, 2))
    recorder(Completed(4.0, "l", KEY, "hi", None, None, 0.1, 0.2, 1))
    recorder(Completed(5.0, "c", KEY, "hi", None, None, 0.1, 0.2, 1))
    store.flush()
    with store.reading() as conn:
        rows = [(s.outcome, s.source) for s in iter_samples(conn, None, None)]
    store.close()
    assert rows == [("failed", "gateway"), ("ok", "gateway"), ("ok", "lab"), ("ok", "cli")]


def test_a_schema_2_database_gains_the_source_column_and_keeps_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.execute(
        "INSERT INTO samples (ts, model_key, ttft_s, total_s, outcome) VALUES (1.0, ?, 0.1, 0.5, 'ok')",
        (KEY,),
    )
    conn.close()

    store, warnings = open_store(path, commit_interval_s=0.0)
    assert warnings == []
    with store.reading() as conn:
        old = list(iter_samples(conn, None, None))
        version = conn.execute("PRAGMA user_version").fetchone()
    store.close()
    assert version == (SCHEMA_VERSION,) == (3,)
    assert [(s.ts, s.outcome, s.source) for s in old] == [(1.0, "ok", None)]
