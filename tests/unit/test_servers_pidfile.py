"""Pid records and orphan reaping against real tiny `sys.executable -c` processes; port checks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from steward.servers.pidfile import PidFiles, PidRecord, default_run_dir
from steward.servers.ports import PortInUse, check_port, pick_free_port, port_is_free

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A long-sleeping child in its own process group, as the supervisor starts servers."""
    proc = subprocess.Popen(SLEEPER, start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


@pytest.fixture
def dead_owner() -> tuple[int, float]:
    """(pid, start time) of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    created = psutil.Process(proc.pid).create_time()
    proc.wait()
    return proc.pid, created


def gone(proc: subprocess.Popen[bytes]) -> bool:
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_run_dir_is_under_the_data_dir(tmp_path: Path) -> None:
    assert default_run_dir() == tmp_path / "data" / "run"


def test_record_of_a_dead_owner_is_reaped(
    sleeper: subprocess.Popen[bytes], dead_owner: tuple[int, float]
) -> None:
    files = PidFiles()
    record = PidRecord.for_child("srv", sleeper.pid, SLEEPER)
    files.write(replace(record, owner_pid=dead_owner[0], owner_create_time=dead_owner[1]))

    reaped = files.reap(grace_s=2.0)

    assert [(r.server, r.pid, r.command) for r in reaped] == [("srv", sleeper.pid, Path(sys.executable).name)]
    assert gone(sleeper) and sleeper.returncode == -signal.SIGTERM
    assert files.records() == []


def test_record_of_a_live_owner_is_left_alone(sleeper: subprocess.Popen[bytes]) -> None:
    files = PidFiles()
    files.write(PidRecord.for_child("srv", sleeper.pid, SLEEPER))  # owned by this (live) test process

    assert files.reap(grace_s=2.0) == []
    assert sleeper.poll() is None
    assert len(files.records()) == 1


def test_a_reused_pid_running_something_else_is_not_killed(
    sleeper: subprocess.Popen[bytes], dead_owner: tuple[int, float]
) -> None:
    files = PidFiles()
    record = PidRecord.for_child("srv", sleeper.pid, [*SLEEPER[:-1], "print('another program')"])
    files.write(replace(record, owner_pid=dead_owner[0], owner_create_time=dead_owner[1]))

    assert files.reap(grace_s=2.0) == []
    assert sleeper.poll() is None
    assert files.records() == []  # the stale record is gone


def test_record_never_holds_the_command_line_itself() -> None:
    files = PidFiles()
    files.write(PidRecord.for_child("srv", os.getpid(), ["/bin/llama-server", "--api-key", "hunter2-secret"]))
    (path,) = files.run_dir.glob("*.json")
    assert "hunter2-secret" not in path.read_text()


def test_port_check_names_the_process_listening() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        with pytest.raises(
            PortInUse, match=rf"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} \("
        ):
            check_port("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)


def test_picked_port_is_free() -> None:
    port = pick_free_port()
    assert 0 < port < 65536 and port_is_free("127.0.0.1", port)
