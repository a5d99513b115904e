"""`Store`: the one object the rest of Steward holds for persistence.

It routes every write through the `StoreWriter` thread and every read through a separate read-only
connection. Methods fall in two groups:

* non-blocking (safe on the GUI/event-loop thread): `record_sample`, `record_event`,
  `create_session`, `append_message`, `rename_session`, `save_quarantine`, `clear_quarantine`,
  `save_breaker`, `clear_breaker`;
* blocking (call from a thread executor): every read, `flush`, `close`, `delete_session`,
  `active_quarantines`, `remembered_breakers`, `enforce_retention`.

Chat reads flush first, so a chat read sees the chat writes made before it.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from steward.store import breakers, chats, quarantine
from steward.store.events import query_events
from steward.store.records import (
    BreakerRecord,
    ChatMessage,
    ChatSession,
    ChatSessionInfo,
    EventRecord,
    QuarantineRecord,
    RetentionCounts,
    Sample,
    SamplesWindow,
)
from steward.store.retention import (
    DEFAULT_EVENTS_DAYS,
    DEFAULT_MINUTE_AGGREGATES_DAYS,
    DEFAULT_RAW_SAMPLES_DAYS,
    apply_retention,
)
from steward.store.samples import RAW_WINDOW_S
from steward.store.samples import samples_window as _samples_window
from steward.store.writer import StoreWriter, WriterStats


def connect_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection usable from any thread (callers serialise access)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


class Store:
    """History database handle. Build it with `open_store()`; close it on shutdown."""

    def __init__(self, path: Path, writer: StoreWriter) -> None:
        self._path = path
        self._writer = writer
        self._reader = connect_reader(path)
        self._read_lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def writer(self) -> StoreWriter:
        return self._writer

    @property
    def writer_stats(self) -> WriterStats:
        return self._writer.stats

    # -- lifecycle ---------------------------------------------------------------------------------

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything written so far is committed. Blocking."""
        return self._writer.flush(timeout)

    def close(self) -> None:
        """Flush, stop the writer, close both connections. Blocking; idempotent."""
        self._writer.close()
        with self._read_lock:
            self._reader.close()

    @contextmanager
    def reading(self, dedicated: bool = False) -> Iterator[sqlite3.Connection]:
        """A read connection: the shared one (under a lock), or a fresh one for long scans (export)
        so chart reads are not held up."""
        if dedicated:
            conn = connect_reader(self._path)
            try:
                yield conn
            finally:
                conn.close()
        else:
            with self._read_lock:
                yield self._reader

    # -- samples and events ------------------------------------------------------------------------

    def record_sample(self, sample: Sample) -> None:
        """Queue a sample. Non-blocking."""
        self._writer.put(sample)

    def record_event(self, event: EventRecord) -> None:
        """Queue an audit-trail event. Non-blocking."""
        self._writer.put(event)

    def samples_window(
        self,
        model_key: str | None,
        since: float,
        until: float,
        bucket_s: int | None = None,
        raw_window_s: float = RAW_WINDOW_S,
    ) -> SamplesWindow:
        """Raw samples for the final hour of `[since, until)`, minute (or `bucket_s`) buckets before."""
        with self.reading() as conn:
            return _samples_window(conn, model_key, since, until, bucket_s, raw_window_s)

    def events(
        self,
        since: float | None = None,
        until: float | None = None,
        types: Sequence[str] | None = None,
        model_key: str | None = None,
        text: str | None = None,
        limit: int = 1000,
        newest_first: bool = True,
    ) -> list[EventRecord]:
        """Audit-trail query; see `steward.store.events.query_events`."""
        with self.reading() as conn:
            return query_events(conn, since, until, types, model_key, text, limit, newest_first)

    # -- chats -------------------------------------------------------------------------------------

    def create_session(self, title: str, now_ts: float) -> str:
        """Create a chat session and return its id at once (the row is written in the background)."""
        session_id = uuid.uuid4().hex
        self._writer.submit(lambda conn: chats.insert_session(conn, session_id, title, now_ts))
        return session_id

    def append_message(self, message: ChatMessage) -> None:
        """Queue one chat message (with its attempt chain and context events). Non-blocking."""
        self._writer.submit(lambda conn: chats.insert_message(conn, message))

    def rename_session(self, session_id: str, title: str, now_ts: float) -> None:
        self._writer.submit(lambda conn: chats.rename(conn, session_id, title, now_ts))

    def list_sessions(self) -> list[ChatSessionInfo]:
        self.flush()
        with self.reading() as conn:
            return chats.list_all(conn)

    def load_session(self, session_id: str) -> ChatSession | None:
        self.flush()
        with self.reading() as conn:
            return chats.load(conn, session_id)

    def delete_session(self, session_id: str) -> bool:
        """Really delete a session and its messages: rows go, secure_delete zeroes their pages and a
        WAL checkpoint (TRUNCATE) removes the old copies from the log. Blocking."""
        deleted = self._writer.call(lambda conn: chats.delete(conn, session_id))
        self._writer.submit(_checkpoint, in_transaction=False).result(30.0)
        return deleted

    # -- quarantine --------------------------------------------------------------------------------

    def save_quarantine(
        self, model_key: str, reason: str, since_ts: float, expires_ts: float | None = None
    ) -> None:
        """Persist a quarantine (replacing any for the same model). Non-blocking."""
        record = QuarantineRecord(model_key, reason, since_ts, expires_ts)
        self._writer.submit(lambda conn: quarantine.save(conn, record))

    def clear_quarantine(self, model_key: str) -> None:
        self._writer.submit(lambda conn: quarantine.clear(conn, model_key))

    def active_quarantines(self, now_ts: float) -> list[QuarantineRecord]:
        """Quarantines still in force at `now_ts`; expired ones are deleted. Blocking."""
        return self._writer.call(lambda conn: quarantine.take_active(conn, now_ts))

    # -- open circuits -----------------------------------------------------------------------------

    def save_breaker(
        self, model_key: str, reason: str, opened_ts: float, reopen_ts: float, trips: int, failures: int = 0
    ) -> None:
        """Persist an open circuit, or a closed one's failures (replacing any for the same model).
        Non-blocking."""
        record = BreakerRecord(model_key, reason, opened_ts, reopen_ts, trips, failures)
        self._writer.submit(lambda conn: breakers.save(conn, record))

    def clear_breaker(self, model_key: str) -> None:
        """Forget a circuit that closed or was reset. Non-blocking."""
        self._writer.submit(lambda conn: breakers.clear(conn, model_key))

    def remembered_breakers(
        self, now_ts: float, forget_after_s: float = breakers.FORGET_AFTER_S
    ) -> list[BreakerRecord]:
        """Circuits to restore at `now_ts`: still open, or half-open-ready (reopen time passed less
        than `forget_after_s` ago); staler ones are deleted. Blocking."""
        return self._writer.call(lambda conn: breakers.take_remembered(conn, now_ts, forget_after_s))

    # -- retention ---------------------------------------------------------------------------------

    def enforce_retention(
        self,
        now_ts: float,
        raw_samples_days: float = DEFAULT_RAW_SAMPLES_DAYS,
        minute_aggregates_days: float = DEFAULT_MINUTE_AGGREGATES_DAYS,
        events_days: float = DEFAULT_EVENTS_DAYS,
    ) -> RetentionCounts:
        """One retention pass on the writer thread (one transaction). Blocking."""
        return self._writer.call(
            lambda conn: apply_retention(conn, now_ts, raw_samples_days, minute_aggregates_days, events_days),
            timeout=300.0,
        )


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
