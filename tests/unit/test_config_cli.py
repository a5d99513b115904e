"""`steward config validate/show`: read-only, fails until the file is fixed, bounded messages, --strict."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from steward.cli import main


@pytest.fixture(autouse=True)
def _drop_cli_log_handlers() -> Iterator[None]:
    """`main()` configures the root logger; later tests must not write into this test's capture."""
    before = list(logging.getLogger().handlers)
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()


@pytest.fixture
def settings_path() -> Path:
    path = Path(os.environ["STEWARD_CONFIG_DIR"]) / "settings.toml"  # isolated by tests/conftest.py
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


BROKEN = (
    b'[breaker]\nfailure_threshold = 0\n\n[[endpoints]]\nid = "lms"\nkind = "openai"\n'
    b'base_url = "http://127.0.0.1:1234/v1"\n'
)


@pytest.mark.parametrize("raw", [BROKEN, b"[breaker\nfailure_threshold = = 3\n"])
def test_validate_twice_fails_twice_and_changes_nothing(
    settings_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes
) -> None:
    settings_path.write_bytes(raw)
    for _ in range(2):
        assert main(["config", "validate"]) == 1
        out, err = capsys.readouterr()
        assert "NOT valid" in out
        assert "left unchanged" in err
        assert _listing(settings_path.parent) == {"settings.toml": raw}  # no backup, same bytes


def test_validate_names_field_value_and_reason(
    settings_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_path.write_bytes(BROKEN)
    assert main(["config", "validate"]) == 1
    err = capsys.readouterr().err
    assert "breaker.failure_threshold = 0: must be at least 1; ignored, the default (3) is used" in err


def test_show_prints_what_steward_would_use_and_changes_nothing(
    settings_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_path.write_bytes(BROKEN)
    assert main(["config", "show"]) == 0
    out, err = capsys.readouterr()
    assert 'id = "lms"' in out and "failure_threshold = 3" in out
    assert "breaker.failure_threshold" in err
    assert _listing(settings_path.parent) == {"settings.toml": BROKEN}


def test_validate_passes_once_the_file_is_fixed(
    settings_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_path.write_bytes(BROKEN)
    assert main(["config", "validate"]) == 1
    settings_path.write_bytes(BROKEN.replace(b"failure_threshold = 0", b"failure_threshold = 4"))
    capsys.readouterr()
    assert main(["config", "validate"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(": valid") and err == ""


def test_unknown_key_warns_with_a_suggestion_and_fails_only_with_strict(
    settings_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings_path.write_bytes(b"[breaker]\nfailure_treshold = 4\n")
    assert main(["config", "validate"]) == 0
    out, err = capsys.readouterr()
    assert ": valid" in out
    assert "unknown setting 'breaker.failure_treshold'" in err
    assert "did you mean 'breaker.failure_threshold'?" in err
    assert main(["config", "validate", "--strict"]) == 1
    out, err = capsys.readouterr()
    assert "NOT valid with --strict: 1 unknown setting" in out
    assert "did you mean 'breaker.failure_threshold'?" in err


def test_strict_passes_a_clean_file(settings_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings_path.write_bytes(b"[breaker]\nfailure_threshold = 4\n")
    assert main(["config", "validate", "--strict"]) == 0
    assert ": valid" in capsys.readouterr().out


def test_a_10_mb_id_is_rejected_with_short_messages(
    settings_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = "x" * 10_000_000
    long_key = "y" * 100_000  # table keys end up in field paths: cut there too
    settings_path.write_text(
        f'[[endpoints]]\nid = "{huge}"\nkind = "openai"\nbase_url = "http://127.0.0.1:1/"\n'
        f'[routing.capabilities]\n"{long_key}/m" = ["chat"]\n',
        encoding="utf-8",
    )
    assert main(["config", "validate"]) == 1
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert any("endpoints[0].id" in line and "at most 200 characters" in line for line in lines)
    assert any("routing.capabilities." in line and "(key)" in line for line in lines)
    assert all(len(line) < 300 for line in lines), max(map(len, lines))
    assert len(out) < 300
