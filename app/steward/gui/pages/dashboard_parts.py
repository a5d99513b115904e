"""Dashboard pieces besides the cards: the per-model health timeline (coloured bands over time,
painted directly — no per-segment items, in the palette's colours at paint time, so a theme
switch repaints it right) and the eliding card title."""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

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


class ElidedLabel(QLabel):
    """A one-line bold label that elides in the middle when narrow (full text in the tooltip), so
    a long model name never forces its card, or the window, wider."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.full_text = text
        self.setToolTip(text)
        font = self.font()
        font.setBold(True)
        self.setFont(font)
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(
            self.full_text, Qt.TextElideMode.ElideMiddle, max(20, self.width())
        )
        if shown != self.text():
            self.setText(shown)
