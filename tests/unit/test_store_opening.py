"""Opening: fresh schema in WAL mode, damaged files moved aside with a warning, newer schemas refused."""

from __future__ import annotations

import os
import random
import sqlite3
import time
from pathlib import Path

import platformdirs
import pytest

from steward.store import (
    SCHEMA_VERSION,
    EventRecord,
    SchemaTooNewError,
    check_database,
    default_db_path,
    open_store,
)

STAMP_TS = time.mktime((2024, 3, 5, 14, 7, 9, 0, 0, -1))  # local time 2024-03-05 14:07:09


def test_fresh_database_is_wal_and_at_the_current_schema_version(tmp_path: Path) -> None:
    store, warnings = open_store(tmp_path / "sub" / "steward.db")
    store.close()
    assert warnings == []
    conn = sqlite3.connect(tmp_path / "sub" / "steward.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_garbage_file_is_moved_aside_with_its_wal_and_a_fresh_database_works(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    garbage = random.Random(7).randbytes(64 * 1024)
    path.write_bytes(garbage)
    (tmp_path / "steward.db-wal").write_bytes(b"not a wal either")

    store, warnings = open_store(path, commit_interval_s=0.0, wall_clock=lambda: STAMP_TS)
    store.record_event(EventRecord(1.0, "app_started", None, {}))
    store.flush()
    assert len(store.events()) == 1
    store.close()

    aside = tmp_path / "steward.db.corrupt-20240305-140709"
    assert aside.read_bytes() == garbage
    assert (tmp_path / "steward.db.corrupt-20240305-140709-wal").read_bytes() == b"not a wal either"
    assert len(warnings) == 1
    assert str(aside) in warnings[0]
    assert check_database(path, full=True) is None


def test_database_with_broken_pages_fails_its_check_and_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    store, _ = open_store(path, commit_interval_s=0.0)
    for i in range(3000):
        store.record_event(EventRecord(float(i), "attempt_failed", "srv/a", {"detail": "x" * 100, "i": i}))
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    for page in range(3, len(data) // page_size, 7):  # trash every 7th page, keep the header intact
        data[page * page_size : page * page_size + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    assert check_database(path) is not None

    reopened, warnings = open_store(path, commit_interval_s=0.0, wall_clock=lambda: STAMP_TS)
    assert reopened.events() == []
    reopened.close()
    assert len(warnings) == 1
    assert (tmp_path / "steward.db.corrupt-20240305-140709").exists()


def test_second_damage_in_the_same_second_gets_its_own_aside_name(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    for _ in range(2):
        path.write_bytes(b"garbage" * 1000)
        store, warnings = open_store(path, wall_clock=lambda: STAMP_TS)
        store.close()
        assert len(warnings) == 1
    assert (tmp_path / "steward.db.corrupt-20240305-140709").exists()
    assert (tmp_path / "steward.db.corrupt-20240305-140709-2").exists()


def test_database_from_a_newer_steward_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "steward.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError):
        open_store(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


def test_location_defaults_to_platform_data_dir_and_env_overrides(tmp_path: Path) -> None:
    assert default_db_path({}) == Path(platformdirs.user_data_dir("steward", appauthor=False)) / "steward.db"
    assert default_db_path({"STEWARD_DATA_DIR": str(tmp_path)}) == tmp_path / "steward.db"


def test_open_store_uses_the_env_location(tmp_path: Path) -> None:
    store, _ = open_store(env={"STEWARD_DATA_DIR": os.fspath(tmp_path / "data")})
    store.close()
    assert store.path == tmp_path / "data" / "steward.db"
    assert store.path.exists()
