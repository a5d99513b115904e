"""Models page: every model on every server with its health, circuit and window; quarantine,
release and reset actions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gui.bridge import Bridge
from steward.gui.theme import health_colour

COLUMNS = [
    "Model",
    "Server",
    "Health",
    "Circuit",
    "Failures",
    "Last error",
    "Window",
    "p50 TTFT",
    "tok/s",
    "Success",
    "Loaded",
    "Capabilities",
]
DURATIONS = [
    ("Until released", None),
    ("5 minutes", 300.0),
    ("30 minutes", 1800.0),
    ("2 hours", 7200.0),
    ("1 day", 86400.0),
]


def _fmt_s(value: float | None) -> str:
    return "—" if value is None else f"{value * 1000:.0f} ms"


class QuarantineDialog(QDialog):
    """Ask for a reason and a duration."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Quarantine {key}")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why (shown in the dashboard and the audit trail)")
        self.duration = QComboBox()
        for label, seconds in DURATIONS:
            self.duration.addItem(label, seconds)
        form = QFormLayout(self)
        form.addRow("Reason", self.reason)
        form.addRow("Duration", self.duration)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class ModelsPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.quarantine_button = QPushButton("Quarantine…")
        self.release_button = QPushButton("Release")
        self.reset_button = QPushButton("Reset health")
        self.quarantine_button.clicked.connect(self._quarantine)
        self.release_button.clicked.connect(lambda: self._act(self.bridge.release))
        self.reset_button.clicked.connect(lambda: self._act(self.bridge.reset))
        actions = QHBoxLayout()
        for button in (self.quarantine_button, self.release_button, self.reset_button):
            actions.addWidget(button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(actions)
        layout.addWidget(self.table)
        self._keys: list[str] = []
        bridge.snapshot_changed.connect(self.on_snapshot)

    def selected_key(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self._keys[rows[0].row()] if rows else None

    def select(self, key: str) -> None:
        if key in self._keys:
            self.table.selectRow(self._keys.index(key))

    def _act(self, action: object) -> None:
        key = self.selected_key()
        if key is not None and callable(action):
            action(key)

    def _quarantine(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        dialog = QuarantineDialog(key, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.bridge.quarantine(key, dialog.reason.text().strip(), dialog.duration.currentData())

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        selected = self.selected_key()
        self._keys = [m.key for m in snapshot.models]
        self.table.setRowCount(len(snapshot.models))
        for row, model in enumerate(snapshot.models):
            for col, text in enumerate(self._cells(model)):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(row, col, item)
                item.setText(text)
                if col == 2:
                    item.setForeground(QColor(health_colour(model.health)))
                    item.setToolTip(model.health_reason)
                if col == 5 and model.last_error_detail:
                    item.setToolTip(model.last_error_detail)
        if selected is not None:
            self.select(selected)

    @staticmethod
    def _cells(m: ModelSnapshot) -> list[str]:
        health = m.health
        if m.quarantine is not None:
            left = (
                "until released"
                if m.quarantine.remaining_s is None
                else f"{m.quarantine.remaining_s:.0f} s left"
            )
            health = f"quarantined ({left})"
        circuit = m.breaker.replace("_", "-")
        if m.reopen_in_s is not None:
            circuit += f" ({m.reopen_in_s:.0f} s)"
        rate = m.metrics.success_rate
        return [
            m.model,
            m.server_id,
            health,
            circuit,
            str(m.consecutive_failures),
            m.last_error_kind or "—",
            f"{m.window:,}" if m.window else "—",
            _fmt_s(m.metrics.ttft_p50),
            f"{m.metrics.tokens_per_s:.0f}" if m.metrics.tokens_per_s else "—",
            "—" if rate is None else f"{rate:.0%}",
            {True: "yes", False: "no", None: "—"}[m.loaded],
            ", ".join(m.capabilities) or "—",
        ]


__all__ = ["ModelsPage", "Qt", "QuarantineDialog"]
