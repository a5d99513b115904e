"""Chat sessions: create/append/list/load/rename, and delete that really removes the text from disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.store import ChatMessage, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    yield st
    st.close()


def test_a_session_round_trips_with_attempt_chain_and_context_events(store: Store) -> None:
    sid = store.create_session("Paris question", now_ts=100.0)
    store.append_message(ChatMessage(sid, "user", "Capital of France?", ts=101.0))
    attempts: list[object] = [
        {"model": "srv/a", "outcome": "failed", "kind": "first_token_timeout"},
        {"model": "srv/b", "outcome": "ok"},
    ]
    context: list[object] = [{"dropped": 2, "tokens": 900, "limit": 1024}]
    store.append_message(
        ChatMessage(
            sid, "assistant", "Paris.", ts=105.0, model_key="srv/b", attempts=attempts, context=context
        )
    )
    session = store.load_session(sid)
    assert session is not None
    assert (session.title, session.created, session.updated) == ("Paris question", 100.0, 105.0)
    assert [(m.role, m.content) for m in session.messages] == [
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
    ]
    assert session.messages[1].attempts == attempts
    assert session.messages[1].context == context
    assert session.messages[1].model_key == "srv/b"


def test_sessions_are_listed_most_recent_first_with_counts_and_can_be_renamed(store: Store) -> None:
    old = store.create_session("old", now_ts=10.0)
    new = store.create_session("new", now_ts=20.0)
    store.append_message(ChatMessage(old, "user", "bump", ts=30.0))
    store.rename_session(new, "renamed", now_ts=25.0)
    listed = store.list_sessions()
    assert [(s.id, s.title, s.message_count) for s in listed] == [(old, "old", 1), (new, "renamed", 0)]


def test_deleting_a_session_deletes_its_messages_and_their_text_on_disk(store: Store) -> None:
    keep = store.create_session("keep", now_ts=1.0)
    doomed = store.create_session("doomed", now_ts=2.0)
    secret = "zebra-unicorn-7781 private text"
    store.append_message(ChatMessage(keep, "user", "harmless", ts=3.0))
    for i in range(50):
        store.append_message(ChatMessage(doomed, "user", f"{secret} {i}", ts=4.0 + i))
    store.flush()
    assert store.delete_session(doomed) is True
    assert store.load_session(doomed) is None
    assert [s.id for s in store.list_sessions()] == [keep]
    with store.reading() as conn:
        assert conn.execute(
            "SELECT COUNT(*) FROM chat_messages WHERE session_id = ?", (doomed,)
        ).fetchone() == (0,)
    on_disk = b"".join(p.read_bytes() for p in store.path.parent.iterdir() if p.name.startswith("steward.db"))
    assert secret.encode() not in on_disk
    kept = store.load_session(keep)
    assert kept is not None
    assert [m.content for m in kept.messages] == ["harmless"]


def test_deleting_an_unknown_session_reports_false(store: Store) -> None:
    assert store.delete_session("no-such-id") is False
