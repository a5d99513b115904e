"""Servers page: every managed, configured and discovered server with its status (in words: why it
is unreachable, why a managed one last exited and how fast it came back), process and port.

Start / stop / restart the ones Steward runs (each button only when it makes sense); add, edit,
test and remove configured endpoints (Delete key, with a confirmation); follow a managed server's
live log; and a line saying whether the embedded servers run and which setting decided it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from steward.gui.bridge import Bridge
from steward.gui.server_dialogs import (
    AddEndpointDialog,
    AddManagedDialog,
    EditEndpointDialog,
    TestFn,
    check_text,
)
from steward.gui.server_table import CAN_RESTART, CAN_START, CAN_STOP, fill, servers_table
from steward.gui.theme import set_tone
from steward.service.endpoints import EndpointCheck
from steward.service.server_rows import ServerRow

LOG_LINES = 300


class ServersPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.rows: list[ServerRow] = []
        self._pending: dict[str, str] = {}  # server name -> action in flight
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.restart_button = QPushButton("Restart")
        self.test_button = QPushButton("Test connection")
        self.edit_button = QPushButton("Edit…")
        self.remove_button = QPushButton("Remove")
        self.rediscover_button = QPushButton("Re-discover")
        self.add_button = QPushButton("Add…")
        add_menu = QMenu(self.add_button)
        self.add_endpoint_action = add_menu.addAction("Endpoint by URL…", self.open_add_endpoint)
        self.add_managed_action = add_menu.addAction("Managed llama-server…", self.open_add_managed)
        self.add_button.setMenu(add_menu)
        self.test_button.setToolTip(
            "Ask the selected server what answers: kind, version, models — or why not."
        )
        self.edit_button.setToolTip(
            "Change the selected endpoint's kind, URL, API key or whether it is used."
        )
        self.remove_button.setToolTip(
            "Stop using the selected endpoint and forget it and its API key (Delete)."
        )
        self.rediscover_button.setToolTip("Probe the discovery ports again for local servers.")
        self.add_button.setToolTip(
            "Add a server by URL (its API key is kept in the OS keyring), or run a GGUF model in a "
            "llama-server that Steward supervises."
        )
        for button, action in (
            (self.start_button, "start"),
            (self.stop_button, "stop"),
            (self.restart_button, "restart"),
        ):
            button.clicked.connect(lambda _=False, a=action: self._act(a))
        self.test_button.clicked.connect(self.test_selected)
        self.edit_button.clicked.connect(self.open_edit_endpoint)
        self.remove_button.clicked.connect(self.remove_selected)
        self.rediscover_button.clicked.connect(self.bridge.servers.rediscover)
        actions = QHBoxLayout()
        for button in (self.start_button, self.stop_button, self.restart_button):
            actions.addWidget(button)
        actions.addSpacing(12)
        for button in (self.test_button, self.edit_button, self.remove_button):
            actions.addWidget(button)
        actions.addStretch(1)
        for button in (self.rediscover_button, self.add_button):
            actions.addWidget(button)

        self.problem = QLabel()
        self.problem.setObjectName("serverProblem")
        self.problem.setWordWrap(True)
        set_tone(self.problem, "error")
        self.problem.hide()
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_result.hide()
        self.last_check: EndpointCheck | None = None
        self.embedded_line = QLabel()
        self.embedded_line.setObjectName("hint")
        self.embedded_line.setWordWrap(True)
        self.embedded_line.setToolTip(
            "Settings › Embedded server › Run it: alongside other servers, or only "
            "when nothing else answers at start."
        )

        self.table = servers_table()
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.remove_shortcut = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.table)
        self.remove_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        self.remove_shortcut.activated.connect(self.remove_selected)
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
        layout.addWidget(self.embedded_line)
        layout.addWidget(self.problem)
        layout.addWidget(self.test_result)
        layout.addWidget(splitter, 1)

        bridge.snapshot_changed.connect(lambda _snapshot: self.refresh())
        bridge.servers.servers_changed.connect(self._action_done)
        bridge.servers.server_problem.connect(self.show_problem)
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
        rows = self.bridge.servers.server_rows()
        selected = self.selected()
        self.rows = rows
        fill(self.table, rows, self._pending)
        if selected is not None:
            self.select(selected.name)
        self.empty.setVisible(not rows)
        self.table.setVisible(bool(rows))
        summary = self.bridge.servers.embedded_summary()
        self.embedded_line.setText(summary)
        self.embedded_line.setVisible(bool(summary))
        self._update_buttons()

    def refresh_log(self) -> None:
        """Show the newest output of the selected managed server (only while the page is visible)."""
        if not self.isVisible() or self._log_name is None:
            return
        lines = self.bridge.servers.server_log(self._log_name, LOG_LINES)
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
        if row is not None and row.managed and row.name not in self._pending:
            self.problem.hide()
            self._pending[row.name] = action
            self.refresh()
            self.bridge.servers.server_action(row.name, action)

    def _action_done(self) -> None:
        """A server action (or an endpoint change) finished: its row is settled again."""
        self._pending.clear()
        self.refresh()

    def show_problem(self, text: str) -> None:
        self.problem.setText(text)
        self.problem.setVisible(bool(text))

    def test_selected(self) -> None:
        """Ask the selected server what answers; the result shows above the table."""
        row = self.selected()
        if row is None or row.url in ("", "—"):
            return
        self.test_button.setEnabled(False)
        self.test_result.setText(f"Testing {row.name} at {row.url} …")
        set_tone(self.test_result, None)
        self.test_result.show()
        endpoint_id = row.name if row.source == "configured" else ""
        self.bridge.servers.test_endpoint(
            row.kind, row.url, "", lambda check: self._tested(row, check), endpoint_id
        )

    def _tested(self, row: ServerRow, check: EndpointCheck) -> None:
        self.last_check = check
        set_tone(self.test_result, "success" if check.ok else "error")
        self.test_result.setText(f"{row.name}: {check_text(check)}")
        self.test_result.setToolTip("\n".join(check.models))
        self._update_buttons()

    def open_add_endpoint(self) -> AddEndpointDialog:
        dialog = AddEndpointDialog(self.bridge.servers.add_endpoint, self._dialog_test(""), self)
        dialog.open()
        return dialog

    def open_edit_endpoint(self) -> EditEndpointDialog | None:
        row = self.selected()
        settings = self.bridge.settings
        if row is None or row.source != "configured" or settings is None:
            return None
        endpoint = next((e for e in settings.endpoints if e.id == row.name), None)
        if endpoint is None:
            return None
        dialog = EditEndpointDialog(
            endpoint, self.bridge.servers.edit_endpoint, self._dialog_test(endpoint.id), self
        )
        dialog.open()
        return dialog

    def _dialog_test(self, endpoint_id: str) -> TestFn:
        """A dialog's "Test connection" (an edited endpoint keeps using its stored key)."""

        def test(kind: str, url: str, key: str, done: Callable[[EndpointCheck], None]) -> None:
            self.bridge.servers.test_endpoint(kind, url, key, done, endpoint_id)

        return test

    def remove_selected(self) -> QMessageBox | None:
        """Ask, then remove the selected configured endpoint (Delete key or the Remove button)."""
        row = self.selected()
        if row is None or row.source != "configured":
            return None
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove endpoint")
        box.setText(f"Remove the endpoint {row.name}?")
        settings = self.bridge.settings
        has_key = settings is not None and any(e.id == row.name and e.api_key_ref for e in settings.endpoints)
        key = " and deletes its API key from the OS keyring" if has_key else ""
        box.setInformativeText(
            f"Steward stops routing to {row.url}, removes it from the settings{key}. You can add it again later."
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        name = row.name

        def answered() -> None:
            if box.clickedButton() is remove:
                self._pending[name] = "remove"
                self.bridge.servers.remove_endpoint(name)
                self._update_buttons()

        box.finished.connect(answered)
        box.open()
        return box

    def open_add_managed(self) -> AddManagedDialog:
        dialog = AddManagedDialog(self.bridge.servers.add_managed, self)
        dialog.open()
        return dialog

    def context_actions(self) -> QMenu:
        """The selected server's actions as a menu (right click), each enabled like its button."""
        menu = QMenu(self)
        for button in (
            self.start_button,
            self.stop_button,
            self.restart_button,
            self.test_button,
            self.edit_button,
            self.remove_button,
        ):
            action = menu.addAction(button.text(), button.click)
            action.setEnabled(button.isEnabled())
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid():
            self.table.selectRow(index.row())
            self.context_actions().popup(self.table.viewport().mapToGlobal(pos))

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
        ready = self.bridge.runtime is not None
        busy = row is not None and row.name in self._pending
        managed = row is not None and row.managed and not busy
        state = row.status if row is not None else ""
        self.start_button.setEnabled(managed and state in CAN_START)
        self.stop_button.setEnabled(managed and state in CAN_STOP)
        self.restart_button.setEnabled(managed and state in CAN_RESTART)
        if row is not None and not row.managed:
            why = f"{row.name} is not run by Steward: start and stop it where it runs."
        else:
            why = ""
        self.start_button.setToolTip(why or "Start the selected managed server (when stopped or failed).")
        self.stop_button.setToolTip(
            why or "Stop the selected managed server (its models fail over meanwhile)."
        )
        self.restart_button.setToolTip(why or "Stop and start the selected managed server on the same port.")
        configured = ready and row is not None and row.source == "configured" and not busy
        self.edit_button.setEnabled(configured)
        self.remove_button.setEnabled(configured)
        self.test_button.setEnabled(ready and row is not None and row.url not in ("", "—"))
        for button in (self.rediscover_button, self.add_button):
            button.setEnabled(ready)
