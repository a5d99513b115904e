"""Start the desktop app: QApplication + qasync loop, the window first, the runtime behind it."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from steward.gui.bridge import Bridge, ServiceFactory, default_factory
from steward.gui.loop import make_loop
from steward.gui.main_window import MainWindow
from steward.gui.theme import apply_theme, stylesheet
from steward.gui.tray import Tray, app_icon

log = logging.getLogger(__name__)


def build_window(factory: ServiceFactory | None = None, theme: str = "system") -> tuple[Bridge, MainWindow]:
    """The bridge and main window (the QApplication must exist), with the tray icon when there is a tray."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        apply_theme(app, theme, stylesheet())
        app.setWindowIcon(app_icon())
        app.setDesktopFileName(
            "io.github.steward.Steward"
        )  # matches the installed .desktop entry (Wayland docks)
    bridge = Bridge(factory or default_factory())
    window = MainWindow(bridge)
    window.tray = Tray(bridge, window)  # type: ignore[attr-defined]
    return bridge, window


def run(argv: list[str] | None = None, factory: ServiceFactory | None = None) -> int:
    """Run the app until the window closes. `--self-test` renders every page and exits 0."""
    args = list(sys.argv if argv is None else argv)
    started = time.perf_counter()
    app = QApplication.instance() or QApplication(args)
    assert isinstance(app, QApplication)
    app.setApplicationName("Steward")
    app.setOrganizationName("Steward")
    app.setQuitOnLastWindowClosed(True)
    loop = make_loop(app)
    bridge, window = build_window(factory)
    window.show()
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)

    def first_paint() -> None:
        seconds = time.perf_counter() - started
        log.info("first paint after %.2f s", seconds)
        if "--self-test" in args:
            print(f"self-test: first paint after {seconds:.2f} s")
        bridge.start()

    QTimer.singleShot(0, first_paint)
    if "--self-test" in args:
        QTimer.singleShot(100, lambda: _self_test(window, closed))
    with loop:
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(bridge.shutdown())
        loop.run_until_complete(loop.shutdown_asyncgens())
    return 0


def _self_test(window: MainWindow, closed: asyncio.Event) -> None:
    """Render every page in memory (proves the Qt plugins and resources are present); writes nothing."""
    for index, name in enumerate(window.pages):
        window.show_page(index)
        QApplication.processEvents()
        if window.grab().isNull():
            print(f"self-test: page {name} did not render", file=sys.stderr)
            sys.exit(1)
    print(f"self-test: rendered {len(window.pages)} pages")
    window.close()
    closed.set()
