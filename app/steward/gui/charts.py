"""Fixed-size numpy ring buffers and a multi-curve live chart (curves created once, updated
with setData; clip-to-view and peak downsampling as pyqtgraph recommends)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

PALETTE = ["#3b82c4", "#2e9d57", "#d39a1c", "#d0433b", "#8d5bd1", "#1aa3a3", "#c4569b", "#7a8f2e"]


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


class LiveChart(pg.PlotWidget):
    """One curve per series key; call `add_point` then `redraw` (at most a few Hz)."""

    def __init__(self, y_label: str, parent: object = None) -> None:
        super().__init__(parent=parent, axisItems={"bottom": pg.DateAxisItem()})
        self.setBackground(None)
        self.showGrid(x=True, y=True, alpha=0.2)
        # Latencies and rates are never negative; and "seconds (x0.001)" reads worse than 0.16 s.
        self.setLimits(yMin=0)
        self.getAxis("left").enableAutoSIPrefix(False)
        self.setLabel("left", y_label)
        self.addLegend(offset=(10, 10))
        self.getPlotItem().setClipToView(True)
        self.getPlotItem().setDownsampling(auto=True, mode="peak")
        self.series: dict[str, Ring] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.range_s = 300.0
        self._dirty: set[str] = set()
        self._x_view: tuple[float, float] | None = None

    def add_point(self, key: str, x: float, y: float) -> None:
        if key not in self.series:
            self.series[key] = Ring()
            colour = PALETTE[len(self.curves) % len(PALETTE)]
            # Point symbols help read a few sparse series; with many they cost most of the paint time.
            symbols = {"symbol": "o", "symbolSize": 5, "symbolBrush": colour} if len(self.curves) < 8 else {}
            self.curves[key] = self.plot([], [], name=key, pen=pg.mkPen(colour, width=2), **symbols)
        self.series[key].append(x, y)
        self._dirty.add(key)

    def clear_points(self) -> None:
        for ring in self.series.values():
            ring.size = ring.start = 0
        self._dirty.update(self.series)

    def redraw(self, now: float) -> None:
        """Push new points and scroll. Only changed curves get setData, and the x range moves in
        steps of 1% of its width: each x-range change makes pyqtgraph re-clip EVERY curve, which
        with dozens of models at 2 Hz blocked the GUI for tens of ms per redraw."""
        for key in self._dirty:
            x, y = self.series[key].view()
            self.curves[key].setData(x, y)
        self._dirty.clear()
        step = self.range_s / 100
        right = math.ceil(now / step) * step
        start = right - self.range_s
        top = 0.0
        for ring in self.series.values():
            x, y = ring.view()
            visible = y[x >= start]
            if visible.size:
                top = max(top, float(np.nanmax(visible)))
        if (start, right) != self._x_view:
            self._x_view = (start, right)
            self.setXRange(start, right, padding=0.01)
        # y from 0: a latency of 0.16 s must not look like a cliff because the axis starts at 0.15
        self.setYRange(0.0, top * 1.15 if top > 0 else 1.0, padding=0)
