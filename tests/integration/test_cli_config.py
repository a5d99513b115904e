"""`steward config validate` as a user runs it (a real child process): read-only, fails until fixed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import run_steward

BROKEN = (
    '[breaker]\nfailure_threshold = 0\n\n[[endpoints]]\nid = "lms"\nkind = "openai"\n'
    'base_url = "http://127.0.0.1:1234/v1"\n'
)


def steward_config(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return run_steward("config", *args, dirs=home, text=True)


def test_validate_a_broken_file_twice_fails_twice_and_leaves_it_alone(tmp_path: Path) -> None:
    settings = tmp_path / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(BROKEN, encoding="utf-8")
    for _ in range(2):
        done = steward_config("validate", home=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "NOT valid" in done.stdout
        assert "breaker.failure_threshold = 0: must be at least 1" in done.stderr
        assert sorted(p.name for p in settings.parent.iterdir()) == ["settings.toml"]
        assert settings.read_text(encoding="utf-8") == BROKEN


def test_validate_strict_fails_on_an_unknown_key_that_plain_validate_only_warns_about(tmp_path: Path) -> None:
    settings = tmp_path / "config" / "settings.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text("[breaker]\nfailure_treshold = 4\n", encoding="utf-8")
    plain = steward_config("validate", home=tmp_path)
    assert plain.returncode == 0 and "did you mean 'breaker.failure_threshold'?" in plain.stderr
    strict = steward_config("validate", "--strict", home=tmp_path)
    assert strict.returncode == 1 and "unknown setting" in strict.stdout
