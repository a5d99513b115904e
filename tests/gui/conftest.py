"""GUI test helpers: a qasync loop on pytest-qt's QApplication, and the real window wired to a
runtime whose endpoints are REAL llama-servers started by the session fixtures."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.desktop import desktop_factory
from steward.gui.app import build_window
from steward.gui.bridge import Bridge
from steward.gui.loop import make_loop
from steward.gui.main_window import MainWindow
from steward.gui.pages.chat import ChatPage
from steward.runtime import RuntimeOptions


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    hooks = sys.get_asyncgen_hooks()
    loop = make_loop(qapp)
    keep_running(loop)
    yield loop

    async def collect() -> None:
        # Collect garbage WHILE the loop runs, so abandoned async generators (httpx streams of
        # cancelled requests) are finalized as loop tasks, not synchronously outside any loop.
        gc.collect()
        for _ in range(5):
            await asyncio.sleep(0.01)

    asyncio.events._set_running_loop(None)  # qasync refuses to run a loop that already runs
    loop.run_until_complete(collect())
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()  # also stops qasync's executor thread (a running QThread aborts the process at exit)
    asyncio.set_event_loop(None)
    sys.set_asyncgen_hooks(*hooks)


def wait_until(loop: asyncio.AbstractEventLoop, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Run the Qt+asyncio loop until `predicate()` is truthy (returns its value) or fail."""

    async def poll() -> Any:
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"condition not met in {timeout} s")

    try:
        return loop.run_until_complete(poll())
    finally:
        keep_running(loop)


def keep_running(loop: asyncio.AbstractEventLoop) -> None:
    """Between `wait_until` calls the test drives Qt directly (qtbot clicks process events), which
    also runs qasync's queued asyncio callbacks. In the app the loop always runs; here, mark it
    running for this thread so those callbacks see their loop (httpx/anyio require it)."""
    asyncio.events._set_running_loop(loop)


def llama_settings(*servers: tuple[str, str]) -> Settings:
    """Settings with the given (id, url) llama.cpp endpoints, in fallback order."""
    data = {
        "endpoints": [{"id": sid, "kind": "llamacpp", "base_url": url} for sid, url in servers],
        "embedded": {"enabled": False},
        "timeouts": {"first_token_s": 20.0, "connect_s": 1.0},
        "context": {"max_reply_tokens": 48},
        "health": {"probe_interval_s": 1.0},
    }
    settings = Settings.model_validate(data)
    return settings


class AppHarness:
    """The real main window + bridge on a runtime built from `settings`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, settings: Settings, gateway: bool = False) -> None:
        self.loop = loop

        asyncio.events._set_running_loop(None)
        # As the desktop app builds it (steward.desktop); the gateway only when a test asks for it.
        factory = desktop_factory(RuntimeOptions(settings=settings, store=True), gateway=gateway)

        self.bridge: Bridge
        self.window: MainWindow
        self.bridge, self.window = build_window(factory)
        self.window.show()
        self.bridge.start()
        wait_until(loop, lambda: self.bridge.runtime is not None and self.bridge.snapshot is not None)

    def close(self) -> None:
        self.loop.run_until_complete(self.bridge.shutdown())
        self.window.close()
        self.window.deleteLater()


@pytest.fixture
def harness_factory(qloop: asyncio.AbstractEventLoop) -> Iterator[Callable[..., AppHarness]]:
    made: list[AppHarness] = []

    def make(settings: Settings, gateway: bool = False) -> AppHarness:
        harness = AppHarness(qloop, settings, gateway)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


def chat_page(h: AppHarness) -> ChatPage:
    page = h.window.pages["chat"]
    assert isinstance(page, ChatPage)
    return page


def ask(h: AppHarness, text: str, *, qtbot: QtBot | None = None, timeout: float = 90) -> None:
    """Send `text` on the chat page and wait until its answer is finished.

    With `qtbot` the message is sent with the real Ctrl+Enter shortcut; without, by the Send button
    (synchronous: a synthetic key press also spins Qt's event queue)."""
    page = chat_page(h)
    h.window.show_page("chat")
    before = page.current
    page.input.setPlainText(text)
    if qtbot is not None:
        qtbot.keyClick(page.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    else:
        page.send_button.click()
    wait_until(h.loop, lambda: page.current is not before and page.current is not None, timeout=10)
    wait_until(h.loop, lambda: page.current is not None and page.current.finished, timeout=timeout)
