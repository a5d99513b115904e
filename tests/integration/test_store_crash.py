"""A writer process killed with SIGKILL mid-batch leaves a sound database holding every reported commit.

The child is a real `sys.executable` process running the real StoreWriter under heavy load; after each
commit its `on_commit` hook prints the running total. The parent kills it at an arbitrary moment while
it is still writing, then checks integrity and counts rows.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from steward.store import check_database, open_store

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from steward.store import EventRecord, Sample, open_store

    def on_commit(total):
        sys.stdout.write(f"{total}\\n")
        sys.stdout.flush()

    store, _ = open_store(Path(sys.argv[1]), on_commit=on_commit, max_pending=50_000)
    start = int(sys.argv[2])
    i = start
    detail = "x" * 300
    while True:
        for _ in range(500):
            store.record_event(EventRecord(float(i), "attempt_failed", "srv/a", {"i": i, "detail": detail}))
            if i % 10 == 0:
                store.record_sample(Sample(float(i), "srv/a", 0.1, 1.0, 10, 20, 20.0, "ok"))
            i += 1
        time.sleep(0.002)
    """
)


def _counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        samples = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        return int(events), int(samples)
    finally:
        conn.close()


def _run_and_kill(path: Path, start: int, commits_before_kill: int, kill_delay_s: float) -> int:
    """Start the child, let it report `commits_before_kill` commits, wait `kill_delay_s` (to land
    somewhere inside the next batch), SIGKILL it; return the last total it reported before dying."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(start)],
        stdout=subprocess.PIPE,
        text=True,
    )
    last = 0
    try:
        assert child.stdout is not None
        for _ in range(commits_before_kill):
            line = child.stdout.readline()
            assert line, "child exited before reporting its commits"
            last = int(line)
        time.sleep(kill_delay_s)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        last = max([last, *(int(x) for x in child.stdout.read().split())])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    return last


def _total(path: Path) -> int:
    return sum(_counts(path)) if path.exists() else 0


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("commits_before_kill", "kill_delays_s"), [(2, (0.0, 0.07)), (4, (0.13, 0.21))])
def test_sigkill_during_batched_writes_keeps_every_reported_commit(
    tmp_path: Path, commits_before_kill: int, kill_delays_s: tuple[float, float]
) -> None:
    path = tmp_path / "steward.db"
    for round_no, delay in enumerate(kill_delays_s):  # kill, restart, write, kill: damage must not pile up
        before = _total(path)
        reported = _run_and_kill(path, round_no * 10_000_000, commits_before_kill, delay)
        assert reported > 0
        assert check_database(path, full=True) is None
        assert _total(path) >= before + reported  # every record the child saw committed is there
    store, warnings = open_store(path)
    store.close()
    assert warnings == []
