"""Logging: secrets never reach the log file or stderr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from steward.logs import redact, setup_logging


@pytest.fixture(autouse=True)
def _restore_root_logger() -> object:
    before = list(logging.getLogger().handlers)
    level = logging.getLogger().level
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler not in before:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def test_redact_hides_bearer_tokens_api_keys_and_sk_keys() -> None:
    text = 'Authorization: Bearer abc.def-123 api_key="s3cr3t" token=tok123 sk-ABCDEFGHIJKLMNOP rest'
    cleaned = redact(text)
    for secret in ("abc.def-123", "s3cr3t", "tok123", "sk-ABCDEFGHIJKLMNOP"):
        assert secret not in cleaned
    assert cleaned.endswith("rest") and cleaned.count("«redacted»") == 4


def test_the_log_file_gets_the_message_without_the_secret(tmp_path: Path) -> None:
    path = setup_logging("INFO", directory=tmp_path, stderr=False)
    assert path == tmp_path / "steward.log"
    logging.getLogger("steward.test").warning("calling %s with api_key=%s", "server", "hunter2")
    for handler in logging.getLogger().handlers:
        handler.flush()
    content = path.read_text()
    assert "calling server with api_key=«redacted»" in content and "hunter2" not in content


def test_an_unwritable_log_dir_does_not_stop_the_app(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert setup_logging("INFO", directory=blocker / "logs", stderr=False) is None
