"""`make screenshots` (issue 14): every page in both themes at 1024x700 and 1600x1000, plus the
<page>.png files README.md and the AppStream metadata show — written by the real app after a real
chat, here against the session's real llama-server (short settle times)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QMainWindow

from steward.desktop import desktop_factory
from steward.gui.main_window import MainWindow
from steward.gui.pages.gateway import GatewayPage
from steward.gui.pages.lab import LabPage
from steward.gui.screenshots import LAB_FAULTS, SIZES, THEMES, capture
from steward.runtime import RuntimeOptions
from tests.gui.conftest import keep_running, llama_settings
from tests.support.llama import LlamaServer, free_port

REPO = Path(__file__).resolve().parents[2]
PAGES = ["dashboard", "chat", "models", "servers", "hardware", "settings", "events", "gateway", "lab"]


def test_every_page_in_both_themes_and_both_sizes(
    qloop: asyncio.AbstractEventLoop,
    llama_small: LlamaServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = llama_settings(("small", llama_small.url)).with_changes("gateway.port", free_port())
    factory = desktop_factory(RuntimeOptions(settings=settings, store=True))
    grabbed: list[tuple[str, bool, int]] = []  # page, welcome panel shown, gateway requests listed
    lab_rows: list[int] = []  # drill scenarios listed on each Lab picture

    def grab(window: MainWindow) -> QPixmap:
        gateway = window.pages["gateway"]
        assert isinstance(gateway, GatewayPage)
        grabbed.append((window.current_page_name(), window.first_run.isVisible(), gateway.table.rowCount()))
        lab = window.pages["lab"]
        assert isinstance(lab, LabPage)
        if window.current_page_name() == "lab":
            lab_rows.append(lab.drill.table.rowCount())
        return QMainWindow.grab(window)

    monkeypatch.setattr(MainWindow, "grab", grab)
    asyncio.events._set_running_loop(None)
    try:
        written = qloop.run_until_complete(capture(tmp_path, factory, settle_s=0.1))
    finally:
        keep_running(qloop)
    expected = {f"{p}-{t}-{w}x{h}.png" for p in PAGES for t in THEMES for (w, h) in SIZES}
    expected |= {f"{p}.png" for p in PAGES}
    assert {p.name for p in written} == expected
    for path in written:
        image = QImage(str(path))
        size = re.search(r"-(\d+)x(\d+)\.png$", path.name)
        want = (int(size[1]), int(size[2])) if size else (1600, 1000)
        assert (image.width(), image.height()) == want, path.name
    dark, light = QImage(str(tmp_path / "settings-dark-1024x700.png")), QImage(str(tmp_path / "settings.png"))
    assert dark.pixelColor(5, 5).lightness() < 100 < light.pixelColor(5, 5).lightness()
    assert len(grabbed) == len(PAGES) * len(THEMES) * len(SIZES)
    welcome = {page for page, shown, _ in grabbed if shown}
    assert welcome == {"dashboard"}, "the first-run panel on the dashboard pictures only"
    assert all(rows >= 1 for page, _, rows in grabbed if page == "gateway"), (
        "a real request went through the gateway before the Gateway page was captured"
    )
    assert lab_rows == [len(LAB_FAULTS)] * len(THEMES) * len(SIZES), (
        "a real failover drill ran before the Lab page was captured"
    )


def test_readme_and_metainfo_show_screenshots_that_make_screenshots_writes() -> None:
    texts = (REPO / "README.md").read_text() + (
        REPO / "packaging/io.github.steward.Steward.metainfo.xml"
    ).read_text()
    shown = set(re.findall(r"packaging/screenshots/([\w.-]+\.png)", texts))
    assert "dashboard.png" in shown
    assert shown <= {f"{p}.png" for p in PAGES} | {
        f"{p}-{t}-{w}x{h}.png" for p in PAGES for t in THEMES for (w, h) in SIZES
    }
    for name in shown:
        assert (REPO / "packaging/screenshots" / name).is_file(), name
