"""Export of events and samples to JSONL or CSV, for `steward export` and the GUI.

Rows are streamed from a dedicated read connection (a big export never holds up chart reads) and
everything queued before the call is flushed first, so an export includes the last few seconds.
Each row carries both the unix `ts` and an ISO-8601 UTC `time` for humans and spreadsheets.
"""

from __future__ import annotations

import contextlib
import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from steward.store.events import iter_events
from steward.store.records import EventRecord, Sample
from steward.store.samples import iter_samples
from steward.store.store import Store

ExportFormat = Literal["jsonl", "csv"]

EVENT_FIELDS = ("ts", "time", "type", "model_key", "payload")
SAMPLE_FIELDS = ("ts", "time", *(name for name in Sample.__dataclass_fields__ if name != "ts"))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextlib.contextmanager
def _open_target(target: Path | str | TextIO) -> Iterator[TextIO]:
    if isinstance(target, (str, Path)):
        with open(target, "w", encoding="utf-8", newline="") as handle:
            yield handle
    else:
        yield target


def _write(
    rows: Iterable[dict[str, object]], target: Path | str | TextIO, fmt: ExportFormat, fields: tuple[str, ...]
) -> int:
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r} (expected 'jsonl' or 'csv')")
    count = 0
    with _open_target(target) as out:
        if fmt == "jsonl":
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False, default=str))
                out.write("\n")
                count += 1
        else:
            writer = csv.DictWriter(out, fieldnames=list(fields))
            writer.writeheader()
            for row in rows:
                writer.writerow(row)
                count += 1
    return count


def export_events(
    store: Store,
    path: Path | str | TextIO,
    fmt: ExportFormat,
    since: float | None = None,
    until: float | None = None,
) -> int:
    """Write events with `since <= ts < until` (oldest first) to `path`; returns how many.

    In CSV the payload column holds the payload as JSON text. Blocking.
    """
    store.flush()
    with store.reading(dedicated=True) as conn:
        return write_events(iter_events(conn, since, until), path, fmt)


def write_events(records: Iterable[EventRecord], path: Path | str | TextIO, fmt: ExportFormat) -> int:
    """Write the given events (e.g. those a filter shows) in `export_events`' format; returns how many.

    Blocking.
    """

    def rows() -> Iterator[dict[str, object]]:
        for event in records:
            payload: object = event.payload
            if fmt == "csv":
                payload = json.dumps(event.payload, ensure_ascii=False, default=str)
            yield {
                "ts": event.ts,
                "time": _iso(event.ts),
                "type": event.type,
                "model_key": event.model_key,
                "payload": payload,
            }

    return _write(rows(), path, fmt, EVENT_FIELDS)


def export_samples(
    store: Store,
    path: Path | str | TextIO,
    fmt: ExportFormat,
    since: float | None = None,
    until: float | None = None,
    model_key: str | None = None,
) -> int:
    """Write raw samples with `since <= ts < until` (oldest first) to `path`; returns how many.

    Only raw samples are exported; ranges older than raw retention exist only as minute aggregates.
    Blocking.
    """
    store.flush()

    def rows() -> Iterator[dict[str, object]]:
        for sample in iter_samples(conn, since, until, model_key):
            row: dict[str, object] = {"ts": sample.ts, "time": _iso(sample.ts)}
            row.update((k, v) for k, v in asdict(sample).items() if k != "ts")
            yield row

    with store.reading(dedicated=True) as conn:
        return _write(rows(), path, fmt, SAMPLE_FIELDS)
