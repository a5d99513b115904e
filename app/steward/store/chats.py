"""Chat sessions and messages: the SQL. Threading (which connection, when) is the Store's business.

Each assistant message keeps its attempt chain and context-fit events as JSON, so a reopened chat
shows the same "tried A, failed with X, fell back to B" trail the user saw live.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from steward.store.records import ChatMessage, ChatSession, ChatSessionInfo


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def insert_session(conn: sqlite3.Connection, session_id: str, title: str, now_ts: float) -> None:
    conn.execute(
        "INSERT INTO chat_sessions (id, title, created, updated) VALUES (?, ?, ?, ?)",
        (session_id, title, now_ts, now_ts),
    )


def insert_message(conn: sqlite3.Connection, message: ChatMessage) -> int:
    """Store one message and bump its session's `updated`; returns the message's row id."""
    cursor = conn.execute(
        "INSERT INTO chat_messages (session_id, role, content, model_key, attempts, context, ts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            message.session_id,
            message.role,
            message.content,
            message.model_key,
            _json(message.attempts),
            _json(message.context),
            message.ts,
        ),
    )
    conn.execute(
        "UPDATE chat_sessions SET updated = max(updated, ?) WHERE id = ?", (message.ts, message.session_id)
    )
    return int(cursor.lastrowid or 0)


def rename(conn: sqlite3.Connection, session_id: str, title: str, now_ts: float) -> bool:
    cursor = conn.execute(
        "UPDATE chat_sessions SET title = ?, updated = max(updated, ?) WHERE id = ?",
        (title, now_ts, session_id),
    )
    return cursor.rowcount > 0


def delete(conn: sqlite3.Connection, session_id: str) -> bool:
    """Delete a session and its messages (explicitly, not relying on the foreign-key pragma)."""
    conn.execute("DELETE FROM chat_messages WHERE session_id = ?", (session_id,))
    return conn.execute("DELETE FROM chat_sessions WHERE id = ?", (session_id,)).rowcount > 0


def list_all(conn: sqlite3.Connection) -> list[ChatSessionInfo]:
    """Every session, most recently updated first, with its message count."""
    rows = conn.execute(
        "SELECT s.id, s.title, s.created, s.updated, COUNT(m.id) FROM chat_sessions s"
        " LEFT JOIN chat_messages m ON m.session_id = s.id GROUP BY s.id ORDER BY s.updated DESC, s.id"
    )
    return [ChatSessionInfo(*row) for row in rows]


def _message(row: Any) -> ChatMessage:
    return ChatMessage(
        id=row[0],
        session_id=row[1],
        role=row[2],
        content=row[3],
        model_key=row[4],
        attempts=list(json.loads(row[5])),
        context=list(json.loads(row[6])),
        ts=row[7],
    )


def load(conn: sqlite3.Connection, session_id: str) -> ChatSession | None:
    head = conn.execute(
        "SELECT id, title, created, updated FROM chat_sessions WHERE id = ?", (session_id,)
    ).fetchone()
    if head is None:
        return None
    rows = conn.execute(
        "SELECT id, session_id, role, content, model_key, attempts, context, ts FROM chat_messages"
        " WHERE session_id = ? ORDER BY id",
        (session_id,),
    )
    messages = [_message(row) for row in rows]
    return ChatSession(id=head[0], title=head[1], created=head[2], updated=head[3], messages=messages)
