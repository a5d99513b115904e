"""Issue 14, the main window's part: first-run panel (item 9), menu bar with shortcuts, F1 help,
a visible focus ring, and a window that fits small screens and uses large ones (item 6)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QByteArray, QRect, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.config.settings_file import FILE_NAME
from steward.gui import first_run
from steward.gui.bridge import Bridge, default_factory
from steward.gui.first_run import show_at_start
from steward.gui.main_window import MainWindow, default_size, fit_on_screens, ui_state
from steward.gui.theme import apply_theme
from steward.paths import config_dir
from steward.store import ChatMessage as StoredMessage
from tests.gui.conftest import AppHarness, chat_page, llama_settings, wait_until
from tests.support.llama import LlamaServer

LONG_ID = "a-server-with-a-really-long-name-that-users-do-give-it-0123456789"[:64]


class FakeClock:
    """time.monotonic for the first-run panel: the test moves it, nothing sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_run_panel_counts_start_up_seconds_points_to_servers_and_stays_dismissed(
    harness_factory: Callable[..., AppHarness],
    llama_small: LlamaServer,
    qtbot: QtBot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not (config_dir() / FILE_NAME).exists(), "a first launch: no settings file yet"
    h = harness_factory(llama_settings(("small", llama_small.url)))
    panel = h.window.first_run
    assert panel.isVisible()
    wait_until(h.loop, lambda: panel.progress.text().startswith("Ready after"))
    assert "SmolLM2" in panel.about.text() and "trying things out" in panel.about.text()
    assert "Servers page" in panel.servers_text.text()

    clock = FakeClock()
    monkeypatch.setattr(first_run.time, "monotonic", clock)
    h.bridge.runtime_starting.emit("starting model servers and the engine…")  # as bridge.start() does
    assert panel._ticker.isActive(), "the seconds count live while starting"
    assert panel.progress.text() == "Starting model servers and the engine… 0 s"
    clock.now += 2.2
    panel._ticker.timeout.emit()
    assert panel.progress.text() == "Starting model servers and the engine… 2 s"
    clock.now += 1.0
    h.bridge.runtime_ready.emit([])
    assert not panel._ticker.isActive()
    assert panel.progress.text().startswith("Ready after 3 s")

    qtbot.mouseClick(panel.servers_button, Qt.MouseButton.LeftButton)
    assert h.window.current_page_name() == "servers"

    second = MainWindow(h.bridge)  # not dismissed yet: the next launch shows it again
    assert second.first_run.isVisibleTo(second)
    second.deleteLater()
    qtbot.mouseClick(panel.dismiss_button, Qt.MouseButton.LeftButton)
    assert not panel.isVisible()
    third = MainWindow(h.bridge)
    assert not third.first_run.isVisibleTo(third), "dismissed once, never shown again at start"
    third.deleteLater()
    h.window.actions_by_name["welcome"].trigger()
    assert panel.isVisible(), "View ▸ Show welcome panel brings it back"


def test_an_existing_user_with_a_settings_file_never_gets_the_first_run_panel(qloop: object) -> None:
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / FILE_NAME).write_text("schema_version = 1\n")
    for _launch in range(2):  # not now, and not at the next launch either
        window = MainWindow(Bridge(default_factory()))
        assert not window.first_run.isVisibleTo(window)
        window.deleteLater()
    assert not show_at_start(ui_state())


