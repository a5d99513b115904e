"""Retention: how long history is kept, and the pass that enforces it.

Limits are "older than N days" with exact boundaries: a row exactly at the cutoff is kept, anything
before it goes. A minute aggregate goes once its whole minute lies before the cutoff. Raw samples are
folded into minute aggregates before they are deleted, so long-range charts keep their shape.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from steward.store.records import RetentionCounts
from steward.store.samples import MINUTE_S, roll_up_and_delete

DAY_S = 86_400.0
DEFAULT_RAW_SAMPLES_DAYS = 7.0
DEFAULT_MINUTE_AGGREGATES_DAYS = 90.0
DEFAULT_EVENTS_DAYS = 90.0


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Defaults from the issue: raw samples 7 days, minute aggregates 90 days, events 90 days."""

    raw_samples_days: float = DEFAULT_RAW_SAMPLES_DAYS
    minute_aggregates_days: float = DEFAULT_MINUTE_AGGREGATES_DAYS
    events_days: float = DEFAULT_EVENTS_DAYS


def apply_retention(
    conn: sqlite3.Connection,
    now_ts: float,
    raw_samples_days: float,
    minute_aggregates_days: float,
    events_days: float,
) -> RetentionCounts:
    """Run one retention pass on `conn` (inside the caller's transaction)."""
    for name, days in (
        ("raw_samples_days", raw_samples_days),
        ("minute_aggregates_days", minute_aggregates_days),
        ("events_days", events_days),
    ):
        if days < 0:
            raise ValueError(f"{name} must not be negative, got {days}")
    rolled, samples_deleted = roll_up_and_delete(conn, now_ts - raw_samples_days * DAY_S)
    aggregates_deleted = conn.execute(
        "DELETE FROM sample_minutes WHERE minute_ts + ? <= ?",
        (MINUTE_S, now_ts - minute_aggregates_days * DAY_S),
    ).rowcount
    events_deleted = conn.execute("DELETE FROM events WHERE ts < ?", (now_ts - events_days * DAY_S,)).rowcount
    return RetentionCounts(
        samples_rolled_up=rolled,
        samples_deleted=samples_deleted,
        minute_aggregates_deleted=aggregates_deleted,
        events_deleted=events_deleted,
    )
