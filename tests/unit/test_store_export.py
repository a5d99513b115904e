"""Export of events and samples to JSONL and CSV: counts, time window, and parseable content."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.store import EventRecord, Sample, Store, export_events, export_samples, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, _ = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    for i in range(5):
        st.record_event(EventRecord(1_700_000_000.0 + i, "attempt_failed", "srv/a", {"i": i, "t": 'a,b"c'}))
        st.record_sample(Sample(1_700_000_000.0 + i, "srv/a", 0.1, 1.0, 10, 20, 20.0, "ok"))
    yield st
    st.close()


def test_events_to_jsonl_within_window(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    count = export_events(store, out, "jsonl", since=1_700_000_001.0, until=1_700_000_004.0)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert count == len(rows) == 3
    assert [r["payload"]["i"] for r in rows] == [1, 2, 3]
    assert rows[0]["time"] == "2023-11-14T22:13:21.000Z"
    assert rows[0]["type"] == "attempt_failed"


def test_events_to_csv_keeps_payload_as_json(store: Store) -> None:
    buffer = io.StringIO()
    count = export_events(store, buffer, "csv")
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert count == len(rows) == 5
    assert json.loads(rows[4]["payload"]) == {"i": 4, "t": 'a,b"c'}


def test_samples_to_csv_and_jsonl(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "samples.csv"
    assert export_samples(store, out, "csv", until=1_700_000_002.0) == 2
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["model_key"] == "srv/a"
    assert float(rows[1]["ttft_s"]) == 0.1
    buffer = io.StringIO()
    assert export_samples(store, buffer, "jsonl", model_key="srv/none") == 0
    assert buffer.getvalue() == ""


def test_unknown_format_is_refused(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        export_events(store, tmp_path / "x", "xml")  # type: ignore[arg-type]
