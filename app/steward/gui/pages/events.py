"""Events page: the live audit trail of engine decisions with a text filter."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import EngineEvent, Token
from steward.gui.bridge import Bridge

MAX_ROWS = 5000


def describe(event: EngineEvent) -> str:
    payload = event.payload()
    payload.pop("request_id", None)
    payload.pop("model", None)
    if "text" in payload and isinstance(payload["text"], str):
        payload["text"] = payload["text"][:120]
    return ", ".join(f"{k}={v}" for k, v in payload.items() if v not in (None, "", ()))


class EventsPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("filter: model, kind or any text")
        self.filter.textChanged.connect(self._apply_filter)
        self.follow = QCheckBox("Live tail")
        self.follow.setChecked(True)
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.follow)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("eventsTable")
        self.table.setHorizontalHeaderLabels(["Time", "Model", "Kind", "Detail"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)
        bridge.engine_event.connect(self.on_event)

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, Token):
            return
        row = self.table.rowCount()
        if row >= MAX_ROWS:
            self.table.removeRow(0)
            row -= 1
        self.table.insertRow(row)
        when = dt.datetime.fromtimestamp(event.ts).strftime("%H:%M:%S")
        cells = [when, event.model_key or "—", event.type, describe(event)]
        for col, text in enumerate(cells):
            self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.setRowHidden(row, not self._matches(row))
        if self.follow.isChecked():
            self.table.scrollToBottom()

    def _matches(self, row: int) -> bool:
        needle = self.filter.text().strip().lower()
        if not needle:
            return True
        return any(needle in (self.table.item(row, c).text().lower()) for c in range(4))  # type: ignore[union-attr]

    def _apply_filter(self) -> None:
        for row in range(self.table.rowCount()):
            self.table.setRowHidden(row, not self._matches(row))
