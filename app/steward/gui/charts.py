"""Charts people can read, in the active theme.

- `LiveChart`: per-series points over wall-clock time (the latency chart). Samples are drawn as
  points, joined only when they are close in time, so a quiet minute is a gap, not a long straight
  line. Its legend is a separate scrolling `SeriesLegend` list (it scales to 50 models and never
  covers data); until the first point it shows "no requests yet" instead of placeholder ticks.
- `ResourceChart`: small CPU/RAM/GPU charts over the last minutes, labelled series, an x axis in
  seconds/minutes before now, and a y range fixed to what the machine has (100 %, total RAM).

Both take their colours from `steward.gui.theme.colours(self.palette())` and re-colour on
`QEvent.PaletteChange`, so a live theme switch repaints them. Curves are created once and updated
with setData (clip-to-view and peak downsampling as pyqtgraph recommends).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from steward.gui.theme import ThemeColours, colours


class Ring:
    """A fixed-capacity time series (float64 x and y), oldest dropped first."""

    def __init__(self, capacity: int = 4096) -> None:
        self.x = np.zeros(capacity, dtype=np.float64)
        self.y = np.zeros(capacity, dtype=np.float64)
        self.capacity = capacity
        self.size = 0
        self.start = 0

    def append(self, x: float, y: float) -> None:
        index = (self.start + self.size) % self.capacity
        self.x[index], self.y[index] = x, y
        if self.size < self.capacity:
            self.size += 1
        else:
            self.start = (self.start + 1) % self.capacity

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        if self.size < self.capacity and self.start == 0:
            return self.x[: self.size], self.y[: self.size]
        order = (np.arange(self.size) + self.start) % self.capacity
        return self.x[order], self.y[order]


def close_pairs(x: np.ndarray, gap_s: float) -> np.ndarray:
    """pyqtgraph's `connect` array: True where sample i is joined to i+1 (no more than `gap_s` apart)."""
    joined = np.zeros(len(x), dtype=bool)
    if len(x) > 1:
        joined[:-1] = np.diff(x) <= gap_s
    return joined


def style_plot(plot: pg.PlotItem, theme: ThemeColours) -> None:
    """Axis lines, tick labels and axis titles in the theme's colours (the grid follows the axis pen)."""
    for name in ("left", "bottom"):
        axis = plot.getAxis(name)
        axis.setPen(pg.mkPen(theme.chart_axis))
        axis.setTextPen(pg.mkPen(theme.chart_axis))  # also the axis title's colour


