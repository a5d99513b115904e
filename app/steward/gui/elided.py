"""`ElidedLabel`: one line of text that never widens the window — long text ends in "…" (or is
cut in the middle) and the whole text is the tooltip. A plain QLabel's minimum width is its whole
text, so one long model name could force the window wider than the screen."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """One line of plain text that shrinks to `min_chars` characters (and an ellipsis)."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        min_chars: int = 6,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._min_chars = min_chars
        self._mode = mode
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setText(text)

    def setText(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        super().setText(text)
        self.updateGeometry()

    def full_text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        """The text as painted at the current width (elided when it does not fit)."""
        return self.fontMetrics().elidedText(self._full, self._mode, max(0, self.contentsRect().width()))

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, metrics.height())

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        least = metrics.horizontalAdvance("x" * self._min_chars + "…")
        return QSize(min(least, self.sizeHint().width()), metrics.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), self.shown_text()
        )
