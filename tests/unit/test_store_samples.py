"""Chart reads: raw rows for the final hour, minute buckets (exact p95) before it, roll-up keeps shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.store import Sample, Store, open_store

T0 = 1_699_999_800.0  # divisible by 300, so whole minutes and whole 5-minute buckets


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st, warnings = open_store(tmp_path / "steward.db", commit_interval_s=0.0)
    assert warnings == []
    yield st
    st.close()


def _sample(ts: float, ttft: float | None, model: str = "srv/a", outcome: str = "ok") -> Sample:
    return Sample(ts, model, ttft, None if ttft is None else ttft * 10, 10, 20, 50.0, outcome, None)


def test_window_gives_raw_rows_for_the_last_hour_and_minute_buckets_before(store: Store) -> None:
    for minute in range(120):  # two hours, one sample a minute, at second 30
        store.record_sample(_sample(T0 + minute * 60 + 30, 0.5))
    store.flush()
    window = store.samples_window(None, T0, T0 + 7200)
    assert window.raw_since == T0 + 3600
    assert [s.ts for s in window.raw] == [T0 + m * 60 + 30 for m in range(60, 120)]
    assert [b.start_ts for b in window.buckets] == [T0 + m * 60 for m in range(60)]
    assert all(b.count == 1 and b.bucket_s == 60 for b in window.buckets)


def test_bucket_statistics_are_exact_including_nearest_rank_p95(store: Store) -> None:
    ttfts = [float(v) for v in range(1, 21)]  # 20 values in one minute → p95 is the 19th
    for i, v in enumerate(ttfts):
        store.record_sample(_sample(T0 + i, v, outcome="failed" if i < 3 else "ok"))
    store.record_sample(_sample(T0 + 30, None, outcome="cancelled"))  # no timing: counted, not averaged
    store.flush()
    (bucket,) = store.samples_window("srv/a", T0, T0 + 60, raw_window_s=0).buckets
    assert (bucket.count, bucket.ok, bucket.failed, bucket.cancelled) == (21, 17, 3, 1)
    assert bucket.ttft_n == 20
    assert bucket.ttft_avg == pytest.approx(10.5)
    assert bucket.ttft_p95 == 19.0
    assert bucket.ttft_max == 20.0
    assert bucket.total_p95 == 190.0
    assert bucket.prompt_tokens == 210


def test_model_filter_and_coarser_buckets(store: Store) -> None:
    for i in range(10):
        store.record_sample(_sample(T0 + i * 60, 1.0, model="srv/a"))
        store.record_sample(_sample(T0 + i * 60, 2.0, model="srv/b"))
    store.flush()
    window = store.samples_window("srv/b", T0, T0 + 600, bucket_s=300, raw_window_s=0)
    assert [(b.model_key, b.start_ts, b.count) for b in window.buckets] == [
        ("srv/b", T0, 5),
        ("srv/b", T0 + 300, 5),
    ]
    with pytest.raises(ValueError):
        store.samples_window(None, T0, T0 + 600, bucket_s=45)


def test_rolled_up_minutes_answer_the_same_as_raw_rows_did(store: Store) -> None:
    for i in range(180):
        store.record_sample(_sample(T0 + i, 0.1 * (i % 7), outcome="ok" if i % 5 else "failed"))
    store.flush()
    before = store.samples_window(None, T0, T0 + 180, raw_window_s=0).buckets
    counts = store.enforce_retention(T0 + 180 + 7 * 86_400)  # every sample is now past raw retention
    assert counts.samples_deleted == 180
    after = store.samples_window(None, T0, T0 + 180, raw_window_s=0).buckets
    assert [(b.start_ts, b.count, b.ok, b.failed, b.ttft_p95, b.ttft_max) for b in after] == [
        (b.start_ts, b.count, b.ok, b.failed, b.ttft_p95, b.ttft_max) for b in before
    ]
    assert [b.ttft_avg for b in after] == pytest.approx([b.ttft_avg for b in before])


def test_a_minute_rolled_up_in_two_passes_merges_counts_and_bounds_p95(store: Store) -> None:
    for i in range(60):
        store.record_sample(_sample(T0 + i, float(i)))
    store.flush()
    store.enforce_retention(T0 + 30 + 7 * 86_400)  # rolls up seconds 0..29
    store.enforce_retention(T0 + 60 + 7 * 86_400)  # then 30..59 into the same minute row
    (bucket,) = store.samples_window(None, T0, T0 + 60, raw_window_s=0).buckets
    assert bucket.count == 60
    assert bucket.ttft_avg == pytest.approx(29.5)
    assert bucket.ttft_max == 59.0
    assert bucket.ttft_p95 == 58.0  # max of the parts' p95s (28 and 58): an upper bound
