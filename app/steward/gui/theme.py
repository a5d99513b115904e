"""The app's one theme: a light or dark QPalette (or the system's choice), the packaged stylesheet
re-resolved against it, and named semantic colours derived from whatever palette is active.

Everything that paints colours reads them from here or from its own palette, never from literals:
`apply_theme` can switch live (the Settings page calls it when ui.theme changes), and widgets that
paint themselves (charts, the health timeline) re-colour on `QEvent.PaletteChange`, which Qt sends
to every widget when the application palette changes. `theme_changed()` is a signal for anything
else that keeps colours (HTML with inline status colours, for example).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import resources

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleOption, QWidget

log = logging.getLogger(__name__)

THEMES = ("system", "light", "dark")

HEALTH_COLOURS = {
    "healthy": "#2e9d57",
    "degraded": "#d39a1c",
    "unhealthy": "#d0433b",
    "quarantined": "#8d5bd1",
    "loading": "#3b82c4",
    "unknown": "#8a8f98",
}

Role = QPalette.ColorRole

# Chosen so body text, muted text and links all reach WCAG AA (4.5:1) on Window, Base and
# AlternateBase of the same palette; tests/gui/test_theme.py checks this and the rendered pages.
LIGHT = {
    Role.Window: "#f4f5f7",
    Role.WindowText: "#1d1f23",
    Role.Base: "#ffffff",
    Role.AlternateBase: "#eceef2",
    Role.Text: "#1d1f23",
    Role.Button: "#e6e8ec",
    Role.ButtonText: "#1d1f23",
    Role.BrightText: "#ffffff",
    Role.Highlight: "#2f6fb0",
    Role.HighlightedText: "#ffffff",
    Role.ToolTipBase: "#ffffff",
    Role.ToolTipText: "#1d1f23",
    Role.PlaceholderText: "#5c616b",
    Role.Link: "#235d99",
    Role.Light: "#ffffff",
    Role.Midlight: "#e9ebef",
    Role.Mid: "#c4c8cf",
    Role.Dark: "#9aa0a9",
    Role.Shadow: "#6b7079",
}
DARK = {
    Role.Window: "#1f2227",
    Role.WindowText: "#e6e6e6",
    Role.Base: "#17191d",
    Role.AlternateBase: "#262a31",
    Role.Text: "#e6e6e6",
    Role.Button: "#2c3037",
    Role.ButtonText: "#e6e6e6",
    Role.BrightText: "#ffffff",
    Role.Highlight: "#2f6fb0",  # white on it >= 4.5 (as text on the window, use Link)
    Role.HighlightedText: "#ffffff",
    Role.ToolTipBase: "#2c3037",
    Role.ToolTipText: "#e6e6e6",
    Role.PlaceholderText: "#a3a8b1",
    Role.Link: "#7fb6ec",
    Role.Light: "#3a3f47",
    Role.Midlight: "#33373f",
    Role.Mid: "#454a53",
    Role.Dark: "#121417",
    Role.Shadow: "#000000",
}
# Series colours per theme: the dark set is lighter so lines stand out on a dark plot.
SERIES_LIGHT = ("#2f6fb0", "#23844a", "#b7800f", "#c0392b", "#7a4bc0", "#13807f", "#b1417f", "#66781f")
SERIES_DARK = ("#6aa9e6", "#4cc47a", "#e8b440", "#ef6a5f", "#b08ae8", "#3cc8c8", "#e07ab8", "#a9c24a")


@dataclass(frozen=True)
class ThemeColours:
    """Named colours of the active theme, for code that paints or writes rich text."""

    dark: bool
    window: QColor
    text: QColor
    muted: QColor  # secondary text (still >= 4.5:1 on window and card)
    card: QColor  # card and plot background
    border: QColor
    chart_axis: QColor  # axis lines, tick labels and axis titles
    chart_grid: QColor
    series: tuple[QColor, ...]
    error: QColor  # error/warning/success TEXT, readable (>= 4.5:1) on window and card;
    warning: QColor  # the HEALTH_COLOURS are for dots, bars and borders, not for text
    success: QColor

    def series_colour(self, index: int) -> QColor:
        return self.series[index % len(self.series)]


def is_dark(palette: QPalette) -> bool:
    return palette.color(Role.Window).lightness() < 128


def colours(palette: QPalette | None = None) -> ThemeColours:
    """The semantic colours of `palette` (default: the application's)."""
    pal = palette if palette is not None else QGuiApplication.palette()
    dark = is_dark(pal)
    text = pal.color(Role.WindowText)
    grid = QColor(text)
    grid.setAlpha(45)
    return ThemeColours(
        dark=dark,
        window=pal.color(Role.Window),
        text=text,
        muted=pal.color(Role.PlaceholderText),
        card=pal.color(Role.Base),
        border=pal.color(Role.Mid),
        chart_axis=pal.color(Role.PlaceholderText),
        chart_grid=grid,
        series=tuple(QColor(c) for c in (SERIES_DARK if dark else SERIES_LIGHT)),
        error=QColor("#ff8a80" if dark else "#b3261e"),
        warning=QColor("#f0c060" if dark else "#8a5d00"),
        success=QColor("#6fd394" if dark else "#1e7040"),
    )


def series_colour(index: int, palette: QPalette | None = None) -> QColor:
    return colours(palette).series_colour(index)


def build_palette(dark: bool) -> QPalette:
    """The full palette of one theme (active, inactive and disabled groups)."""
    palette = QPalette()
    for role, colour in (DARK if dark else LIGHT).items():
        palette.setColor(role, QColor(colour))
    disabled = QColor("#7d828b") if dark else QColor("#8b9099")
    for role in (Role.WindowText, Role.Text, Role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def system_is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is not None:
        value = scheme()
        if value != Qt.ColorScheme.Unknown:
            return bool(value == Qt.ColorScheme.Dark)
    # No scheme reported: judge the palette the platform gave us before we set our own.
    if _startup_dark is None:
        return is_dark(QGuiApplication.palette())
    return _startup_dark


class _ThemeEvents(QObject):
    changed = Signal(bool)  # dark


_events: _ThemeEvents | None = None
_choice = {"theme": "system", "sheet": ""}
_startup_dark: bool | None = None  # the platform palette's darkness, read before the first switch


def theme_changed() -> Signal:
    """Emitted (with `dark`) after `apply_theme` switched the palette."""
    global _events
    if _events is None:
        _events = _ThemeEvents()
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):  # "follow the system" follows it live
            hints.colorSchemeChanged.connect(_system_scheme_changed)
    return _events.changed


def _system_scheme_changed(*_args: object) -> None:
    app = QApplication.instance()
    if _choice["theme"] == "system" and isinstance(app, QApplication):
        apply_theme(app, "system")


def stylesheet() -> str:
    """The packaged stylesheet (it uses palette(...) colours, so it suits either theme)."""
    try:
        return resources.files("steward.resources").joinpath("style.qss").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        log.warning("style.qss is missing from the package; using the plain style")
        return ""


def apply_theme(app: QApplication, theme: str = "system", sheet: str | None = None) -> bool:
    """Switch the whole app to `theme` ("light", "dark" or "system"), live; returns True when dark.

    Sets the Fusion style and the palette, then sets the stylesheet again: Qt resolves a
    stylesheet's palette(...) references when it polishes a widget, so without a re-polish widgets
    styled under the old palette keep its colours (dark text on a dark window)."""
    global _startup_dark
    if _startup_dark is None:
        _startup_dark = is_dark(app.palette())
    dark = system_is_dark() if theme not in ("light", "dark") else theme == "dark"
    signal = theme_changed()
    _choice["theme"] = theme
    if sheet is not None:
        _choice["sheet"] = sheet
    if not isinstance(app.style(), VisibleIndicators):
        app.setStyle(VisibleIndicators("Fusion"))
    app.setPalette(build_palette(dark))
    app.setProperty("steward_dark", dark)
    app.setStyleSheet("")
    app.setStyleSheet(_choice["sheet"] + tone_rules(dark))
    signal.emit(dark)
    return dark


class VisibleIndicators(QProxyStyle):
    """Fusion, with the outline of an unticked check box drawn so it shows on a dark base (Fusion
    draws it from the window colour, which on the dark theme is the base colour itself)."""

    _BOXES = (
        QStyle.PrimitiveElement.PE_IndicatorCheckBox,
        QStyle.PrimitiveElement.PE_IndicatorItemViewItemCheck,
    )

    def drawPrimitive(
        self,
        element: QStyle.PrimitiveElement,
        option: QStyleOption,
        painter: QPainter,
        widget: QWidget | None = None,
    ) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element in self._BOXES and is_dark(option.palette):  # type: ignore[attr-defined]
            painter.save()
            painter.setPen(QPen(option.palette.color(Role.PlaceholderText)))  # type: ignore[attr-defined]
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(option.rect.adjusted(0, 0, -1, -1))  # type: ignore[attr-defined]
            painter.restore()


TONES = ("error", "warning", "success", "muted")


def tone_rules(dark: bool) -> str:
    """Stylesheet rules for widgets marked with a `tone` (see `set_tone`): readable text colours
    of the current theme, so such text re-colours on a live theme switch like everything else."""
    c = colours(build_palette(dark))
    rules = [f'*[tone="{tone}"] {{ color: {getattr(c, tone).name()}; }}' for tone in TONES]
    rules.append(
        f'QFrame#fieldMark[tone="error"] {{ border: 2px solid {c.error.name()}; border-radius: 4px; }}'
    )
    return "\n" + "\n".join(rules) + "\n"


def set_tone(widget: QWidget, tone: str | None) -> None:
    """Mark `widget`'s text as an error/warning/success/muted text (None: plain), re-polished."""
    widget.setProperty("tone", tone or "")
    style = widget.style()
    style.unpolish(widget)
    style.polish(widget)


HEALTH_TONES = {"healthy": "success", "degraded": "warning", "unhealthy": "error", "quarantined": "error"}


def status_text_colour(status: str, palette: QPalette | None = None) -> QColor:
    """A health status as a TEXT colour readable on the theme's window and cards (4.5:1);
    `health_colour` is for dots, bars and borders."""
    c = colours(palette)
    tone = HEALTH_TONES.get(status)
    return getattr(c, tone) if tone else c.muted


def health_colour(status: str) -> str:
    """A health status as a dot/bar/border colour (not for text: see `status_text_colour`)."""
    return HEALTH_COLOURS.get(status, HEALTH_COLOURS["unknown"])


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two opaque colours (1.0 .. 21.0)."""

    def luminance(c: QColor) -> float:
        def channel(v: int) -> float:
            s = v / 255
            return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.red()) + 0.7152 * channel(c.green()) + 0.0722 * channel(c.blue())

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
