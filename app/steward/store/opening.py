"""Opening the history database, with damage handling.

History is worth less than a working app: a file that fails its integrity check (or is not a
database at all) is moved aside with a timestamp — never deleted, the user may want it — and a
fresh database is created, with a warning the GUI shows. Errors that are not damage (locked by
another process, no permission, newer schema) are raised instead: moving those aside would throw
away a healthy database.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from steward.store.location import default_db_path
from steward.store.schema import migrate
from steward.store.store import Store
from steward.store.writer import StoreWriter

_SIDE_FILES = ("-wal", "-shm", "-journal")
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_MAGIC = b"SQLite format 3\x00"


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(_DAMAGE_CODES)


def check_database(path: Path, full: bool = False) -> str | None:
    """None if `path` is absent or healthy, else why it is damaged.

    `quick_check` by default (linear time, enough to catch garbage and broken pages on start);
    `full` runs `integrity_check`, which also cross-checks every index.
    """
    if not path.exists():
        return None
    with path.open("rb") as handle:
        head = handle.read(len(_MAGIC))
    if head and head != _MAGIC:
        # Decide before SQLite opens it: SQLite would delete the -wal/-shm we want to keep as evidence.
        return "not an SQLite database"
    pragma = "integrity_check" if full else "quick_check"
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        rows = conn.execute(f"PRAGMA {pragma}").fetchall()
    except sqlite3.DatabaseError as exc:
        if _is_damage(exc):
            return str(exc)
        raise
    finally:
        conn.close()
    if rows == [("ok",)]:
        return None
    return "; ".join(str(row[0]) for row in rows[:5])


def move_aside(path: Path, when_ts: float) -> Path:
    """Rename `path` (and its -wal/-shm/-journal) to `<name>.corrupt-YYYYMMDD-HHMMSS[...]`."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when_ts))
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    path.replace(aside)
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            with contextlib.suppress(OSError):
                side.replace(aside.with_name(aside.name + suffix))
    return aside


def _create_or_migrate(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0)
    try:
        migrate(conn)  # first: it refuses a newer schema before we change anything
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def open_store(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    full_check: bool = False,
    commit_interval_s: float = 0.1,
    max_pending: int = 200_000,
    on_error: Callable[[str], None] | None = None,
    on_commit: Callable[[int], None] | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> tuple[Store, list[str]]:
    """Open (creating, migrating or replacing if damaged) the history database.

    Returns the store and user-visible warnings (empty when all was well). `path` defaults to
    `default_db_path(env)`. `wall_clock` only names the moved-aside file.
    """
    db_path = default_db_path(env) if path is None else Path(path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    reason = check_database(db_path, full=full_check)
    if reason is not None:
        aside = move_aside(db_path, wall_clock())
        warnings.append(
            f"The history database {db_path} was damaged ({reason}). It was moved to {aside} "
            "and a fresh, empty one was created; earlier history, chats and quarantines are not loaded."
        )
    _create_or_migrate(db_path)
    writer = StoreWriter(
        db_path,
        commit_interval_s=commit_interval_s,
        max_pending=max_pending,
        on_error=on_error,
        on_commit=on_commit,
    )
    try:
        store = Store(db_path, writer)
    except BaseException:
        writer.close()
        raise
    return store, warnings
