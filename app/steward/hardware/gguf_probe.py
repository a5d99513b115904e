"""Read GGUF metadata in a child process, so a scan never stalls the app.

The `gguf` package builds a Python object for every element of a file's metadata arrays (Gemma 3's
262,144-token vocabulary alone: ~10 s and about a million objects). In a worker thread of the
app that holds the interpreter for whole garbage collections and for freeing them (measured:
stalls of 0.6-2 s on the GUI thread), and a collection there could even delete Qt objects off
their thread. A child process does the reading and sends back one small JSON line per file.

The child is this program itself: ``steward _read-gguf`` (``python -m steward _read-gguf`` when
not frozen; the frozen bundle's executable is the `steward` command). Jobs go in on stdin as JSON,
one ``CachedRead`` per line comes back. When the child cannot run or dies, every file of the
batch gets a "reader failed" error that is not cached, so the next scan tries again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import steward
from steward.hardware.disk_cache import CachedRead
from steward.hardware.disk_models import ReadJob, read_entry
from steward.hardware.gguf_meta import spec_from_gguf

COMMAND = "_read-gguf"
SECONDS_PER_FILE = 120.0
"""A file that takes longer than this (a network drive gone away) fails the batch."""


def child_command() -> list[str]:
    """How to start this program's reader: the frozen executable or this Python with `-m steward`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, COMMAND]
    return [sys.executable, "-m", "steward", COMMAND]


def _child_env() -> dict[str, str]:
    """The environment, with the folder holding the `steward` package first on PYTHONPATH."""
    env = dict(os.environ)
    package_parent = str(Path(steward.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    return env


def read_in_child(jobs: Sequence[ReadJob]) -> list[CachedRead]:
    """Read every job's file in one child process (blocking: run it off the GUI thread)."""
    request = json.dumps([[str(j.path), j.mtime_ns, j.size] for j in jobs])
    try:
        done = subprocess.run(
            child_command(),
            input=request,
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=SECONDS_PER_FILE * len(jobs),
            check=False,
        )
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        if len(lines) != len(jobs):
            tail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
            raise RuntimeError(f"it answered {len(lines)} of {len(jobs)} files ({tail})")
        return [CachedRead.from_json(json.loads(line)) for line in lines]
    except (OSError, subprocess.SubprocessError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        return [CachedRead.reader_failed(j.mtime_ns, j.size, str(exc)) for j in jobs]


def child_main(stdin: IO[str] | None = None, stdout: IO[str] | None = None) -> int:
    """The child: read the jobs on stdin, write one JSON `CachedRead` per line (never raises per file)."""
    source, sink = stdin or sys.stdin, stdout or sys.stdout
    for path, mtime_ns, size in json.load(source):
        entry = read_entry(Path(path), int(mtime_ns), int(size), spec_from_gguf)
        sink.write(json.dumps(entry.to_json()) + "\n")
        sink.flush()
    return 0
