"""The screenshots `make screenshots` writes (via `python -m steward.screenshots OUTDIR`): start the
REAL app with the embedded servers, send one real chat (and one real request through the hosted
gateway, so its page lists it), and write every page in the light and the dark theme at 1024x700 and 1600x1000 (dashboard-light-1024x700.png, chat-dark-1600x1000.png, ...),
plus <page>.png (light, 1600x1000) for the README's hero image and the AppStream metadata.

Config, data and logs go to a temporary directory so the user's settings and history are untouched;
the cache (the built llama-server) is shared so nothing is rebuilt. Runs offscreen unless a display
platform was asked for. The first-run panel shows on the dashboard pictures only, so every other
page shows its own content.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steward.gui.bridge import Bridge, ServiceFactory
    from steward.gui.main_window import MainWindow

PROMPT = "In two short sentences: why do local LLM servers need a watchdog?"
GATEWAY_PROMPT = "Name one reason to run a language model locally."
SIZES = ((1024, 700), (1600, 1000))
THEMES = ("light", "dark")
HERO = ("light", (1600, 1000))  # <page>.png, referenced by README.md and the metainfo


def _isolate(root: Path) -> None:
    for name in ("CONFIG", "DATA", "LOG"):
        os.environ[f"STEWARD_{name}_DIR"] = str(root / name.lower())
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


async def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def ask_gateway(bridge: Bridge, client: str = "screenshots/1") -> bool:
    """Send one real chat request through the hosted gateway (with its token) and wait until the
    Gateway page's list has it; False when no gateway runs (not hosted, off, or its port taken)."""
    import httpx

    service = bridge.service
    if service is None:
        return False
    status = await service.gateway_status()
    if not status.running:
        print(f"note: no gateway request in the pictures ({status.error or 'the gateway is not running'})")
        return False
    headers = {"User-Agent": client}
    if service.settings.gateway.require_token:
        headers["Authorization"] = f"Bearer {(await service.gateway_token.get()).value}"
    body = {"model": "auto", "messages": [{"role": "user", "content": GATEWAY_PROMPT}], "max_tokens": 32}
    async with httpx.AsyncClient(timeout=120) as http:
        response = await http.post(f"{status.url}/v1/chat/completions", headers=headers, json=body)
    response.raise_for_status()
    await _wait(lambda: bridge.gateway.recent_gateway_requests(), 10, "the gateway request to be listed")
    return True


LAB_FAULTS = ("refused", "cut")
"""The drill the Lab page's pictures show: two quick faults on the default targets."""


async def drill_for_pictures(window: MainWindow, timeout: float = 240) -> bool:
    """Run a short failover drill on the Lab page (the fallback chain's models, LAB_FAULTS) and
    select its first scenario, so the Lab pictures show a result; False when it could not run."""
    from steward.gui.pages.lab import LabPage

    page = window.pages.get("lab")
    if not isinstance(page, LabPage):
        return False
    window.show_page("lab")
    page.tabs.setCurrentWidget(page.drill)  # the pictures show the drill (the Objectives tab comes first)
    await _wait(lambda: page.drill.targets.count() > 0, 30, "the Lab's models")
    page.drill.tick_faults(LAB_FAULTS)
    page.drill.run_button.click()
    if page.running is None:
        return False
    await _wait(lambda: page.running is None, timeout, "the failover drill")
    if page.drill.report is not None and page.drill.report.scenarios:
        page.drill.table.selectRow(0)
    return page.drill.report is not None


def file_name(page: str, theme: str, size: tuple[int, int]) -> str:
    return f"{page}-{theme}-{size[0]}x{size[1]}.png"


