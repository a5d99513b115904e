"""Pid records of managed servers, so a Steward that was killed leaves no orphans behind.

Each running managed process has a small JSON record under `<data dir>/run/`, naming the
process (pid, start time, command line) and its owner (the Steward process, pid and start
time). At start, records whose owner is dead are reaped: the process is stopped only if it
is still the very process recorded (same start time and command line), never a stranger that
reused the pid. Records of a live owner (another Steward) are left alone.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from steward.paths import data_dir


def default_run_dir() -> Path:
    """`<data dir>/run` (STEWARD_DATA_DIR overrides the data dir)."""
    return data_dir() / "run"


def argv_digest(argv: list[str]) -> str:
    """A digest identifying a command line."""
    return hashlib.sha256("\0".join(argv).encode("utf-8", "replace")).hexdigest()


def _create_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


@dataclass(frozen=True)
class PidRecord:
    """One managed process and the Steward that started it."""

    server: str
    pid: int
    create_time: float
    command: str  # the program's file name, for messages
    argv_digest: str  # sha256 of the command line: matched without storing it (it may hold a key)
    owner_pid: int
    owner_create_time: float

    @staticmethod
    def for_child(server: str, pid: int, argv: list[str]) -> PidRecord:
        """A record of child `pid` owned by this process."""
        me = os.getpid()
        return PidRecord(
            server,
            pid,
            _create_time(pid) or 0.0,
            Path(argv[0]).name,
            argv_digest(argv),
            me,
            _create_time(me) or 0.0,
        )

    def owner_alive(self) -> bool:
        created = _create_time(self.owner_pid)
        return created is not None and abs(created - self.owner_create_time) < 0.5

    def process_matches(self) -> psutil.Process | None:
        """The live process this record describes, or None if it is gone or the pid was reused."""
        try:
            proc = psutil.Process(self.pid)
            if abs(proc.create_time() - self.create_time) >= 0.5:
                return None
            cmdline = proc.cmdline()
            # a script started through its #! line shows the interpreter first
            if self.argv_digest not in (argv_digest(cmdline), argv_digest(cmdline[1:])):
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return None
        return proc


class PidFiles:
    """The record directory: write on spawn, remove on exit, reap the dead owners' leftovers."""

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir or default_run_dir()

    def path(self, server: str, owner_pid: int | None = None) -> Path:
        return self.run_dir / f"{server}.{owner_pid or os.getpid()}.json"

    def write(self, record: PidRecord) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        target = self.path(record.server, record.owner_pid)
        temp = target.with_suffix(".tmp")
        temp.write_text(json.dumps(asdict(record)))
        temp.replace(target)

    def remove(self, server: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(server).unlink()

    def records(self) -> list[tuple[Path, PidRecord]]:
        found: list[tuple[Path, PidRecord]] = []
        for path in sorted(self.run_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                found.append((path, PidRecord(**data)))
            except (OSError, ValueError, TypeError, KeyError):
                with contextlib.suppress(OSError):
                    path.unlink()  # unreadable record: nothing we could safely act on
        return found

    def reap(self, grace_s: float = 3.0) -> list[PidRecord]:
        """Stop processes left by dead owners; returns the records of those actually stopped."""
        reaped: list[PidRecord] = []
        for path, record in self.records():
            if record.owner_alive():
                continue
            proc = record.process_matches()
            if proc is not None:
                terminate_group(proc, grace_s)
                reaped.append(record)
            with contextlib.suppress(OSError):
                path.unlink()
        return reaped


def _gone(proc: psutil.Process) -> bool:
    """Exited (a zombie counts: its parent, maybe init, has yet to collect it)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return True
    except psutil.AccessDenied:
        return False


def _wait_gone(proc: psutil.Process, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not _gone(proc):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def terminate_group(proc: psutil.Process, grace_s: float) -> bool:
    """SIGTERM the process group led by `proc` (or just `proc`), SIGKILL it if it outlives `grace_s`.

    Blocking (run it in a thread from async code). True when the process is gone.
    """
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        except (ProcessLookupError, psutil.NoSuchProcess):
            return True
        except (PermissionError, psutil.AccessDenied):
            return False
        if _wait_gone(proc, wait_s):
            return True
    return _gone(proc)
