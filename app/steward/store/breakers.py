"""Open circuits that survive a restart: the SQL.

A row is written when a circuit opens and deleted when it closes (or is reset), so consecutive runs
skip a model known to be dead until it half-opens. A closed circuit's consecutive failures are kept
too (trips 0), so one failure per short CLI run still adds up to a trip. `reopen_ts` is wall-clock: the engine's monotonic
clock means nothing after a restart. A row whose reopen time has passed is still returned (the
circuit comes back half-open, its trip count intact) until it is `forget_after_s` stale; then it is
deleted the first time it is seen, so the table never accumulates rows for models that never return.
"""

from __future__ import annotations

import sqlite3

from steward.store.records import BreakerRecord

FORGET_AFTER_S = 86_400.0
"""A circuit that half-opened more than a day ago is forgotten rather than restored."""


def save(conn: sqlite3.Connection, record: BreakerRecord) -> None:
    conn.execute(
        "INSERT INTO breakers (model_key, reason, opened_ts, reopen_ts, trips, failures)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (model_key) DO UPDATE SET reason = excluded.reason, opened_ts = excluded.opened_ts,"
        " reopen_ts = excluded.reopen_ts, trips = excluded.trips, failures = excluded.failures",
        (record.model_key, record.reason, record.opened_ts, record.reopen_ts, record.trips, record.failures),
    )


def clear(conn: sqlite3.Connection, model_key: str) -> bool:
    return conn.execute("DELETE FROM breakers WHERE model_key = ?", (model_key,)).rowcount > 0


def take_remembered(conn: sqlite3.Connection, now_ts: float, forget_after_s: float) -> list[BreakerRecord]:
    """Delete circuits that half-opened more than `forget_after_s` before `now_ts`; return the rest
    (still open or half-open-ready) by model key. Run on the writer."""
    conn.execute("DELETE FROM breakers WHERE reopen_ts <= ?", (now_ts - forget_after_s,))
    rows = conn.execute(
        "SELECT model_key, reason, opened_ts, reopen_ts, trips, failures FROM breakers ORDER BY model_key"
    )
    return [BreakerRecord(*row) for row in rows]
