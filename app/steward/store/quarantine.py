"""Quarantine state that survives a restart: the SQL.

A manual quarantine with an expiry still in the future is restored on start; an expired one is not
returned and is deleted the first time it is seen expired, so the table never accumulates.
"""

from __future__ import annotations

import sqlite3

from steward.store.records import QuarantineRecord


def save(conn: sqlite3.Connection, record: QuarantineRecord) -> None:
    conn.execute(
        "INSERT INTO quarantines (model_key, reason, since_ts, expires_ts) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (model_key) DO UPDATE SET reason = excluded.reason, since_ts = excluded.since_ts,"
        " expires_ts = excluded.expires_ts",
        (record.model_key, record.reason, record.since_ts, record.expires_ts),
    )


def clear(conn: sqlite3.Connection, model_key: str) -> bool:
    return conn.execute("DELETE FROM quarantines WHERE model_key = ?", (model_key,)).rowcount > 0


def take_active(conn: sqlite3.Connection, now_ts: float) -> list[QuarantineRecord]:
    """Delete quarantines with `expires_ts <= now_ts` and return the rest (run on the writer)."""
    conn.execute("DELETE FROM quarantines WHERE expires_ts IS NOT NULL AND expires_ts <= ?", (now_ts,))
    rows = conn.execute("SELECT model_key, reason, since_ts, expires_ts FROM quarantines ORDER BY model_key")
    return [QuarantineRecord(*row) for row in rows]
