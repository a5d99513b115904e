"""Audit-trail queries: time window, type/model filters, literal text search, limit and order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.store import EventRecord, Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    events = [
        EventRecord(10.0, "attempt_failed", "srv/a", {"kind": "connection_refused", "detail": "port 8080"}),
        EventRecord(20.0, "fallback_chosen", "srv/b", {"from": "srv/a"}),
        EventRecord(30.0, "attempt_failed", "srv/b", {"kind": "out_of_memory", "detail": "100% used_up"}),
        EventRecord(40.0, "breaker_changed", "srv/a", {"state": "open", "note": "Ärger"}),
        EventRecord(50.0, "app_error", None, {"detail": "disk full"}),
    ]
    for event in events:
        st.record_event(event)
    st.flush()
    yield st
    st.close()


def _ts(events: list[EventRecord]) -> list[float]:
    return [e.ts for e in events]


def test_time_window_is_half_open_and_newest_first_by_default(store: Store) -> None:
    assert _ts(store.events(since=20.0, until=40.0)) == [30.0, 20.0]
    assert _ts(store.events(since=20.0, until=40.0, newest_first=False)) == [20.0, 30.0]


def test_type_and_model_filters_combine(store: Store) -> None:
    assert _ts(store.events(types=["attempt_failed"])) == [30.0, 10.0]
    assert _ts(store.events(types=["attempt_failed", "breaker_changed"], model_key="srv/a")) == [40.0, 10.0]


def test_text_search_looks_in_payload_type_and_model_and_treats_wildcards_literally(store: Store) -> None:
    assert _ts(store.events(text="OUT_OF_MEMORY")) == [30.0]
    assert _ts(store.events(text="100%")) == [30.0]
    assert _ts(store.events(text="%")) == [30.0]
    assert _ts(store.events(text="fallback")) == [20.0]
    assert _ts(store.events(text="srv/b")) == [30.0, 20.0]
    assert _ts(store.events(text="Ärger")) == [40.0]


def test_limit_keeps_the_newest(store: Store) -> None:
    assert _ts(store.events(limit=2)) == [50.0, 40.0]


def test_payload_round_trips(store: Store) -> None:
    (event,) = store.events(types=["breaker_changed"])
    assert event == EventRecord(40.0, "breaker_changed", "srv/a", {"state": "open", "note": "Ärger"})
