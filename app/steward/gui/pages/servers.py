"""Servers page: every managed, configured and discovered server with its status, process and
port; start / stop / restart for the ones Steward runs, their live log, re-discovery, and
dialogs to add a remote endpoint or a managed llama-server."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.gui.bridge import Bridge
from steward.gui.server_dialogs import AddEndpointDialog, AddManagedDialog
from steward.gui.settings_form import ERROR_COLOUR
from steward.gui.tables import read_only_table
from steward.gui.theme import health_colour
from steward.service.server_rows import ServerRow, format_uptime

COLUMNS = ["Name", "Kind", "Source", "URL", "Status", "PID", "Port", "Uptime", "Restarts", "Model", "Context"]
STATUS_HEALTH = {
    "ready": "healthy",
    "up": "healthy",
    "starting": "loading",
    "loading": "loading",
    "restarting": "loading",
    "crashed": "unhealthy",
    "failed": "unhealthy",
    "down": "unhealthy",
    "stopped": "unknown",
}
LOG_LINES = 300


def _cells(row: ServerRow) -> list[str]:
    def opt(value: object) -> str:
        return "—" if value is None else str(value)

    return [
        row.name,
        row.kind,
        row.source,
        row.url,
        row.status,
        opt(row.pid),
        opt(row.port),
        format_uptime(row.uptime_s),
        opt(row.restarts),
        row.model or "—",
        f"{row.ctx:,}" if row.ctx else "—",
    ]


class ServersPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.rows: list[ServerRow] = []
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        self.rediscover_button = QPushButton("Re-discover")
        self.add_endpoint_button = QPushButton("Add endpoint…")
        self.add_managed_button = QPushButton("Add managed llama-server…")
        self.start_button.setToolTip("Start the selected managed server.")
        self.stop_button.setToolTip("Stop the selected managed server (its models fail over meanwhile).")
        self.restart_button.setToolTip("Stop and start the selected managed server on the same port.")
        self.rediscover_button.setToolTip("Probe the discovery ports again for local servers.")
        self.add_endpoint_button.setToolTip("Add a server by URL; its API key is kept in the OS keyring.")
        self.add_managed_button.setToolTip("Run a GGUF model in a llama-server that Steward supervises.")
        for button, action in (
            (self.start_button, "start"),
            (self.stop_button, "stop"),
            (self.restart_button, "restart"),
        ):
            button.clicked.connect(lambda _=False, a=action: self._act(a))
        self.rediscover_button.clicked.connect(self.bridge.rediscover)
        self.add_endpoint_button.clicked.connect(self.open_add_endpoint)
        self.add_managed_button.clicked.connect(self.open_add_managed)
        actions = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.restart_button):
            actions.addWidget(button)
        actions.addStretch(1)
        for button in (self.rediscover_button, self.add_endpoint_button, self.add_managed_button):
            actions.addWidget(button)

        self.problem = QLabel()
        self.problem.setObjectName("serverProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.problem.hide()

        self.table = read_only_table("serversTable", COLUMNS, single_selection=True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.empty = QLabel("No servers yet: Steward is starting them, or none were found.")
        self.empty.setObjectName("emptyState")

        self.log_title = QLabel("Log: select a managed server to follow its output.")
        self.log = QPlainTextEdit()
        self.log.setObjectName("serverLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_LINES * 2)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self._log_name: str | None = None
        self._log_last: list[str] = []

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.empty)
        top_layout.addWidget(self.table)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.log_title)
        bottom_layout.addWidget(self.log)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([360, 240])
        layout = QVBoxLayout(self)
        layout.addLayout(actions)
        layout.addWidget(self.problem)
        layout.addWidget(splitter, 1)

        bridge.snapshot_changed.connect(lambda _snapshot: self.refresh())
        bridge.servers_changed.connect(self.refresh)
        bridge.server_problem.connect(self.show_problem)
        self._log_timer = QTimer(self)
        self._log_timer.setInterval(1000)
        self._log_timer.timeout.connect(self.refresh_log)
        self._log_timer.start()
        self._update_buttons()

    # --- reading ----------------------------------------------------------------------------

    def selected(self) -> ServerRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.rows[rows[0].row()] if rows and rows[0].row() < len(self.rows) else None

    def select(self, name: str) -> None:
        names = [r.name for r in self.rows]
        if name in names:
            self.table.selectRow(names.index(name))

    def refresh(self) -> None:
        rows = self.bridge.server_rows()
        selected = self.selected()
        if rows != self.rows:
            self.rows = rows
            self.table.setRowCount(len(rows))
            for r, row in enumerate(rows):
                for c, text in enumerate(_cells(row)):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        self.table.setItem(r, c, item)
                    item.setText(text)
                    if c == 4:
                        item.setForeground(QColor(health_colour(STATUS_HEALTH.get(row.status, "unknown"))))
                        item.setToolTip(row.detail)
            if selected is not None:
                self.select(selected.name)
        self.empty.setVisible(not rows)
        self.table.setVisible(bool(rows))
        self._update_buttons()

    def refresh_log(self) -> None:
        """Show the newest output of the selected managed server (only while the page is visible)."""
        if not self.isVisible() or self._log_name is None:
            return
        lines = self.bridge.server_log(self._log_name, LOG_LINES)
        if lines == self._log_last:
            return
        bar = self.log.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2
        self._log_last = lines
        self.log.setPlainText("\n".join(lines))
        if at_end:
            bar.setValue(bar.maximum())

    # --- actions ----------------------------------------------------------------------------

    def _act(self, action: str) -> None:
        row = self.selected()
        if row is not None and row.managed:
            self.problem.hide()
            self.bridge.server_action(row.name, action)

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def open_add_endpoint(self) -> AddEndpointDialog:
        dialog = AddEndpointDialog(self.bridge.add_endpoint, self)
        dialog.open()
        return dialog

    def open_add_managed(self) -> AddManagedDialog:
        dialog = AddManagedDialog(self.bridge.add_managed, self)
        dialog.open()
        return dialog

    def _selection_changed(self) -> None:
        row = self.selected()
        name = row.name if row is not None and row.managed else None
        if name is None:
            self.log_title.setText(
                "Log: select a managed server to follow its output."
                if row is None
                else f"{row.name} is not run by Steward: its log is not available here."
            )
        else:
            self.log_title.setText(f"Log of {name} (newest {LOG_LINES} lines, live)")
        if name != self._log_name:
            self._log_name = name
            self._log_last = []
            self.log.clear()
            self.refresh_log()
        self._update_buttons()

    def _update_buttons(self) -> None:
        row = self.selected()
        managed = row is not None and row.managed
        running = managed and row is not None and row.status not in ("stopped", "failed", "crashed")
        self.start_button.setEnabled(managed and not running)
        self.stop_button.setEnabled(running)
        self.restart_button.setEnabled(managed)
        ready = self.bridge.runtime is not None
        for button in (self.rediscover_button, self.add_endpoint_button, self.add_managed_button):
            button.setEnabled(ready)
