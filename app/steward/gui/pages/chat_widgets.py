"""Small widgets the chat page is built from: a label and a drop-down that elide instead of
widening the window, and a button that copies text to the clipboard and says so."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QSizePolicy,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QWidget,
)


class ElidedLabel(QLabel):
    """One line of plain text that shrinks with an ellipsis (full text in the tooltip).

    A plain QLabel's minimum width is its whole text, so one long model name can force the
    window wider than the screen; this one asks for a few characters at least."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
    ) -> None:
        super().__init__(parent)
        self._full = ""
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

    def elided_text(self) -> str:
        """What is painted at the current width."""
        return self.fontMetrics().elidedText(self._full, self._mode, max(0, self.contentsRect().width()))

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance("xxxxxx…"), metrics.height())

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, metrics.height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            self.contentsRect(), int(self.alignment() | Qt.AlignmentFlag.AlignVCenter), self.elided_text()
        )


class ElidingComboBox(QComboBox):
    """A drop-down sized by a few characters that shows its current text elided in the middle
    (the list itself shows the full names, elided only past the screen's width)."""

    def __init__(self, parent: QWidget | None = None, characters: int = 18) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(characters)
        self.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def showPopup(self) -> None:
        widest = max(
            (self.fontMetrics().horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0
        )
        screen = self.screen().availableGeometry().width() if self.screen() is not None else 1024
        self.view().setMinimumWidth(min(widest + 40, screen // 2))
        super().showPopup()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        option.currentText = self.fontMetrics().elidedText(
            option.currentText, Qt.TextElideMode.ElideMiddle, max(0, field.width() - 4)
        )
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)


class CopyButton(QToolButton):
    """ "Copy": puts `source()` on the clipboard and reads "Copied" for a moment."""

    def __init__(self, source: Callable[[], str], tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self.setObjectName("copyButton")
        self.setText("Copy")
        self.setToolTip(tip)
        self.setAutoRaise(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.clicked.connect(self.copy)

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._source())
        self.setText("Copied")
        QTimer.singleShot(1500, self, self._reset)  # context: never after deletion

    def _reset(self) -> None:
        self.setText("Copy")
