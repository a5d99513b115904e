"""The single writer: a queue drained by one background thread that commits in batches.

Why: the engine and the GUI must never wait for the disk, and one commit per event would cost an
fsync-class operation per token-level event. Callers append to a deque (a few hundred nanoseconds,
no lock on the fast path); the thread wakes, drains everything queued, writes it in ONE transaction
and commits, at most once per `commit_interval_s` (default 0.1 s → ≤ 10 commits/s).

Failure policy: a batch that fails (full disk, I/O error, `sqlite3.OperationalError` of any kind) is
rolled back and DROPPED, `on_error(message)` is called, the drop is counted in `stats`, and the thread
carries on with the next batch. Retrying would only grow memory while the disk stays full, and the
audit trail prefers a visible gap to an unbounded queue. The queue is bounded too (`max_pending`);
overflow is dropped and reported the same way. Nothing here ever raises into the caller of `put`.

Callbacks (`on_error`, `on_commit`) run on the writer thread; marshal them to your event loop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from steward.store.records import Deferred, EventRecord, Sample

T = TypeVar("T")

_log = logging.getLogger(__name__)
# Under load a quarter second of events is thousands of records. The writer hands the GIL back
# every few dozen of them, so the event loop never waits the interpreter's 5 ms switch interval.
_YIELD_EVERY = 32  # records turned into rows between two releases of the GIL
_ROWS_PER_STATEMENT = 256  # rows per executemany between two releases


def _gil_breaks(items: list[T]) -> Iterator[T]:
    """`items`, releasing the GIL (sleep(0)) after every `_YIELD_EVERY` of them."""
    for index, item in enumerate(items):
        if index % _YIELD_EVERY == _YIELD_EVERY - 1:
            time.sleep(0)
        yield item


_INSERT_SAMPLE = (
    "INSERT INTO samples (ts, model_key, ttft_s, total_s, prompt_tokens, completion_tokens, tokens_per_s,"
    " outcome, failure_kind, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = "INSERT INTO events (ts, type, model_key, payload) VALUES (?, ?, ?, ?)"


class StoreClosedError(RuntimeError):
    """The writer was closed before this operation could run."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    committed_records: int
    committed_batches: int
    dropped_records: int
    failed_batches: int
    pending: int


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    future: Future[Any]
    in_transaction: bool


@dataclass(slots=True)
class _Marker:
    done: threading.Event
    stop: bool = False


