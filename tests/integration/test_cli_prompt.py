"""`steward chat` takes its prompt as an argument, from standard input (`-`) or a file, and bad
input is refused or repaired before any model sees it (a real child process, isolated dirs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.cli import run_steward


def steward(
    *args: str | bytes, env_dirs: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return run_steward(*args, dirs=env_dirs, input=stdin)


def events_of(done: subprocess.CompletedProcess[bytes]) -> list[dict[str, object]]:
    return [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]


def test_an_empty_prompt_is_refused_before_any_model(tmp_path: Path) -> None:
    for prompt in ("", "   "):
        done = steward("chat", prompt, "--no-embedded", "--json", env_dirs=tmp_path)
        events = events_of(done)
        assert done.returncode == 1
        assert [e["type"] for e in events] == ["RequestFailed"]
        assert events[0]["kinds"] == ["bad_request"] and "empty" in str(events[0]["detail"])


def test_prompt_sources_are_checked_with_clear_errors(tmp_path: Path) -> None:
    none = steward("chat", "--no-embedded", env_dirs=tmp_path)
    assert none.returncode == 2 and b"no question" in none.stderr
    missing = steward("chat", "--file", str(tmp_path / "nope.txt"), "--no-embedded", env_dirs=tmp_path)
    assert missing.returncode == 2 and b"cannot read" in missing.stderr and b"nope.txt" in missing.stderr
    both = steward("chat", "hi", "--file", str(tmp_path / "x"), "--no-embedded", env_dirs=tmp_path)
    assert both.returncode == 2 and b"not both" in both.stderr


def test_invalid_utf8_in_the_argument_is_repaired_and_answered_by_the_embedded_model(tmp_path: Path) -> None:
    done = steward(
        "chat", b"What is the capital of France? \xff", "--max-tokens", "8", "--json", env_dirs=tmp_path
    )
    events = events_of(done)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    started = next(e for e in events if e["type"] == "RequestStarted")
    assert "replaced with U+FFFD" in started["notes"][0]
    assert [e["type"] for e in events if e["type"] == "AttemptFailed"] == []  # no model was blamed
    assert events[-1]["type"] == "Completed"


def test_a_prompt_from_stdin_and_from_a_file_reach_the_model(tmp_path: Path) -> None:
    piped = steward(
        "chat", "-", "--max-tokens", "8", "--json", env_dirs=tmp_path, stdin=b"Name a color.\xfe\n"
    )
    assert piped.returncode == 0, piped.stderr.decode()[-2000:]
    assert events_of(piped)[-1]["type"] == "Completed"
    big = tmp_path / "prompt.txt"
    big.write_text("word " * 40_000 + "\nSummarize.")  # 200 KB: too long for an argument list anyway
    done = steward("chat", "--file", str(big), "--max-tokens", "8", "--json", env_dirs=tmp_path)
    events = events_of(done)
    assert done.returncode == 1
    failed = events[-1]
    assert failed["type"] == "RequestFailed" and "context_overflow" in failed["kinds"]
    assert "cannot hold the latest message" in str(failed["detail"])  # too big for every window: not sent
