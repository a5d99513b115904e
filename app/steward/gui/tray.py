"""The tray icon: shows the window, quits, and notifies when a model is quarantined, released or
recovers, when it burns its error budget too fast (an SLO alert) or drifts from its usual behaviour. Where no system tray exists (offscreen, some desktops) it does nothing, silently."""

from __future__ import annotations

from importlib import resources

from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from steward.engine.events import EngineEvent, HealthChanged, Quarantined, Released
from steward.gui.bridge import Bridge
from steward.service.model_watch import DriftDetected, SloAlertChanged

RECOVERED_FROM = frozenset({"unhealthy", "quarantined"})


def app_icon() -> QIcon:
    """The Steward icon from the packaged resources (an empty icon if it is missing)."""
    try:
        data = resources.files("steward.resources").joinpath("icons/steward.svg").read_bytes()
    except (FileNotFoundError, ModuleNotFoundError):
        return QIcon()
    pixmap = QPixmap()
    pixmap.loadFromData(data, "SVG")
    return QIcon(pixmap)


def notification_for(event: EngineEvent) -> tuple[str, str] | None:
    """(title, text) worth a desktop notification, or None."""
    if isinstance(event, Quarantined):
        how = "automatically" if not event.manual else "by you"
        return f"{event.model} quarantined", (
            f"{event.reason} (quarantined {how})" if event.reason else f"quarantined {how}"
        )
    if isinstance(event, Released):
        return f"{event.model} released", event.reason
    if isinstance(event, HealthChanged) and event.old in RECOVERED_FROM and event.new == "healthy":
        return f"{event.model} recovered", event.reason or "answering normally again"
    if isinstance(event, SloAlertChanged) and event.alert is not None:
        return f"{event.model} is burning its error budget", event.detail
    if isinstance(event, DriftDetected):
        return f"{event.model} changed", event.detail
    return None


class Tray:
    """Owns the QSystemTrayIcon when the desktop has a tray; `available` says whether it does."""

    def __init__(self, bridge: Bridge, window: QWidget) -> None:
        self.window = window
        self.sent: list[tuple[str, str]] = []  # every notification, also without a tray (tests, logs)
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon: QSystemTrayIcon | None = None
        if self.available:
            self.icon = QSystemTrayIcon(app_icon(), window)
            self.icon.setToolTip("Steward — local LLM control panel")
            menu = QMenu(window)
            show = QAction("Show Steward", menu)
            show.triggered.connect(self._show_window)
            quit_action = QAction("Quit", menu)
            quit_action.triggered.connect(QApplication.quit)
            menu.addAction(show)
            menu.addSeparator()
            menu.addAction(quit_action)
            self.icon.setContextMenu(menu)
            self.icon.activated.connect(lambda _reason: self._show_window())
            self.icon.show()
        bridge.engine_event.connect(self.on_event)

    def on_event(self, event: EngineEvent) -> None:
        note = notification_for(event)
        if note is None:
            return
        self.sent.append(note)
        del self.sent[:-100]
        if self.icon is not None and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(note[0], note[1], QSystemTrayIcon.MessageIcon.Information, 6000)

    def _show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
