"""Gateway page: the local OpenAI/Ollama-compatible endpoint other tools point at — on/off, its
URL, the token (hidden until asked, copy, regenerate), ready-to-paste snippets, and the latest
requests that came through it (client, model asked, model that answered, outcome, time)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFontDatabase, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.gui.bridge import Bridge
from steward.gui.tables import read_only_table
from steward.service.hosting import GatewayStatus
from steward.service.snippets import MASK, gateway_snippets

COLUMNS = ("Time", "Client", "Asked", "Answered by", "Seconds", "Outcome")


class GatewayPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.status: GatewayStatus | None = None
        self.token = ""
        intro = QLabel(
            "<b>One local endpoint for your editors, agents and scripts.</b> Every request through it "
            "gets the same engine as this app: retries, fallbacks, breakers, context fitting."
        )
        intro.setWordWrap(True)
        self.enabled = QCheckBox("Serve the gateway")
        self.enabled.setToolTip("Listen for OpenAI- and Ollama-compatible requests while Steward runs")
        self.enabled.clicked.connect(self.bridge.gateway.set_gateway_enabled)
        self.state = QLabel("…")
        self.state.setObjectName("gatewayState")
        self.state.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.enabled)
        top.addWidget(self.state, 1)

        self.token_field = QLineEdit()
        self.token_field.setObjectName("gatewayToken")
        self.token_field.setReadOnly(True)
        self.token_field.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_token = QPushButton("Show")
        self.show_token.setCheckable(True)
        self.show_token.toggled.connect(self._show_token)
        self.copy_token = QPushButton("Copy token")
        self.copy_token.clicked.connect(lambda: self._copy(self.token))
        self.regenerate = QPushButton("New token…")
        self.regenerate.setToolTip("Clients using the old token stop working")
        self.regenerate.clicked.connect(self._regenerate)
        self.token_where = QLabel()
        token_row = QHBoxLayout()
        token_row.addWidget(QLabel("Token:"))
        token_row.addWidget(self.token_field, 1)
        for widget in (self.show_token, self.copy_token, self.regenerate):
            token_row.addWidget(widget)

        self.snippet_choice = QComboBox()
        self.snippet_choice.setObjectName("snippetChoice")
        self.snippet_choice.currentIndexChanged.connect(self._render_snippet)
        self.snippet = QPlainTextEdit()
        self.snippet.setObjectName("snippet")
        self.snippet.setReadOnly(True)
        self.snippet.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.snippet.setMaximumHeight(130)
        self.copy_snippet = QPushButton("Copy")
        self.copy_snippet.clicked.connect(lambda: self._copy(self._snippet_text(masked=False)))
        snippet_row = QHBoxLayout()
        snippet_row.addWidget(QLabel("Use it from:"))
        snippet_row.addWidget(self.snippet_choice, 1)
        snippet_row.addWidget(self.copy_snippet)

        self.table = read_only_table("gatewayRequests", COLUMNS)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(top)
        layout.addLayout(token_row)
        layout.addWidget(self.token_where)
        layout.addLayout(snippet_row)
        layout.addWidget(self.snippet)
        layout.addWidget(QLabel("Latest requests through the gateway:"))
        layout.addWidget(self.table, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh_requests)
        self._timer.start()
        bridge.gateway.gateway_changed.connect(self.show_status)
        bridge.runtime_ready.connect(lambda _warnings: bridge.gateway.refresh_gateway())
        bridge.settings_changed.connect(lambda _settings: bridge.gateway.refresh_gateway())

    # --- status and token ----------------------------------------------------------------------

    def show_status(self, status: GatewayStatus, token: str) -> None:
        self.status, self.token = status, token
        self.enabled.setChecked(status.enabled)
        if status.running:
            self.state.setText(f"● running at <b>{status.url}</b>")
        elif status.error:
            self.state.setText(f"⚠ not running: {status.error}")
        elif status.enabled:
            self.state.setText(f"starting… ({status.url})")
        else:
            self.state.setText("off — other tools cannot reach Steward")
        self.token_field.setText(token or "(no token required)")
        for widget in (self.show_token, self.copy_token, self.regenerate):
            widget.setEnabled(bool(token))
        where = status.token_where or "no token required (settings: gateway.require_token)"
        self.token_where.setText(f"The token is kept in: {where}. It is never written to logs or settings.")
        current = self.snippet_choice.currentText()
        self.snippet_choice.blockSignals(True)
        self.snippet_choice.clear()
        self.snippet_choice.addItems(list(gateway_snippets(status.url, token or None)))
        if current:
            self.snippet_choice.setCurrentText(current)
        self.snippet_choice.blockSignals(False)
        self._render_snippet()

    def _show_token(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        self.token_field.setEchoMode(mode)
        self.show_token.setText("Hide" if shown else "Show")
        self._render_snippet()

    def _snippet_text(self, masked: bool) -> str:
        if self.status is None:
            return ""
        token = self.token or None
        if token is not None and masked:
            token = MASK
        return gateway_snippets(self.status.url, token).get(self.snippet_choice.currentText(), "")

    def _render_snippet(self) -> None:
        self.snippet.setPlainText(self._snippet_text(masked=not self.show_token.isChecked()))

    def _copy(self, text: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            self.bridge.notice.emit("info", "copied to the clipboard")

    def _regenerate(self) -> None:
        answer = QMessageBox.question(
            self,
            "New gateway token",
            "Make a new token? Every tool using the current one must be given the new one.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.bridge.gateway.regenerate_gateway_token()

    # --- recent requests -------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        """Opening the page lists the latest requests at once, not on the next timer tick."""
        super().showEvent(event)
        self.refresh_requests()

    def refresh_requests(self) -> None:
        if not self.isVisible():
            return
        rows = self.bridge.gateway.recent_gateway_requests()
        self.table.setRowCount(len(rows))
        for row, request in enumerate(rows):
            seconds = "" if request.seconds is None else f"{request.seconds:.2f}"
            cells = (
                dt.datetime.fromtimestamp(request.ts).strftime("%H:%M:%S"),
                request.client or "—",
                request.asked,
                request.answered_by or "—",
                seconds,
                request.outcome,
            )
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
