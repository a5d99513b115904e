"""The bounded in-memory log ring and the rotating log file; the restart backoff schedule."""

from __future__ import annotations

from pathlib import Path

from steward.servers.logbuffer import LogLine, LogRing, RotatingLog
from steward.servers.policy import SupervisorPolicy


def test_ring_keeps_only_the_newest_lines() -> None:
    ring = LogRing(capacity=3)
    for n in range(10):
        ring.add(LogLine(0.0, "stdout", f"line {n}"))
    assert [line.text for line in ring.tail()] == ["line 7", "line 8", "line 9"]
    assert len(ring) == 3 and ring.seq == 10
    assert [line.text for line in ring.tail(2)] == ["line 8", "line 9"]


def test_ring_gives_the_lines_added_since_a_mark() -> None:
    ring = LogRing(capacity=100)
    ring.add(LogLine(0.0, "stdout", "old"))
    mark = ring.seq
    ring.add(LogLine(0.0, "stderr", "new 1"))
    ring.add(LogLine(0.0, "stdout", "new 2"))
    assert ring.texts_since(mark) == ["new 1", "new 2"]
    assert ring.texts_since(ring.seq) == []


def test_log_file_rotates_and_keeps_the_configured_backups(tmp_path: Path) -> None:
    log = RotatingLog(tmp_path / "s.log", max_bytes=100, backups=2)
    for n in range(41):  # 20 bytes a line: 5 lines per file, one line in the current file
        log.write(f"line {n:03d} " + "x" * 10)
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["s.log", "s.log.1", "s.log.2"]
    assert all(p.stat().st_size <= 100 + 20 for p in tmp_path.iterdir())
    assert (tmp_path / "s.log").read_text() == "line 040 " + "x" * 10 + "\n"
    assert (tmp_path / "s.log.1").read_text().splitlines()[0].startswith("line 035")


def test_backoff_doubles_per_crash_up_to_the_cap() -> None:
    policy = SupervisorPolicy(backoff_initial_s=1.0, backoff_max_s=5.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