async def capture(
    out: Path,
    factory: ServiceFactory | None = None,
    *,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    themes: tuple[str, ...] = THEMES,
    settle_s: float = 1.5,
) -> list[Path]:
    """Run the app on `factory` (default: embedded servers, no gateway), chat once, and save every
    page in every theme and size (`settle_s` of live loop per picture); returns the files written."""

    from PySide6.QtWidgets import QApplication

    from steward.gui.app import build_window
    from steward.gui.bridge import default_factory
    from steward.gui.pages.chat import ChatPage
    from steward.gui.theme import apply_theme
    from steward.runtime import RuntimeOptions

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    bridge, window = build_window(
        factory or default_factory(RuntimeOptions(embedded=True, discover=False)), theme=themes[0]
    )
    window.resize(*sizes[-1])
    window.show()
    bridge.start()
    written: list[Path] = []
    try:
        await _wait(
            lambda: (
                bridge.runtime is not None or window.statusBar().currentMessage().startswith("engine failed")
            ),
            180,
            "the engine to start",
        )
        if bridge.runtime is None:
            raise RuntimeError(window.statusBar().currentMessage())
        snapshot = bridge.snapshot
        await _wait(lambda: bridge.snapshot is not None and bridge.snapshot.models, 60, "models")
        await _wait(
            lambda: all(m.health in ("healthy", "degraded") for m in (bridge.snapshot or snapshot).models),  # type: ignore[union-attr]
            60,
            "the models to be healthy",
        )
        chat = window.pages["chat"]
        assert isinstance(chat, ChatPage)
        window.show_page("chat")
        chat.input.setPlainText(PROMPT)
        chat.send()
        await _wait(lambda: chat.current is not None and chat.current.finished, 120, "the chat answer")
        if chat.current is not None and chat.current.chain:
            chat.current.badge.setChecked(True)  # show the attempt chain in the picture
        chat.input.setPlainText("And what does Steward do when one of them stops answering?")
        await ask_gateway(bridge)
        if not await drill_for_pictures(window):
            print("note: no failover drill in the Lab pictures")
        await asyncio.sleep(
            2 * settle_s
        )  # a few snapshot ticks so cards, charts and the status bar are current
        welcome = window.first_run.isVisible()
        for theme in themes:
            apply_theme(app, theme)
            for size in sizes:
                window.resize(*size)
                for name in window.pages:
                    # The welcome panel (shown on a first run) on the dashboard only: the other
                    # pages show what they hold, as they do once a user has dismissed it.
                    window.first_run.setVisible(welcome and name == "dashboard")
                    window.show_page(name)
                    focused = app.focusWidget()
                    if focused is not None:  # no focus ring on whatever the panel's hiding left focused
                        focused.clearFocus()
                    await asyncio.sleep(settle_s)  # the loop keeps running Qt: layouts settle, charts redraw
                    picture = window.grab()
                    if picture.size().toTuple() != size:  # a page's minimum size won: say so, keep it
                        print(
                            f"note: {name} is {picture.width()}x{picture.height()}, not {size[0]}x{size[1]}"
                        )
                    paths = [out / file_name(name, theme, size)]
                    if (theme, size) == HERO:
                        paths.append(out / f"{name}.png")
                    for path in paths:
                        if not picture.save(str(path)):
                            raise RuntimeError(f"could not write {path}")
                        written.append(path)
    finally:
        await bridge.shutdown()
        window.close()
    return written


def main(argv: list[str] | None = None, factory: ServiceFactory | None = None) -> int:
    """Write every page, both themes, both sizes to OUTDIR (`make screenshots` runs
    `python -m steward.screenshots OUTDIR`, which passes the desktop app's factory, gateway included)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m steward.screenshots OUTDIR", file=sys.stderr)
        return 2
    out = Path(args[0]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="steward-screenshots-") as tmp:
        _isolate(Path(tmp))
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance() or QApplication([sys.argv[0]])
        assert isinstance(app, QApplication)
        app.setApplicationName("Steward")
        from steward.gui.loop import make_loop

        loop = make_loop(app)
        try:
            with loop:
                written = loop.run_until_complete(capture(out, factory))
        except Exception as exc:
            print(f"screenshots failed: {exc}", file=sys.stderr)
            return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