def connect_writer(path: Path) -> sqlite3.Connection:
    """The writer's connection: WAL, NORMAL sync (durable against a killed process, not power loss),
    secure_delete so deleted chats do not linger in free pages."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


# One encoder, built once: json.dumps() with options builds a new JSONEncoder on every call.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


class StoreWriter:
    """Owns the only write connection. Thread-safe `put`/`submit`/`flush`/`close`."""

    def __init__(
        self,
        path: Path,
        *,
        commit_interval_s: float = 0.1,
        max_pending: int = 200_000,
        max_batch: int = 20_000,
        on_error: Callable[[str], None] | None = None,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        """Opens the connection on the calling thread (so a bad path raises here) and starts the thread.

        `on_commit(total_records_committed)` is called after every successful commit.
        """
        self._conn = connect_writer(path)
        self._interval = commit_interval_s
        self._max_pending = max_pending
        self._max_batch = max_batch
        self._on_error = on_error
        self._on_commit = on_commit
        self._items: deque[object] = deque()
        self._wake = threading.Event()
        self._idle = False
        self._closed = False
        self._overflow = 0
        self._overflow_reported = 0
        self._committed_records = 0
        self._committed_batches = 0
        self._dropped_records = 0
        self._failed_batches = 0
        self._thread = threading.Thread(target=self._run, name="steward-store-writer", daemon=True)
        self._thread.start()

    # -- caller side -------------------------------------------------------------------------------

    def put(self, record: Sample | EventRecord | Deferred) -> None:
        """Queue one record. Never blocks, never raises; drops (and later reports) when full or closed."""
        items = self._items
        if self._closed or len(items) >= self._max_pending:
            self._overflow += 1
            return
        items.append(record)
        if self._idle:
            self._wake.set()

    def submit(self, fn: Callable[[sqlite3.Connection], T], *, in_transaction: bool = True) -> Future[T]:
        """Run `fn(conn)` on the writer thread, in order with queued records.

        With `in_transaction` it runs inside the batch transaction (in its own savepoint, so its
        failure does not sink the batch); otherwise after the commit (for checkpoints, VACUUM).
        Failures are both set on the future and reported through `on_error`.
        """
        future: Future[T] = Future()
        if self._closed:
            future.set_exception(StoreClosedError("store writer is closed"))
            return future
        self._items.append(_Op(fn, future, in_transaction))
        self._wake.set()
        return future

    def call(self, fn: Callable[[sqlite3.Connection], T], *, timeout: float | None = 30.0) -> T:
        """`submit` and wait for the result (blocking: call from a worker thread, not the GUI)."""
        return self.submit(fn).result(timeout)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued before this call is committed (or dropped). False on timeout."""
        if not self._thread.is_alive():
            return not self._items
        marker = _Marker(threading.Event())
        self._items.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Flush everything queued, stop the thread and close the connection. Idempotent."""
        if not self._closed:
            self._closed = True
            self._items.append(_Marker(threading.Event(), stop=True))
            self._wake.set()
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def stats(self) -> WriterStats:
        return WriterStats(
            committed_records=self._committed_records,
            committed_batches=self._committed_batches,
            dropped_records=self._dropped_records + self._overflow,
            failed_batches=self._failed_batches,
            pending=len(self._items),
        )

    # -- writer thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        last_commit = float("-inf")
        try:
            while True:
                if not self._items:
                    # Clear before announcing idle so a put() racing with us is never lost.
                    self._wake.clear()
                    self._idle = True
                    if not self._items:
                        self._wake.wait(1.0)
                    self._idle = False
                    continue
                wait = last_commit + self._interval - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                batch = self._drain()
                try:
                    stop = self._process(batch)
                except Exception as exc:  # a bug must not kill the only writer
                    _log.exception("store writer batch crashed")
                    self._report(f"store writer error: {exc!r}")
                    stop = any(isinstance(i, _Marker) and i.stop for i in batch)
                    for item in batch:
                        if isinstance(item, _Marker):
                            item.done.set()
                        elif isinstance(item, _Op) and not item.future.done():
                            item.future.set_exception(exc)
                last_commit = time.monotonic()
                self._report_overflow()
                if stop:
                    break
        finally:
            self._fail_leftovers()
            self._conn.close()

    @staticmethod
    def _expand(batch: list[object]) -> list[object]:
        """Deferred records made here, on the writer thread; one that fails is logged and skipped."""
        if not any(type(item) is Deferred for item in batch):
            return batch
        expanded: list[object] = []
        for item in _gil_breaks(batch):
            if type(item) is Deferred:
                try:
                    expanded.extend(item.make())
                except Exception:
                    _log.exception("a deferred record could not be made")
            else:
                expanded.append(item)
        return expanded

    def _drain(self) -> list[object]:
        items = self._items
        n = min(len(items), self._max_batch)
        return [items.popleft() for _ in range(n)]

    def _process(self, batch: list[object]) -> bool:
        batch = self._expand(batch)
        samples: list[tuple[object, ...]] = []
        events: list[tuple[object, ...]] = []
        tx_ops: list[_Op] = []
        post_ops: list[_Op] = []
        markers: list[_Marker] = []
        for item in _gil_breaks(batch):
            if type(item) is EventRecord:
                events.append((item.ts, item.type, item.model_key, _json(item.payload)))
            elif type(item) is Sample:
                samples.append(
                    (
                        item.ts,
                        item.model_key,
                        item.ttft_s,
                        item.total_s,
                        item.prompt_tokens,
                        item.completion_tokens,
                        item.tokens_per_s,
                        item.outcome,
                        item.failure_kind,
                        item.source,
                    )
                )
            elif isinstance(item, _Op):
                (tx_ops if item.in_transaction else post_ops).append(item)
            elif isinstance(item, _Marker):
                markers.append(item)
        if samples or events or tx_ops:
            self._commit_batch(samples, events, tx_ops)
        for op in post_ops:
            self._run_op(op, savepoint=False)
        for marker in markers:
            marker.done.set()
        return any(m.stop for m in markers)

    def _commit_batch(
        self, samples: list[tuple[object, ...]], events: list[tuple[object, ...]], ops: list[_Op]
    ) -> None:
        conn = self._conn
        n_records = len(samples) + len(events)
        done: list[tuple[_Op, object]] = []
        try:
            conn.execute("BEGIN")
            if n_records:
                conn.execute("SAVEPOINT records")
                try:
                    for start in range(0, len(samples), _ROWS_PER_STATEMENT):
                        conn.executemany(_INSERT_SAMPLE, samples[start : start + _ROWS_PER_STATEMENT])
                        time.sleep(0)  # let the event loop have the GIL between chunks
                    for start in range(0, len(events), _ROWS_PER_STATEMENT):
                        conn.executemany(_INSERT_EVENT, events[start : start + _ROWS_PER_STATEMENT])
                        time.sleep(0)
                    conn.execute("RELEASE records")
                except sqlite3.Error as exc:
                    self._undo_savepoint("records", exc)
                    self._dropped_records += n_records
                    self._report(f"history write failed, {n_records} records dropped: {exc}")
                    n_records = 0
            for op in ops:
                ok, result = self._run_op(op, savepoint=True)
                if ok:
                    done.append((op, result))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._failed_batches += 1
            self._dropped_records += n_records
            self._report(
                f"history commit failed, {n_records} records and {len(ops)} operations dropped: {exc}"
            )
            for op in ops:
                if not op.future.done():
                    op.future.set_exception(exc)
            return
        self._committed_records += n_records
        self._committed_batches += 1
        for op, result in done:
            op.future.set_result(result)
        if self._on_commit is not None:
            try:
                self._on_commit(self._committed_records)
            except Exception:
                _log.exception("store on_commit callback failed")

    def _run_op(self, op: _Op, *, savepoint: bool) -> tuple[bool, object]:
        """Run one operation; on failure undo just its savepoint. Raises only if the batch is lost."""
        if savepoint:
            self._conn.execute("SAVEPOINT op")
        try:
            result = op.fn(self._conn)
        except Exception as exc:
            op.future.set_exception(exc)
            self._report(f"history operation failed: {exc}")
            if savepoint:
                self._undo_savepoint("op", exc)
            return False, None
        if savepoint:
            self._conn.execute("RELEASE op")
        else:
            op.future.set_result(result)
        return True, result

    def _undo_savepoint(self, name: str, cause: BaseException) -> None:
        """Roll back to a savepoint. SQLite may already have rolled back the whole transaction (full
        disk, I/O error); then the batch is lost and we say so by raising."""
        if not self._conn.in_transaction:
            raise sqlite3.OperationalError(f"{cause} (SQLite rolled back the whole batch)") from cause
        self._conn.execute(f"ROLLBACK TO {name}")
        self._conn.execute(f"RELEASE {name}")

    def _report(self, message: str) -> None:
        _log.warning("%s", message)
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                _log.exception("store on_error callback failed")

    def _report_overflow(self) -> None:
        overflow = self._overflow
        if overflow > self._overflow_reported:
            self._report(
                f"history queue full or closed: {overflow - self._overflow_reported} records dropped"
            )
            self._overflow_reported = overflow

    def _fail_leftovers(self) -> None:
        while self._items:
            item = self._items.popleft()
            if isinstance(item, _Op) and not item.future.done():
                item.future.set_exception(StoreClosedError("store writer stopped"))
            elif isinstance(item, _Marker):
                item.done.set()