def colour_icon(colour: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(colour)
    return QIcon(pixmap)


class SeriesLegend(QListWidget):
    """The chart's legend beside it: one checkable row per series (untick to hide it), names
    elided with the full name as tooltip; scrolls when there are many."""

    toggled = Signal(str, bool)  # series key, visible

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("seriesLegend")
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setIconSize(QSize(12, 12))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # elide instead
        self.itemChanged.connect(self._changed)

    def add(self, key: str, colour: QColor) -> None:
        item = QListWidgetItem(colour_icon(colour), key)
        item.setToolTip(key)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.addItem(item)

    def recolour(self, colours_by_key: Mapping[str, QColor]) -> None:
        for row in range(self.count()):
            item = self.item(row)
            colour = colours_by_key.get(str(item.data(Qt.ItemDataRole.UserRole)))
            if colour is not None:
                item.setIcon(colour_icon(colour))

    def keys(self) -> list[str]:
        return [str(self.item(row).data(Qt.ItemDataRole.UserRole)) for row in range(self.count())]

    def _changed(self, item: QListWidgetItem) -> None:
        self.toggled.emit(
            str(item.data(Qt.ItemDataRole.UserRole)), item.checkState() == Qt.CheckState.Checked
        )


class LiveChart(pg.PlotWidget):
    """Points per series key over wall-clock time; call `add_point` then `redraw` (a few Hz)."""

    def __init__(self, y_label: str, y_units: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, axisItems={"bottom": pg.DateAxisItem()})
        self.setBackground(None)
        self.setMenuEnabled(False)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setLimits(yMin=0)  # latencies and rates are never negative
        self.getAxis("left").enableAutoSIPrefix(False)  # "0.16 s", not "160 (x0.001) s"
        self.setLabel("left", y_label, units=y_units)
        self.setLabel("bottom", "time of day")
        item = self.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        self.legend = SeriesLegend()
        self.legend.toggled.connect(self._toggled)
        self.legend.hide()  # until there is a series to name
        self.placeholder = pg.TextItem("no requests yet", anchor=(0.5, 0.5))
        self.placeholder.setZValue(10)
        self.addItem(self.placeholder, ignoreBounds=True)
        self.series: dict[str, Ring] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.range_s = 300.0
        self._dirty: set[str] = set()
        self._x_view: tuple[float, float] | None = None
        self._has_data: bool | None = None
        self._built = True
        self._recolour()

    # --- data -------------------------------------------------------------------------------

    def add_point(self, key: str, x: float, y: float) -> None:
        if key not in self.series:
            self.series[key] = Ring()
            colour = colours(self.palette()).series_colour(len(self.curves))
            # Point symbols for a few series; with dozens they cost most of the paint time.
            symbols = (
                {"symbol": "o", "symbolSize": 6}
                if len(self.curves) < 12
                else {"symbol": "o", "symbolSize": 3}
            )
            curve = self.plot([], [], name=key, **symbols)
            self.curves[key] = curve
            self._colour_curve(curve, colour)
            self.legend.add(key, colour)
            self.legend.show()
        self.series[key].append(x, y)
        self._dirty.add(key)

    def clear_points(self) -> None:
        for ring in self.series.values():
            ring.size = ring.start = 0
        self._dirty.update(self.series)

    @property
    def gap_s(self) -> float:
        """Samples further apart than this are not joined: a twentieth of the visible range."""
        return self.range_s / 20

    def redraw(self, now: float) -> None:
        """Push new points and scroll. Only changed curves get setData, and the x range moves in
        steps of 1% of its width: each x-range change makes pyqtgraph re-clip EVERY curve, which
        with dozens of models at 2 Hz blocked the GUI for tens of ms per redraw."""
        gap = self.gap_s
        for key in self._dirty:
            x, y = self.series[key].view()
            self.curves[key].setData(x, y, connect=close_pairs(x, gap))
        self._dirty.clear()
        step = self.range_s / 100
        right = math.ceil(now / step) * step
        start = right - self.range_s
        top = 0.0
        for key, ring in self.series.items():
            if not self.curves[key].isVisible():
                continue
            x, y = ring.view()
            visible = y[x >= start]
            if visible.size:
                top = max(top, float(np.nanmax(visible)))
        if (start, right) != self._x_view:
            self._x_view = (start, right)
            self.setXRange(start, right, padding=0.01)
        # y from 0: a latency of 0.16 s must not look like a cliff because the axis starts at 0.15
        y_top = top * 1.15 if top > 0 else 1.0
        self.setYRange(0.0, y_top, padding=0)
        has_data = top > 0
        if not has_data:
            anywhere = any(ring.size for ring in self.series.values())
            self.placeholder.setText("no requests in this time range" if anywhere else "no requests yet")
        if has_data != self._has_data:
            self._has_data = has_data
            self.getAxis("left").setStyle(showValues=has_data)
            self.placeholder.setVisible(not has_data)
        if not has_data:
            self.placeholder.setPos((start + right) / 2, y_top / 2)

    def set_range(self, seconds: float) -> None:
        """Show the last `seconds`; curves are re-joined for the new gap."""
        self.range_s = seconds
        self._dirty.update(self.series)

    def visible_points(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        """What the curve of `key` currently draws (x, y)."""
        x, y = self.curves[key].getData()
        return (np.asarray(x if x is not None else []), np.asarray(y if y is not None else []))

    # --- colours ----------------------------------------------------------------------------

    def _toggled(self, key: str, visible: bool) -> None:
        curve = self.curves.get(key)
        if curve is not None:
            curve.setVisible(visible)

    @staticmethod
    def _colour_curve(curve: pg.PlotDataItem, colour: QColor) -> None:
        line = QColor(colour)
        line.setAlpha(150)
        curve.setPen(pg.mkPen(line, width=1.5))
        curve.setSymbolBrush(pg.mkBrush(colour))
        curve.setSymbolPen(pg.mkPen(colour))

    def curve_colour(self, key: str) -> QColor:
        brush = self.curves[key].opts["symbolBrush"]
        return QColor(pg.mkBrush(brush).color())

    def _recolour(self) -> None:
        theme = colours(self.palette())
        style_plot(self.getPlotItem(), theme)
        self.placeholder.setColor(theme.muted)
        by_key: dict[str, QColor] = {}
        for index, (key, curve) in enumerate(self.curves.items()):
            by_key[key] = theme.series_colour(index)
            self._colour_curve(curve, by_key[key])
        self.legend.recolour(by_key)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # (Qt sends one during the base constructor, before there is anything to colour)
        if event.type() == QEvent.Type.PaletteChange and _ready(self):
            self.resetCachedContent()  # pyqtgraph caches the painted background
            self._recolour()


def _ready(chart: pg.PlotWidget) -> bool:
    """Built and not closed: Qt sends palette changes during the base constructor, and pyqtgraph
    drops the plot item on close."""
    return bool(chart.__dict__.get("_built")) and getattr(chart, "plotItem", None) is not None


class RelativeTimeAxis(pg.AxisItem):
    """x in seconds relative to now (<= 0), labelled "now", "30 s ago", "2 min ago"."""

    def tickStrings(self, values: Sequence[float], scale: float, spacing: float) -> list[str]:
        return [relative_time(v) for v in values]


def relative_time(seconds: float) -> str:
    ago = -seconds
    if abs(ago) < 0.5:
        return "now"
    if ago < 120:
        return f"{ago:.0f} s ago"
    if ago < 5400:
        return f"{round(ago / 60, 1):g} min ago"
    return f"{round(ago / 3600, 1):g} h ago"


class ResourceChart(pg.PlotWidget):
    """A small chart of one or more named series over the last `window_s` seconds (x: seconds
    before now), the y range fixed to `y_max` when known (100 %, total RAM)."""

    def __init__(
        self,
        title: str,
        unit: str,
        names: Sequence[str],
        window_s: float = 300.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent=parent, axisItems={"bottom": RelativeTimeAxis("bottom")})
        self.setBackground(None)
        self.setObjectName("resourceChart")
        self.setMinimumHeight(90)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.title = title
        self.unit = unit
        self.window_s = window_s
        item = self.getPlotItem()
        item.showGrid(x=False, y=True, alpha=0.25)
        item.setClipToView(True)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setLabel("left", units=unit)
        bottom = item.getAxis("bottom")
        bottom.setStyle(tickTextOffset=2)
        # two labelled ticks, the right one "now"; a little room right of 0 so its label is drawn
        bottom.setTicks([[(-window_s / 2, relative_time(-window_s / 2)), (0, "now")], []])
        self.setXRange(-window_s, window_s * 0.1, padding=0)
        self.setYRange(0, 100 if unit == "%" else 1, padding=0.02)
        self.curves: dict[str, pg.PlotDataItem] = {}
        for name in names:
            self.curves[name] = self.plot([], [], name=name)
        self.legend_item = item.addLegend(offset=(-4, 2), labelTextSize="8pt") if len(names) > 1 else None
        if self.legend_item is not None:
            for name, curve in self.curves.items():
                self.legend_item.addItem(curve, name)
        self.latest: dict[str, float] = {}
        self.total: float | None = None
        self._built = True
        self._recolour()

    def show_series(
        self, times: np.ndarray, values: Mapping[str, np.ndarray] | np.ndarray, y_max: float | None = None
    ) -> None:
        """Plot the points of the last `window_s` seconds (times in seconds, newest last)."""
        if len(times) == 0:
            return
        data = values if isinstance(values, Mapping) else {next(iter(self.curves)): values}
        x = times - times[-1]
        keep = x >= -self.window_s
        for name, ys in data.items():
            curve = self.curves.get(name)
            if curve is None:
                continue
            curve.setData(x[keep], ys[keep], connect="finite")
            finite = ys[keep][np.isfinite(ys[keep])]
            if finite.size:
                self.latest[name] = float(finite[-1])
        if y_max is not None:
            self.setYRange(0, y_max, padding=0.02)
            self.total = y_max
        self._show_title()

    def title_text(self) -> str:
        """The title with the latest values, e.g. "RAM used: 3.2 of 16 GiB"."""
        parts = []
        for name, value in self.latest.items():
            number = f"{value:.0f} %" if self.unit == "%" else f"{value:.1f} {self.unit}"
            parts.append(number if name == self.title else f"{name} {number}")
        if self.total is not None and self.unit != "%" and len(parts) == 1:
            parts = [f"{parts[0].removesuffix(' ' + self.unit)} of {self.total:.0f} {self.unit}"]
        return f"{self.title}: {', '.join(parts)}" if parts else self.title

    def _show_title(self) -> None:
        self.getPlotItem().setTitle(self.title_text(), size="9pt", color=colours(self.palette()).text.name())

    def _recolour(self) -> None:
        theme = colours(self.palette())
        style_plot(self.getPlotItem(), theme)
        for index, curve in enumerate(self.curves.values()):
            colour = theme.series_colour(index)
            fill = QColor(colour)
            fill.setAlpha(50)
            curve.setPen(pg.mkPen(colour, width=2))
            if len(self.curves) == 1:
                curve.setFillLevel(0)
                curve.setBrush(pg.mkBrush(fill))
        if self.legend_item is not None:
            self.legend_item.setLabelTextColor(theme.text)
            for _sample, label in self.legend_item.items:
                label.setText(label.text)
        self._show_title()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        # (Qt sends one during the base constructor, before there is anything to colour)
        if event.type() == QEvent.Type.PaletteChange and _ready(self):
            self.resetCachedContent()  # pyqtgraph caches the painted background
            self._recolour()
