"""The main window: sidebar of pages, menu bar with every shortcut, status bar, the first-run
panel, a visible focus ring, and a size that suits the screen (remembered, but always on one).

Layout rule: nothing the window itself owns (sidebar, status bar, menus, first-run panel) may
force it wider than ~1000 px; status texts are elided with their full text as tooltip.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRect, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from steward.config import Settings
from steward.engine.events import EngineEvent, Quarantined, Released
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridge import Bridge
from steward.gui.elided import ElidedLabel
from steward.gui.first_run import FirstRunPanel, show_at_start
from steward.gui.focus import focus_stylesheet
from steward.gui.help_dialog import ShortcutsDialog
from steward.gui.pages.chat import ChatPage
from steward.gui.pages.dashboard import DashboardPage
from steward.gui.pages.events import EventsPage
from steward.gui.pages.gateway import GatewayPage
from steward.gui.pages.hardware import HardwarePage
from steward.gui.pages.lab import LabPage
from steward.gui.pages.models import ModelsPage
from steward.gui.pages.servers import ServersPage
from steward.gui.pages.settings import SettingsPage
from steward.gui.theme import health_colour
from steward.paths import config_dir

DEFAULT_SIZE = QSize(1200, 780)
SCREEN_SHARE = 0.8
"""On a large screen the window opens at this share of the available area (1920x1080: ~1536x830)."""
MIN_VISIBLE = QSize(160, 60)
"""How much of a restored window must lie on a screen (title bar included) to be left where it is."""


def ui_state() -> QSettings:
    """Window state (geometry, the welcome panel's) lives beside the settings file, not in it."""
    return QSettings(str(config_dir() / "ui-state.ini"), QSettings.Format.IniFormat)


def default_size(available: QSize) -> QSize:
    """1200x780, or a share of a larger screen, never bigger than the screen's available area."""
    width = max(DEFAULT_SIZE.width(), int(available.width() * SCREEN_SHARE))
    height = max(DEFAULT_SIZE.height(), int(available.height() * SCREEN_SHARE))
    return QSize(min(width, available.width()), min(height, available.height()))


def fit_on_screens(frame: QRect, screens: list[QRect]) -> QRect:
    """`frame` moved and shrunk, if needed, so it lies on one of `screens` (available areas).

    A window mostly on a screen stays there (clamped inside it); one on a screen that is gone
    (unplugged monitor, other layout) is centred on the first screen.
    """
    if not screens:
        return frame
    home = max(screens, key=lambda s: _overlap(frame, s))
    if _overlap(frame, home) < MIN_VISIBLE.width() * MIN_VISIBLE.height():
        home = screens[0]
        size = frame.size().boundedTo(home.size())
        placed = QRect(home.topLeft(), size)
        placed.moveCenter(home.center())
        return placed
    size = frame.size().boundedTo(home.size())
    left = min(max(frame.left(), home.left()), home.right() - size.width() + 1)
    top = min(max(frame.top(), home.top()), home.bottom() - size.height() + 1)
    return QRect(left, top, size.width(), size.height())


def _overlap(a: QRect, b: QRect) -> int:
    both = a.intersected(b)
    return both.width() * both.height() if both.isValid() else 0


class MainWindow(QMainWindow):
    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setWindowTitle("Steward — local LLM control panel")
        screen = QGuiApplication.primaryScreen()
        self.resize(default_size(screen.availableGeometry().size()) if screen else DEFAULT_SIZE)
        self.pages: dict[str, QWidget] = {}
        self._start_page_pending = False  # True from _restore until the Start page setting was applied
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.stack = QStackedWidget()
        for name, page in self._build_pages():
            self.add_page(name, page)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        state = ui_state()
        self.first_run = FirstRunPanel(bridge, state, lambda: self.show_page("servers"))
        self.first_run.setVisible(show_at_start(state))
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.sidebar)
        body.addWidget(self.stack, 1)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.first_run)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)

        self.health_dot = QLabel()
        self.health_label = ElidedLabel("starting…")
        self.servers_label = ElidedLabel()
        self.requests_label = ElidedLabel()
        self.statusBar().addPermanentWidget(self.health_dot)
        for label in (self.health_label, self.servers_label, self.requests_label):
            self.statusBar().addPermanentWidget(label)
        self.actions_by_name: dict[str, QAction] = {}
        self.menus: dict[str, QMenu] = {}
        self._build_menus()
        self.setStyleSheet(focus_stylesheet())

        bridge.runtime_starting.connect(lambda text: self.statusBar().showMessage(text))
        bridge.settings_changed.connect(self._show_start_page)
        bridge.runtime_ready.connect(self._ready)
        bridge.runtime_failed.connect(
            lambda text: self.statusBar().showMessage(f"engine failed to start: {text}")
        )
        bridge.snapshot_changed.connect(self._status)
        bridge.notice.connect(lambda level, text: self.statusBar().showMessage(text, 8000))
        bridge.engine_event.connect(self._notify)
        self._restore()

    # --- menus ------------------------------------------------------------------------------

    def _action(
        self, menu: QMenu, name: str, text: str, keys: str | QKeySequence.StandardKey | None, slot: object
    ) -> QAction:
        action = QAction(text, self)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work even while the menu bar is hidden (some desktops)
        self.actions_by_name[name] = action
        return action

    def _menu(self, menu: QMenu) -> QMenu:
        self.menus[menu.title().replace("&", "")] = menu  # keeps the Python wrapper (and the menu) alive
        return menu

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = self._menu(bar.addMenu("&File"))
        self._action(file, "settings", "&Settings…", "Ctrl+,", lambda: self.show_page("settings"))
        file.addSeparator()
        self._action(file, "quit", "&Quit Steward", "Ctrl+Q", self.quit)
        view = self._menu(bar.addMenu("&View"))
        for index, name in enumerate(self.pages):
            self._action(
                view,
                f"page:{name}",
                f"&{name.capitalize()}",
                f"Ctrl+{index + 1}",
                lambda _=False, i=index: self.show_page(i),
            )
        view.addSeparator()
        self._action(view, "welcome", "Show &welcome panel", None, self.first_run.show)
        models = self._menu(bar.addMenu("&Models"))
        self._action(models, "pick_model", "&Choose a model…", "Ctrl+K", self._focus_model_picker)
        shared = getattr(self.pages["chat"], "new_chat_action", None)
        if isinstance(shared, QAction):  # the chat page's own Ctrl+N: one action, so no ambiguous key
            models.addAction(shared)
            shared.triggered.connect(self._show_new_chat)
            self.actions_by_name["new_chat"] = shared
        else:
            self._action(models, "new_chat", "&New chat", "Ctrl+N", self.new_chat)
        models.addSeparator()
        self._action(models, "models_page", "&Manage models", None, lambda: self.show_page("models"))
        self._action(models, "servers_page", "Connect &servers…", None, lambda: self.show_page("servers"))
        help_menu = self._menu(bar.addMenu("&Help"))
        self._action(help_menu, "shortcuts", "&Keyboard shortcuts", "F1", self.show_shortcuts)
        self._action(help_menu, "about", "&About Steward", None, self._about)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(list(self.actions_by_name.values()), self)
        dialog.setStyleSheet(focus_stylesheet())
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog

    def _about(self) -> None:
        from steward import __version__

        self.statusBar().showMessage(f"Steward {__version__}: a control panel for local LLM servers", 8000)

    def new_chat(self) -> None:
        """Show Chat with a fresh conversation, the cursor in the message box."""
        chat = self.pages["chat"]
        if isinstance(chat, ChatPage):
            chat.new_chat()
        self._show_new_chat()

    def _show_new_chat(self) -> None:
        self.show_page("chat")
        chat = self.pages["chat"]
        if isinstance(chat, ChatPage):
            chat.input.setFocus()

    def quit(self) -> None:
        """Close every window; the app then shuts down cleanly (servers stopped, state saved)."""
        QApplication.closeAllWindows()

    def _build_pages(self) -> list[tuple[str, QWidget]]:
        return [
            ("Dashboard", DashboardPage(self.bridge)),
            ("Chat", ChatPage(self.bridge)),
            ("Models", ModelsPage(self.bridge)),
            ("Servers", ServersPage(self.bridge)),
            ("Hardware", HardwarePage(self.bridge)),
            ("Settings", SettingsPage(self.bridge)),
            ("Events", EventsPage(self.bridge)),
            ("Gateway", GatewayPage(self.bridge)),
            ("Lab", LabPage(self.bridge)),
        ]

    def add_page(self, name: str, page: QWidget) -> None:
        page.setObjectName(f"page_{name.lower()}")
        self.pages[name.lower()] = page
        self.stack.addWidget(page)
        QListWidgetItem(name, self.sidebar)

    def show_page(self, index_or_name: int | str) -> None:
        if isinstance(index_or_name, str):
            names = list(self.pages)
            if index_or_name.lower() not in names:
                return
            index_or_name = names.index(index_or_name.lower())
        self.sidebar.setCurrentRow(index_or_name)

    def current_page_name(self) -> str:
        return list(self.pages)[self.stack.currentIndex()]

    def _focus_model_picker(self) -> None:
        self.show_page("chat")
        chat = self.pages["chat"]
        if isinstance(chat, ChatPage):
            chat.model_picker.setFocus()
            chat.model_picker.showPopup()

    def _ready(self, warnings: list[str]) -> None:
        if warnings:
            self.statusBar().showMessage(" · ".join(warnings), 20000)
        else:
            self.statusBar().showMessage("ready", 4000)

    def _status(self, snapshot: EngineSnapshot) -> None:
        counts: dict[str, int] = {}
        for model in snapshot.models:
            counts[model.health] = counts.get(model.health, 0) + 1
        worst = next(
            (
                h
                for h in ("unhealthy", "quarantined", "degraded", "loading", "healthy", "unknown")
                if counts.get(h)
            ),
            "unknown",
        )
        summary = ", ".join(f"{n} {h}" for h, n in sorted(counts.items())) or "no models"
        self.health_dot.setText(f"<span style='color:{health_colour(worst)}'>●</span>")
        self.health_label.setText(summary)
        up = sum(1 for s in snapshot.servers if s.state == "up")
        self.servers_label.setText(f"servers up: {up}/{len(snapshot.servers)}")
        self.requests_label.setText(f"active requests: {snapshot.active_requests}")

    def _notify(self, event: EngineEvent) -> None:
        if isinstance(event, Quarantined):
            because = f": {event.reason}" if event.reason else ""
            self.statusBar().showMessage(f"{event.model} quarantined{because}", 8000)
        elif isinstance(event, Released):
            self.statusBar().showMessage(f"{event.model} released: {event.reason}", 8000)

    def _restore(self) -> None:
        state = ui_state()
        geometry = state.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
            self.keep_on_screen()
        state.remove("page")  # an older version remembered the last page; the Start page setting decides
        self.show_page("dashboard")
        self._start_page_pending = True
        self.sidebar.currentRowChanged.connect(self._navigated)

    def _navigated(self, _row: int) -> None:
        """The user (or a menu, a shortcut, the welcome panel) chose a page: the start page came too late."""
        self._start_page_pending = False

    def _show_start_page(self, settings: Settings) -> None:
        """Settings › Appearance › Start page: shown once the settings arrive from the service (they
        come after the window), unless the user already went to another page meanwhile."""
        if not self._start_page_pending:
            return
        self.show_page(settings.ui.last_page)
        self._start_page_pending = False

    def keep_on_screen(self) -> None:
        """Move/shrink the window onto a screen that exists now (a restored one may not)."""
        screens = [s.availableGeometry() for s in QGuiApplication.screens()]
        primary = QGuiApplication.primaryScreen()
        if primary is not None:  # the primary screen first: where a lost window goes
            screens.sort(key=lambda r: r != primary.availableGeometry())
        target = fit_on_screens(self.geometry(), screens)
        if target != self.geometry():
            self.setGeometry(target)

    def closeEvent(self, event: QCloseEvent) -> None:
        state = ui_state()
        settings = self.bridge.settings
        if settings is None or settings.ui.remember_geometry:
            state.setValue("geometry", self.saveGeometry())
        else:  # Settings › Appearance › Remember window size is off: the next start uses the default size
            state.remove("geometry")
        super().closeEvent(event)


__all__ = ["MainWindow", "Qt"]
