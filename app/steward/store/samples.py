"""Sample reads for charts, the minute roll-up used by retention, and sample iteration for export.

Charts want detail where the user looks (the last hour) and a bounded row count elsewhere, so a
window is answered as raw rows for its final hour and buckets (default one minute) before that.
Buckets are computed in SQL from raw rows while those exist and merged with the stored minute
aggregates that retention leaves behind once raw rows are deleted. All functions take a connection
and run on the caller's thread (a worker thread or the writer thread).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from steward.store.records import Sample, SampleBucket, SamplesWindow

MINUTE_S = 60
RAW_WINDOW_S = 3600.0

_SAMPLE_COLUMNS = "ts, model_key, ttft_s, total_s, prompt_tokens, completion_tokens, tokens_per_s, outcome, failure_kind, source"
_AGGREGATE_COLUMNS = (
    "count, ok, failed, cancelled, ttft_n, ttft_sum, ttft_max, ttft_p95, total_n, total_sum, total_max,"
    " total_p95, tps_n, tps_sum, tps_max, prompt_tokens, completion_tokens"
)


def _bucket_sql(where: str) -> str:
    """Aggregate raw samples matching `where` into `:bucket`-second buckets per model.

    p95 is exact nearest-rank: the row whose rank among the non-null values is ceil(0.95·n),
    written as integer arithmetic because SQLite's math functions are optional.
    """
    return f"""
        WITH s AS (
            SELECT model_key, CAST(ts / :bucket AS INTEGER) * :bucket AS b, ttft_s, total_s,
                   tokens_per_s, prompt_tokens, completion_tokens, outcome
            FROM samples WHERE {where}
        ), r AS (
            SELECT s.*,
                ROW_NUMBER() OVER (PARTITION BY model_key, b ORDER BY ttft_s IS NULL, ttft_s) AS ttft_rn,
                COUNT(ttft_s) OVER (PARTITION BY model_key, b) AS ttft_cnt,
                ROW_NUMBER() OVER (PARTITION BY model_key, b ORDER BY total_s IS NULL, total_s) AS total_rn,
                COUNT(total_s) OVER (PARTITION BY model_key, b) AS total_cnt
            FROM s
        )
        SELECT model_key, b, COUNT(*),
            SUM(outcome = 'ok'), SUM(outcome = 'failed'), SUM(outcome = 'cancelled'),
            COUNT(ttft_s), TOTAL(ttft_s), MAX(ttft_s),
            MAX(CASE WHEN ttft_rn = (95 * ttft_cnt + 99) / 100 THEN ttft_s END),
            COUNT(total_s), TOTAL(total_s), MAX(total_s),
            MAX(CASE WHEN total_rn = (95 * total_cnt + 99) / 100 THEN total_s END),
            COUNT(tokens_per_s), TOTAL(tokens_per_s), MAX(tokens_per_s),
            COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0)
        FROM r GROUP BY model_key, b
    """


def _greatest(col: str) -> str:
    """Scalar max() that ignores NULLs (SQLite's returns NULL if any argument is NULL)."""
    return f"max(coalesce({col}, excluded.{col}), coalesce(excluded.{col}, {col}))"


_ROLL_UP_SQL = f"""
    INSERT INTO sample_minutes (model_key, minute_ts, {_AGGREGATE_COLUMNS})
    SELECT * FROM ({_bucket_sql("ts < :until")}) WHERE true
    ON CONFLICT (model_key, minute_ts) DO UPDATE SET
        count = count + excluded.count, ok = ok + excluded.ok, failed = failed + excluded.failed,
        cancelled = cancelled + excluded.cancelled,
        ttft_n = ttft_n + excluded.ttft_n, ttft_sum = ttft_sum + excluded.ttft_sum,
        ttft_max = {_greatest("ttft_max")}, ttft_p95 = {_greatest("ttft_p95")},
        total_n = total_n + excluded.total_n, total_sum = total_sum + excluded.total_sum,
        total_max = {_greatest("total_max")}, total_p95 = {_greatest("total_p95")},
        tps_n = tps_n + excluded.tps_n, tps_sum = tps_sum + excluded.tps_sum,
        tps_max = {_greatest("tps_max")},
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens
"""


def _check_bucket(bucket_s: int) -> None:
    if bucket_s <= 0 or bucket_s % MINUTE_S:
        raise ValueError(f"bucket_s must be a positive multiple of {MINUTE_S}, got {bucket_s}")


def _bucket(r: Any, bucket_s: int) -> SampleBucket:
    return SampleBucket(
        model_key=str(r[0]),
        start_ts=float(r[1]),
        bucket_s=float(bucket_s),
        count=int(r[2]),
        ok=int(r[3]),
        failed=int(r[4]),
        cancelled=int(r[5]),
        ttft_n=int(r[6]),
        ttft_sum=float(r[7]),
        ttft_max=r[8],
        ttft_p95=r[9],
        total_n=int(r[10]),
        total_sum=float(r[11]),
        total_max=r[12],
        total_p95=r[13],
        tps_n=int(r[14]),
        tps_sum=float(r[15]),
        tps_max=r[16],
        prompt_tokens=int(r[17]),
        completion_tokens=int(r[18]),
    )


def _model_filter(model_key: str | None) -> str:
    return "" if model_key is None else " AND model_key = :model"


def raw_samples(conn: sqlite3.Connection, model_key: str | None, since: float, until: float) -> list[Sample]:
    """Raw samples with `since <= ts < until`, oldest first."""
    return list(iter_samples(conn, since, until, model_key))


def iter_samples(
    conn: sqlite3.Connection, since: float | None, until: float | None, model_key: str | None = None
) -> Iterator[Sample]:
    """Stream raw samples with `since <= ts < until` (either bound optional), oldest first."""
    where = ["1"]
    if since is not None:
        where.append("ts >= :since")
    if until is not None:
        where.append("ts < :until")
    clause = " AND ".join(where) + _model_filter(model_key)
    sql = f"SELECT {_SAMPLE_COLUMNS} FROM samples WHERE {clause} ORDER BY ts"
    for row in conn.execute(sql, {"since": since, "until": until, "model": model_key}):
        yield Sample(*row)


def bucket_samples(
    conn: sqlite3.Connection, model_key: str | None, since: float, until: float, bucket_s: int = MINUTE_S
) -> list[SampleBucket]:
    """Raw samples with `since <= ts < until` summarised per model and bucket."""
    _check_bucket(bucket_s)
    sql = _bucket_sql("ts >= :since AND ts < :until" + _model_filter(model_key))
    params = {"since": since, "until": until, "model": model_key, "bucket": bucket_s}
    return [_bucket(row, bucket_s) for row in conn.execute(sql, params)]


def stored_buckets(
    conn: sqlite3.Connection, model_key: str | None, since: float, until: float, bucket_s: int = MINUTE_S
) -> list[SampleBucket]:
    """Stored minute aggregates overlapping `[since, until)` (by minute start), regrouped to `bucket_s`."""
    _check_bucket(bucket_s)
    sql = f"""
        SELECT model_key, CAST(minute_ts / :bucket AS INTEGER) * :bucket AS b,
            SUM(count), SUM(ok), SUM(failed), SUM(cancelled),
            SUM(ttft_n), TOTAL(ttft_sum), MAX(ttft_max), MAX(ttft_p95),
            SUM(total_n), TOTAL(total_sum), MAX(total_max), MAX(total_p95),
            SUM(tps_n), TOTAL(tps_sum), MAX(tps_max), SUM(prompt_tokens), SUM(completion_tokens)
        FROM sample_minutes
        WHERE minute_ts > :since - {MINUTE_S} AND minute_ts < :until{_model_filter(model_key)}
        GROUP BY model_key, b
    """
    params = {"since": since, "until": until, "model": model_key, "bucket": bucket_s}
    return [_bucket(row, bucket_s) for row in conn.execute(sql, params)]


def samples_window(
    conn: sqlite3.Connection,
    model_key: str | None,
    since: float,
    until: float,
    bucket_s: int | None = None,
    raw_window_s: float = RAW_WINDOW_S,
) -> SamplesWindow:
    """Raw samples for the final `raw_window_s` of `[since, until)`, buckets for the rest."""
    bucket = MINUTE_S if bucket_s is None else bucket_s
    _check_bucket(bucket)
    raw_since = max(since, until - raw_window_s)
    raw = raw_samples(conn, model_key, raw_since, until)
    merged: dict[tuple[str, float], SampleBucket] = {}
    if raw_since > since:
        parts = bucket_samples(conn, model_key, since, raw_since, bucket)
        parts += stored_buckets(conn, model_key, since, raw_since, bucket)
        for part in parts:
            key = (part.model_key, part.start_ts)
            previous = merged.get(key)
            merged[key] = part if previous is None else previous.merged(part)
    buckets = sorted(merged.values(), key=lambda b: (b.start_ts, b.model_key))
    return SamplesWindow(raw=raw, buckets=buckets, raw_since=raw_since)


def roll_up_and_delete(conn: sqlite3.Connection, cutoff: float) -> tuple[int, int]:
    """Fold raw samples with `ts < cutoff` into minute aggregates, then delete them.

    Returns (samples rolled up, samples deleted). Run inside one transaction so a crash cannot leave
    samples both aggregated and still present (they would be counted twice).
    """
    rolled = int(conn.execute("SELECT COUNT(*) FROM samples WHERE ts < ?", (cutoff,)).fetchone()[0])
    if rolled:
        conn.execute(_ROLL_UP_SQL, {"until": cutoff, "bucket": MINUTE_S})
    deleted = conn.execute("DELETE FROM samples WHERE ts < ?", (cutoff,)).rowcount
    return rolled, deleted
