"""The main window: sidebar of pages, status bar, shortcuts, remembered geometry and page."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from steward.engine.events import EngineEvent, Quarantined, Released
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridge import Bridge
from steward.gui.pages.chat import ChatPage
from steward.gui.pages.dashboard import DashboardPage
from steward.gui.pages.events import EventsPage
from steward.gui.pages.gateway import GatewayPage
from steward.gui.pages.hardware import HardwarePage
from steward.gui.pages.models import ModelsPage
from steward.gui.pages.servers import ServersPage
from steward.gui.pages.settings import SettingsPage
from steward.gui.theme import health_colour
from steward.paths import config_dir


def ui_state() -> QSettings:
    """Window state (geometry, last page) lives beside the settings file, not in it."""
    return QSettings(str(config_dir() / "ui-state.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(self, bridge: Bridge) -> None:
        super().__init__()
        self.bridge = bridge
        self.setWindowTitle("Steward — local LLM control panel")
        self.resize(1200, 780)
        self.pages: dict[str, QWidget] = {}
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setFixedWidth(170)
        self.stack = QStackedWidget()
        for name, page in self._build_pages():
            self.add_page(name, page)
        self.sidebar.currentRowChanged.connect(self.stack.setCurrentIndex)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.health_label = QLabel("starting…")
        self.servers_label = QLabel()
        self.requests_label = QLabel()
        for label in (self.health_label, self.servers_label, self.requests_label):
            self.statusBar().addPermanentWidget(label)
        for index in range(self.sidebar.count()):
            QShortcut(QKeySequence(f"Ctrl+{index + 1}"), self, activated=lambda i=index: self.show_page(i))
        QShortcut(QKeySequence("Ctrl+K"), self, activated=self._focus_model_picker)

        bridge.runtime_starting.connect(lambda text: self.statusBar().showMessage(text))
        bridge.runtime_ready.connect(self._ready)
        bridge.runtime_failed.connect(
            lambda text: self.statusBar().showMessage(f"engine failed to start: {text}")
        )
        bridge.snapshot_changed.connect(self._status)
        bridge.notice.connect(lambda level, text: self.statusBar().showMessage(text, 8000))
        bridge.engine_event.connect(self._notify)
        self._restore()

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
        self.health_label.setText(f"<span style='color:{health_colour(worst)}'>●</span> {summary}")
        up = sum(1 for s in snapshot.servers if s.state == "up")
        self.servers_label.setText(f"servers up: {up}/{len(snapshot.servers)}")
        self.requests_label.setText(f"active requests: {snapshot.active_requests}")

    def _notify(self, event: EngineEvent) -> None:
        if isinstance(event, Quarantined):
            self.statusBar().showMessage(f"{event.model} quarantined: {event.reason}", 8000)
        elif isinstance(event, Released):
            self.statusBar().showMessage(f"{event.model} released: {event.reason}", 8000)

    def _restore(self) -> None:
        state = ui_state()
        geometry = state.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        page = state.value("page", "dashboard")
        self.show_page(str(page) if str(page) in self.pages else "dashboard")

    def closeEvent(self, event: QCloseEvent) -> None:
        state = ui_state()
        state.setValue("geometry", self.saveGeometry())
        state.setValue("page", self.current_page_name())
        super().closeEvent(event)


__all__ = ["MainWindow", "Qt"]
