"""Dashboard pieces besides the cards: the per-model health timeline (coloured bands over time,
painted directly — no per-segment items) and small resource charts fed by the hardware sampler
(one curve each, created once, updated with setData)."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from steward.gui.theme import health_colour

ROW_H = 14
LABEL_W = 170
MAX_SEGMENTS = 2000  # per model; older changes fall off


class HealthTimeline(QWidget):
    """One band per model, coloured by its health status over the last `range_s` seconds."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("healthTimeline")
        self.range_s = 300.0
        self.bands: dict[str, list[tuple[float, str]]] = {}  # model -> [(since ts, status)]
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Health of each model over time (from HealthChanged events)")

    def sizeHint(self) -> QSize:
        return QSize(400, max(1, len(self.bands)) * ROW_H + 20)

    def set_status(self, model: str, status: str, ts: float) -> None:
        """Record that `model` is `status` from `ts` on (ignored when nothing changed)."""
        band = self.bands.get(model)
        if band is None:
            self.bands[model] = [(ts, status)]
            self.setFixedHeight(len(self.bands) * ROW_H + 20)
            self.update()
            return
        if band[-1][1] == status:
            return
        if ts < band[-1][0]:  # history arriving after live changes: keep the order by time
            band.append((ts, status))
            band.sort(key=lambda s: s[0])
        else:
            band.append((ts, status))
        del band[:-MAX_SEGMENTS]
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        now = time.time()
        start = now - self.range_s
        width = max(1.0, self.width() - LABEL_W - 8)
        text = self.palette().color(QPalette.ColorRole.WindowText)
        muted = self.palette().color(QPalette.ColorRole.Mid)
        for row, (model, band) in enumerate(sorted(self.bands.items())):
            y = row * ROW_H
            painter.setPen(text)
            label = painter.fontMetrics().elidedText(model, Qt.TextElideMode.ElideMiddle, LABEL_W - 8)
            painter.drawText(QRectF(0, y, LABEL_W - 8, ROW_H), Qt.AlignmentFlag.AlignVCenter, label)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(muted)
            painter.drawRect(QRectF(LABEL_W, y + 3, width, ROW_H - 6))
            for index, (since, status) in enumerate(band):
                until = band[index + 1][0] if index + 1 < len(band) else now
                if until < start:
                    continue
                x0 = LABEL_W + max(0.0, (since - start) / self.range_s) * width
                x1 = LABEL_W + min(1.0, (until - start) / self.range_s) * width
                painter.setBrush(QColor(health_colour(status)))
                painter.drawRect(QRectF(x0, y + 2, max(1.0, x1 - x0), ROW_H - 4))
        painter.setPen(text)
        bottom = len(self.bands) * ROW_H + 14
        minutes = self.range_s / 60
        span = f"{minutes:.0f} min ago" if minutes < 120 else f"{minutes / 60:.0f} h ago"
        painter.drawText(LABEL_W, bottom, span)
        painter.drawText(QRectF(LABEL_W, bottom - 12, width, 14), Qt.AlignmentFlag.AlignRight, "now")
        painter.end()


class MiniChart(pg.PlotWidget):
    """A small single-series chart over the last minutes (x in seconds before now)."""

    def __init__(self, title: str, unit: str, colour: str, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setBackground(None)
        self.setObjectName("miniChart")
        self.setMinimumHeight(90)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        item = self.getPlotItem()
        item.setTitle(title, size="9pt")
        item.showGrid(x=False, y=True, alpha=0.2)
        item.setClipToView(True)
        item.setLabel("left", unit)
        item.getAxis("bottom").setStyle(tickTextOffset=2)
        self.curve = self.plot(
            [], [], pen=pg.mkPen(colour, width=2), fillLevel=0, brush=QColor(colour + "40")
        )

    def show_series(self, times: np.ndarray, values: np.ndarray, y_max: float | None = None) -> None:
        if len(times) == 0:
            return
        self.curve.setData(times - times[-1], values, connect="finite")
        if y_max is not None:
            self.setYRange(0, y_max, padding=0.02)
