"""Benchmark: sustained 2,000 events/s into the store for ~10 s, CPU cost as % of one core.

Run with `pytest tests/bench/bench_store.py -m bench -s` (or `python tests/bench/bench_store.py`).
Figures: the whole process (producer loop + record objects + queue + writer thread), the same
producer loop with the store switched off (the same-run baseline, measured 5 s before and 5 s after
the store run so drift hits both), and the writer thread alone. Targets: what the store adds over
the producer alone is < 5% of one core, and so is the whole process.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil
import pytest

from steward.store import EventRecord, Sample, open_store
from tests.bench.common import record

RATE_PER_S = 2_000
DURATION_S = 10.0
TICK_S = 0.01
TARGET_PERCENT = 5.0
KINDS = ("attempt_started", "attempt_failed", "fallback_chosen", "context_fitted", "completed")


@dataclass(frozen=True)
class BenchResult:
    events: int
    wall_s: float
    process_cpu_percent: float
    baseline_cpu_percent: float
    store_added_cpu_percent: float
    writer_cpu_percent: float
    commits: int
    db_bytes: int


def _produce(sink: Callable[[int], None], duration_s: float) -> tuple[int, float, float]:
    """Call `sink(i)` RATE_PER_S times a second in 10 ms ticks; return (count, wall s, process CPU s)."""
    per_tick = int(RATE_PER_S * TICK_S)
    count = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    next_tick = wall0
    while next_tick - wall0 < duration_s:
        for _ in range(per_tick):
            sink(count)
            count += 1
        next_tick += TICK_S
        delay = next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    return count, time.perf_counter() - wall0, time.process_time() - cpu0


def _event(i: int) -> EventRecord:
    return EventRecord(
        ts=1_700_000_000.0 + i / RATE_PER_S,
        type=KINDS[i % len(KINDS)],
        model_key=f"llama/model-{i % 3}",
        payload={"request_id": i // 5, "attempt": i % 3, "kind": "first_token_timeout", "elapsed_s": 1.25},
    )


def _thread_cpu_s(native_id: int | None) -> float:
    for t in psutil.Process().threads():
        if t.id == native_id:
            return float(t.user_time + t.system_time)
    return 0.0


def run_bench(db_path: Path, duration_s: float = DURATION_S) -> BenchResult:
    made: list[EventRecord] = []

    def baseline_sink(i: int) -> None:  # build the same records, store nothing
        made.append(_event(i))
        if len(made) > 1000:
            made.clear()

    _, base_wall, base_cpu = _produce(baseline_sink, duration_s / 2)

    commits = 0

    def on_commit(total: int) -> None:
        nonlocal commits
        commits += 1

    store, _ = open_store(db_path, on_commit=on_commit)
    writer_thread = next(t for t in threading.enumerate() if t.name == "steward-store-writer")
    writer_cpu0 = _thread_cpu_s(writer_thread.native_id)

    def store_sink(i: int) -> None:
        store.record_event(_event(i))
        if i % 20 == 0:
            store.record_sample(Sample(1_700_000_000.0 + i, "llama/model-0", 0.2, 1.5, 120, 80, 53.3, "ok"))

    count, wall, cpu = _produce(store_sink, duration_s)
    store.flush()
    writer_cpu = _thread_cpu_s(writer_thread.native_id) - writer_cpu0
    store.close()
    _, wall_after, cpu_after = _produce(baseline_sink, duration_s / 2)
    base_wall, base_cpu = base_wall + wall_after, base_cpu + cpu_after
    db_bytes = sum(p.stat().st_size for p in db_path.parent.glob(db_path.name + "*"))
    return BenchResult(
        events=count,
        wall_s=wall,
        process_cpu_percent=100.0 * cpu / wall,
        baseline_cpu_percent=100.0 * base_cpu / base_wall,
        store_added_cpu_percent=100.0 * (cpu / wall - base_cpu / base_wall),
        writer_cpu_percent=100.0 * writer_cpu / wall,
        commits=commits,
        db_bytes=db_bytes,
    )


def _report(r: BenchResult) -> str:
    return (
        f"store bench: {r.events} events in {r.wall_s:.1f} s ({r.events / r.wall_s:.0f}/s), "
        f"{r.commits} commits; "
        f"process CPU {r.process_cpu_percent:.2f}% of one core (baseline loop without store "
        f"{r.baseline_cpu_percent:.2f}%, so the store adds {r.store_added_cpu_percent:.2f}%; "
        f"writer thread {r.writer_cpu_percent:.2f}%); "
        f"db {r.db_bytes / r.events:.0f} bytes/event"
    )


@pytest.mark.bench
def test_store_sustains_2000_events_per_second_under_5_percent_of_a_core(tmp_path: Path) -> None:
    result = run_bench(tmp_path / "steward.db")
    print(_report(result))
    record("store", "store_2000_events_per_s", {**asdict(result), "target_percent_of_a_core": TARGET_PERCENT})
    assert result.events / result.wall_s >= 0.95 * RATE_PER_S
    assert result.commits <= 11 * result.wall_s
    assert result.store_added_cpu_percent < TARGET_PERCENT, "the store's cost over the producer alone"
    assert result.process_cpu_percent < TARGET_PERCENT


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(_report(run_bench(Path(tmp) / "steward.db")))
