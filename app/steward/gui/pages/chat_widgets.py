"""Small widgets the chat page is built from: a drop-down that elides instead of widening the
window, and a button that copies text to the clipboard and says so."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolButton,
    QWidget,
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
