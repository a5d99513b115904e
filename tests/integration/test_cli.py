"""The `steward` command as a user runs it: a real child process with isolated config/data dirs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import psutil
from tests.support.cli import run_steward

from steward import __version__


def steward(*args: str, env_dirs: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_steward(*args, dirs=env_dirs, timeout=timeout, text=True)


def llama_pids(data_dir: Path) -> set[int]:
    """llama-server processes started by a steward run with this data dir (children inherit its env),
    so servers of other tests running meanwhile do not count."""
    pids = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            is_llama = "llama-server" in " ".join(proc.info["cmdline"] or [])
            if is_llama and proc.environ().get("STEWARD_DATA_DIR") == str(data_dir):
                pids.add(proc.pid)
        except psutil.Error:
            continue
    return pids


def test_version(tmp_path: Path) -> None:
    done = steward("--version", env_dirs=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"steward {__version__}"


def test_config_path_show_and_validate_defaults(tmp_path: Path) -> None:
    path = steward("config", "path", env_dirs=tmp_path)
    assert path.stdout.strip() == str(tmp_path / "config" / "settings.toml")
    shown = steward("config", "show", env_dirs=tmp_path)
    assert shown.returncode == 0 and "failure_threshold = 3" in shown.stdout
    valid = steward("config", "validate", env_dirs=tmp_path)
    assert valid.returncode == 0 and "valid" in valid.stdout


def test_config_validate_reports_a_bad_file_and_changes_nothing(tmp_path: Path) -> None:
    settings = tmp_path / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("[breaker]\nfailure_threshold = 0\n")
    for _ in range(2):  # validating never "fixes" the file: the second run fails the same
        done = steward("config", "validate", env_dirs=tmp_path)
        assert done.returncode == 1
        assert "breaker.failure_threshold" in done.stderr and "NOT valid" in done.stdout
    assert settings.read_text() == "[breaker]\nfailure_threshold = 0\n"
    assert list(settings.parent.glob("settings.toml.*")) == []


def test_headless_chat_on_an_empty_config_runs_the_embedded_servers_and_stops_them(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    for run in range(2):  # the second run must find nothing stale and work the same
        done = steward(
            "chat", "What is the capital of France?", "--max-tokens", "16", "--json", env_dirs=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        completed = [e for e in events if e["type"] == "Completed"]
        assert completed and completed[0]["model"].startswith("embedded-"), f"run {run}: {events[-1]}"
        assert completed[0]["text"].strip()
        assert llama_pids(data_dir) == set(), f"run {run} left llama-server processes behind"
    assert list((tmp_path / "data" / "run").glob("*.json")) == [], "pid records are removed on a clean exit"


def test_headless_chat_prints_the_attempt_chain(tmp_path: Path) -> None:
    done = steward("chat", "Say hello", "--max-tokens", "8", env_dirs=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "attempts:" in done.stdout and "✓ embedded-" in done.stdout
