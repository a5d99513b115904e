"""Shared fixtures: real llama-server instances (session-scoped), fault proxy, fake clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

# Imported up front: a late import (by hypothesis' terminal summary) would compile code after the
# GUI tests, where CPython 3.11's AST recursion-depth bug can strike (pytest-dev/pytest#10763).
import hypothesis  # noqa: F401
import pytest

from tests.support.llama import LlamaServer, make_llama_server

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test ever reads or writes the user's real config or data."""
    monkeypatch.setenv("STEWARD_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("STEWARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("STEWARD_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture(scope="session")
def llama_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llama-logs")


@pytest.fixture(scope="session")
def llama_small(llama_logs: Path) -> Iterator[LlamaServer]:
    """A real llama-server with a 1024-token window, shared by the whole session. Do not stop it."""
    server = make_llama_server(llama_logs, ctx=1024).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_large(llama_logs: Path) -> Iterator[LlamaServer]:
    """A real llama-server with a 4096-token window, shared by the whole session. Do not stop it."""
    server = make_llama_server(llama_logs, ctx=4096).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_gemma(llama_logs: Path) -> Iterator[LlamaServer]:
    """A real llama-server running Gemma 3 270M (base model, 2048 window), shared by the session."""
    from tests.support.gemma import gemma_path

    server = make_llama_server(llama_logs, ctx=2048, model=gemma_path()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llama_factory(llama_logs: Path) -> Iterator[Callable[..., LlamaServer]]:
    """Start private llama-servers (a test may stop/restart them); all are stopped afterwards."""
    started: list[LlamaServer] = []

    def factory(ctx: int = 1024, **kwargs: object) -> LlamaServer:
        server = make_llama_server(llama_logs, ctx=ctx, **kwargs).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def fake_clock() -> object:
    """A FakeClock (tests.support.fake_clock) starting at t=1000."""
    from tests.support.fake_clock import FakeClock

    return FakeClock()
