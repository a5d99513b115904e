"""Light and dark palettes (following the system unless the user chose) and status colours."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

HEALTH_COLOURS = {
    "healthy": "#2e9d57",
    "degraded": "#d39a1c",
    "unhealthy": "#d0433b",
    "quarantined": "#8d5bd1",
    "loading": "#3b82c4",
    "unknown": "#8a8f98",
}


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        return bool(scheme() == Qt.ColorScheme.Dark)
    return QGuiApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Apply the Fusion style with a light or dark palette; returns True when dark."""
    dark = system_is_dark() if theme == "system" else theme == "dark"
    app.setStyle("Fusion")
    palette = QPalette()
    if dark:
        colours = {
            QPalette.ColorRole.Window: "#1f2227",
            QPalette.ColorRole.WindowText: "#e6e6e6",
            QPalette.ColorRole.Base: "#17191d",
            QPalette.ColorRole.AlternateBase: "#23262c",
            QPalette.ColorRole.Text: "#e6e6e6",
            QPalette.ColorRole.Button: "#2a2e35",
            QPalette.ColorRole.ButtonText: "#e6e6e6",
            QPalette.ColorRole.Highlight: "#3b82c4",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#2a2e35",
            QPalette.ColorRole.ToolTipText: "#e6e6e6",
            QPalette.ColorRole.PlaceholderText: "#8a8f98",
            QPalette.ColorRole.Link: "#6aa9e6",
        }
    else:
        colours = {
            QPalette.ColorRole.Window: "#f4f5f7",
            QPalette.ColorRole.WindowText: "#1d1f23",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f0f1f4",
            QPalette.ColorRole.Text: "#1d1f23",
            QPalette.ColorRole.Button: "#e9ebef",
            QPalette.ColorRole.ButtonText: "#1d1f23",
            QPalette.ColorRole.Highlight: "#2f6fb0",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#ffffff",
            QPalette.ColorRole.ToolTipText: "#1d1f23",
            QPalette.ColorRole.PlaceholderText: "#80858f",
            QPalette.ColorRole.Link: "#2f6fb0",
        }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    app.setProperty("steward_dark", dark)
    return dark


def health_colour(status: str) -> str:
    return HEALTH_COLOURS.get(status, HEALTH_COLOURS["unknown"])
