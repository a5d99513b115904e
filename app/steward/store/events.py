"""Audit-trail reads: filtered, text-searchable event queries and event iteration for export.

Text search is a case-insensitive (ASCII) LIKE over type, model key and the JSON payload: an index
(FTS5) would cost on every insert of a write-heavy table for a query a user runs now and then.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from steward.store.records import EventRecord

_COLUMNS = "ts, type, model_key, payload"


def _record(row: Any) -> EventRecord:
    try:
        payload = json.loads(row[3])
    except ValueError:
        payload = {"raw": row[3]}
    if not isinstance(payload, dict):
        payload = {"value": payload}
    return EventRecord(ts=row[0], type=row[1], model_key=row[2], payload=payload)


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def query_events(
    conn: sqlite3.Connection,
    since: float | None = None,
    until: float | None = None,
    types: Sequence[str] | None = None,
    model_key: str | None = None,
    text: str | None = None,
    limit: int = 1000,
    newest_first: bool = True,
) -> list[EventRecord]:
    """Events with `since <= ts < until` matching every given filter, at most `limit` of them.

    With `newest_first` the most recent `limit` events come back newest first (the audit view);
    otherwise the oldest `limit`, oldest first.
    """
    where: list[str] = []
    params: dict[str, object] = {"limit": limit}
    if since is not None:
        where.append("ts >= :since")
        params["since"] = since
    if until is not None:
        where.append("ts < :until")
        params["until"] = until
    if types:
        names = [f":type{i}" for i in range(len(types))]
        where.append(f"type IN ({', '.join(names)})")
        params.update({f"type{i}": t for i, t in enumerate(types)})
    if model_key is not None:
        where.append("model_key = :model")
        params["model"] = model_key
    if text:
        where.append(
            "(type LIKE :pat ESCAPE '\\' OR model_key LIKE :pat ESCAPE '\\' OR payload LIKE :pat ESCAPE '\\')"
        )
        params["pat"] = _like_pattern(text)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    order = "DESC" if newest_first else "ASC"
    sql = f"SELECT {_COLUMNS} FROM events {clause} ORDER BY ts {order}, id {order} LIMIT :limit"
    return [_record(row) for row in conn.execute(sql, params)]


def iter_events(conn: sqlite3.Connection, since: float | None, until: float | None) -> Iterator[EventRecord]:
    """Stream events with `since <= ts < until` (either bound optional), oldest first."""
    where = ["1"]
    if since is not None:
        where.append("ts >= :since")
    if until is not None:
        where.append("ts < :until")
    sql = f"SELECT {_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY ts, id"
    for row in conn.execute(sql, {"since": since, "until": until}):
        yield _record(row)