def test_menu_bar_shows_every_shortcut_and_the_shortcuts_work(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    w = h.window
    assert [a.text().replace("&", "") for a in w.menuBar().actions()] == ["File", "View", "Models", "Help"]
    menus = w.menus

    def shortcuts(menu_name: str) -> dict[str, str]:
        return {
            a.text().replace("&", ""): a.shortcut().toString()
            for a in menus[menu_name].actions()
            if not a.isSeparator()
        }

    assert [shortcuts("View")[name] for name in ("Dashboard", "Chat", "Gateway", "Lab")] == [
        "Ctrl+1",
        "Ctrl+2",
        "Ctrl+8",
        "Ctrl+9",
    ]
    assert len([k for k in shortcuts("View").values() if k.startswith("Ctrl+")]) == 9
    assert shortcuts("Models")["Choose a model…"] == "Ctrl+K"
    assert shortcuts("Models")["New chat"] == "Ctrl+N"
    assert shortcuts("File")["Quit Steward"] == "Ctrl+Q"
    assert shortcuts("Help")["Keyboard shortcuts"] == "F1"

    w.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None)
    qtbot.keyClick(w, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert w.current_page_name() == "models"

    page = chat_page(h)
    store = h.bridge.store
    assert store is not None
    session = store.create_session("an old talk", time.time())
    store.append_message(StoredMessage(session, "user", "Hello there", time.time()))
    store.flush()
    page.refresh_sessions()
    wait_until(h.loop, lambda: session in page.sessions.ids())
    page.open_session(session)
    wait_until(h.loop, lambda: len(page.history) == 1)
    qtbot.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert w.current_page_name() == "chat"
    assert page.history == [] and page.session_id is None, "Ctrl+N started a new chat"
    assert page.input.hasFocus()
    page.open_session(session)  # and again while Chat is the page shown (no second, clashing Ctrl+N)
    wait_until(h.loop, lambda: len(page.history) == 1)
    qtbot.keyClick(w, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert page.history == [] and page.session_id is None

    qtbot.keyClick(w, Qt.Key.Key_F1)
    dialog = w.shortcuts_dialog
    assert dialog.isVisible()
    rows = dict((what, keys) for keys, what in dialog.rows())
    assert rows["New chat"] == "Ctrl+N" and rows["Choose a model"] == "Ctrl+K" and rows["Chat"] == "Ctrl+2"
    assert rows["Quit Steward"] == "Ctrl+Q" and "Chat: send the message" in rows
    dialog.close()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_keyboard_focus_draws_a_ring_in_the_highlight_colour(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, qtbot: QtBot, theme: str
) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    h = harness_factory(llama_settings(("small", llama_small.url)))
    apply_theme(app, theme)
    app.setStyleSheet(app.styleSheet())  # re-polish: styled widgets take the new palette
    QApplication.processEvents()
    button = h.window.first_run.servers_button
    h.window.activateWindow()
    highlight = app.palette().color(QPalette.ColorRole.Highlight)
    assert button.palette().color(QPalette.ColorRole.Highlight) == highlight

    def ring_pixels() -> int:
        image = button.grab().toImage()
        y = image.height() // 2
        edge = [QColor(image.pixel(x, y)) for x in range(0, 3)]
        return sum(1 for c in edge if _close(c, highlight))

    h.window.first_run.dismiss_button.setFocus(Qt.FocusReason.TabFocusReason)
    assert ring_pixels() == 0, "no ring without focus"
    button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(button.hasFocus)
    assert ring_pixels() >= 1, f"no {highlight.name()} ring on the focused button in {theme}"
    sidebar = h.window.sidebar
    sidebar.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(sidebar.hasFocus)
    image = sidebar.grab().toImage()
    assert _close(QColor(image.pixel(0, image.height() // 2)), highlight), "the sidebar shows focus too"
    apply_theme(app, "light")
    app.setStyleSheet(app.styleSheet())


def _close(a: QColor, b: QColor, tolerance: int = 40) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) <= tolerance


def test_window_fits_1000x650_with_a_long_model_name_and_a_long_conversation(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings((LONG_ID, llama_small.url)))
    w = h.window
    page = chat_page(h)
    store = h.bridge.store
    assert store is not None
    session = store.create_session("a long talk " * 20, time.time())
    unbroken = "https://example.org/" + "x" * 400
    for n in range(30):
        text = f"Turn {n} talks about {unbroken} and more. " * 3
        store.append_message(StoredMessage(session, "user" if n % 2 == 0 else "assistant", text, time.time()))
    store.flush()
    page.refresh_sessions()
    wait_until(h.loop, lambda: session in page.sessions.ids())
    w.show_page("chat")
    page.open_session(session)
    wait_until(h.loop, lambda: len(page.history) == 30)
    wait_until(
        h.loop,
        lambda: any(LONG_ID in page.model_picker.itemText(i) for i in range(page.model_picker.count())),
    )
    w.health_label.setText("12 healthy, 3 degraded, 2 quarantined, 1 unhealthy, 4 loading " * 3)
    w.servers_label.setText("servers up: 12/14 " * 5)
    QApplication.processEvents()

    # What the window itself owns never forces it wide.
    assert w.statusBar().minimumSizeHint().width() <= 400
    assert w.menuBar().minimumSizeHint().width() <= 400
    assert w.first_run.minimumSizeHint().width() <= 600
    assert w.sidebar.width() == 170
    assert w.servers_label.shown_text() != w.servers_label.full_text() or w.servers_label.width() > 300
    assert w.servers_label.toolTip() == w.servers_label.full_text()
    # And the whole window (every page, chat included) fits a small screen.
    hint = w.minimumSizeHint().expandedTo(w.minimumSize())
    for name, each in w.pages.items():
        need = each.minimumSizeHint()
        assert need.width() <= 1000 - w.sidebar.width() and need.height() <= 560, (
            f"the {name} page needs {need}"
        )
    assert hint.width() <= 1000 and hint.height() <= 650, hint
    w.resize(1000, 650)
    QApplication.processEvents()
    assert w.width() <= 1000 and w.height() <= 650


def test_default_size_uses_the_screen_and_a_restored_window_lands_on_a_visible_screen(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, tmp_path: Path
) -> None:
    assert default_size(QSize(1920, 1040)).width() > 1500 and default_size(QSize(1920, 1040)).height() > 800
    assert default_size(QSize(1366, 728)) == QSize(1200, 728)
    assert default_size(QSize(1024, 700)) == QSize(1024, 700)
    assert default_size(QSize(2560, 1400)) == QSize(2048, 1120)

    screens = [QRect(0, 0, 1920, 1040), QRect(1920, 0, 1280, 1000)]
    assert fit_on_screens(QRect(100, 100, 1200, 780), screens) == QRect(100, 100, 1200, 780)
    assert fit_on_screens(QRect(2000, 50, 1600, 900), screens) == QRect(1920, 50, 1280, 900)
    lost = fit_on_screens(QRect(5000, 3000, 1200, 780), screens)  # its monitor was unplugged
    assert screens[0].contains(lost) and lost.size() == QSize(1200, 780)
    assert lost.center() == screens[0].center()

    h = harness_factory(llama_settings(("small", llama_small.url)))
    w = h.window
    w.setGeometry(QRect(6000, 4000, 700, 500))  # saved on a screen that is gone
    state = ui_state()
    state.setValue("geometry", w.saveGeometry())
    state.sync()
    again = MainWindow(h.bridge)
    geometry = again.geometry()
    screen = QGuiApplication.primaryScreen().availableGeometry()
    assert screen.intersects(geometry) and screen.contains(geometry.topLeft()), (geometry, screen)
    assert isinstance(state.value("geometry"), QByteArray)
    again.deleteLater()


@pytest.mark.parametrize("remember", [True, False])
def test_remember_window_size_decides_whether_the_size_is_kept(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, remember: bool
) -> None:
    """Settings › Appearance › Remember window size: on, closing keeps the geometry for the next
    start; off, it is forgotten (the next start uses the default size)."""
    settings = llama_settings(("small", llama_small.url))
    settings = settings.model_copy(
        update={"ui": settings.ui.model_copy(update={"remember_geometry": remember})}
    )
    h = harness_factory(settings)
    wait_until(h.loop, lambda: h.bridge.settings is not None)
    state = ui_state()
    state.setValue("geometry", QByteArray(b"an older size"))
    state.sync()
    h.window.resize(900, 640)
    h.window.close()
    state.sync()
    kept = state.value("geometry")
    if remember:
        assert isinstance(kept, QByteArray) and kept != QByteArray(b"an older size")
    else:
        assert kept is None, "the size is not kept when remembering is off"
