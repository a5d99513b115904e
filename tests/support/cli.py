"""Run the real `steward` command as a child process with its config, data and log dirs under one
test folder (so no test ever touches the user's files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any


def steward_env(dirs: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STEWARD_CONFIG_DIR=str(dirs / "config"),
        STEWARD_DATA_DIR=str(dirs / "data"),
        STEWARD_LOG_DIR=str(dirs / "logs"),
    )
    return env


def run_steward(
    *args: str | bytes, dirs: Path, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[Any]:
    """`python -m steward ARGS`, output captured; `kwargs` go to subprocess.run (text, input, cwd)."""
    return subprocess.run(
        [sys.executable, "-m", "steward", *args],
        capture_output=True,
        timeout=timeout,
        env=steward_env(dirs),
        check=False,
        **kwargs,
    )
