"""The database schema as an append-only list of migrations, tracked in `PRAGMA user_version`.

Each migration runs in its own transaction and bumps `user_version`, so a crash mid-upgrade leaves
the database at the last complete version. Never edit a released migration; append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: samples, minute aggregates, events, chats, quarantines.
    (
        """CREATE TABLE samples (
            ts REAL NOT NULL,
            model_key TEXT NOT NULL,
            ttft_s REAL,
            total_s REAL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            tokens_per_s REAL,
            outcome TEXT NOT NULL,
            failure_kind TEXT
        )""",
        "CREATE INDEX samples_ts ON samples(ts)",
        "CREATE INDEX samples_model_ts ON samples(model_key, ts)",
        """CREATE TABLE sample_minutes (
            model_key TEXT NOT NULL,
            minute_ts INTEGER NOT NULL,
            count INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            failed INTEGER NOT NULL,
            cancelled INTEGER NOT NULL,
            ttft_n INTEGER NOT NULL,
            ttft_sum REAL NOT NULL,
            ttft_max REAL,
            ttft_p95 REAL,
            total_n INTEGER NOT NULL,
            total_sum REAL NOT NULL,
            total_max REAL,
            total_p95 REAL,
            tps_n INTEGER NOT NULL,
            tps_sum REAL NOT NULL,
            tps_max REAL,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            PRIMARY KEY (model_key, minute_ts)
        ) WITHOUT ROWID""",
        "CREATE INDEX sample_minutes_ts ON sample_minutes(minute_ts)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            type TEXT NOT NULL,
            model_key TEXT,
            payload TEXT NOT NULL
        )""",
        "CREATE INDEX events_ts ON events(ts)",
        "CREATE INDEX events_type_ts ON events(type, ts)",
        "CREATE INDEX events_model_ts ON events(model_key, ts)",
        """CREATE TABLE chat_sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            created REAL NOT NULL,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE chat_messages (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL,
            model_key TEXT,
            attempts TEXT NOT NULL,
            context TEXT NOT NULL,
            ts REAL NOT NULL
        )""",
        "CREATE INDEX chat_messages_session ON chat_messages(session_id, id)",
        """CREATE TABLE quarantines (
            model_key TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            since_ts REAL NOT NULL,
            expires_ts REAL
        )""",
    ),
    # 2: open circuits, so consecutive runs keep skipping a model known to be dead.
    (
        """CREATE TABLE breakers (
            model_key TEXT PRIMARY KEY,
            reason TEXT NOT NULL,
            opened_ts REAL NOT NULL,
            reopen_ts REAL NOT NULL,
            trips INTEGER NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0
        )""",
    ),
    # 3: which front end asked (chat, gateway, cli, lab, probe), so the SLO/drift watch can be seeded
    # from the user's own traffic at start. Rows written before have NULL (not known).
    ("ALTER TABLE samples ADD COLUMN source TEXT",),
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer Steward; we refuse to touch it rather than damage it."""


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns how many migrations ran.

    `conn` must be in autocommit mode (isolation_level=None) so the explicit transactions here are
    the only ones.
    """
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {current} is newer than this Steward understands ({SCHEMA_VERSION})"
        )
    ran = 0
    for version in range(current + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        ran += 1
    return ran
