"""Chat page: conversation, model and strategy pickers, streamed answers with their attempt
chains, context notices, Send (Ctrl+Enter) and Stop (Esc)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import Completed, EngineEvent, RequestFailed, Token
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridge import Bridge
from steward.gui.pages.chat_message import MessageView

STRATEGIES = [
    ("Default strategy", None),
    ("Sequential", "sequential"),
    ("Hedged", "hedged"),
    ("Race", "race"),
    ("Weighted", "weighted"),
]


class ChatPage(QWidget):
    """Talk to the models through the reliability engine and see what it did."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.history: list[tuple[str, str]] = []
        self.current: MessageView | None = None
        self.current_rid: str | None = None
        self._dirty = False

        self.model_picker = QComboBox()
        self.model_picker.setObjectName("modelPicker")
        self.model_picker.addItem("Auto (best available)", "auto")
        self.model_picker.setMinimumWidth(260)
        self.strategy_picker = QComboBox()
        for label, value in STRATEGIES:
            self.strategy_picker.addItem(label, value)
        self.meter = QLabel("context: —")
        self.meter.setObjectName("contextMeter")
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_chat)
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_picker)
        top.addWidget(self.strategy_picker)
        top.addStretch(1)
        top.addWidget(self.meter)
        top.addWidget(self.new_button)

        self.transcript = QWidget()
        self.transcript_layout = QVBoxLayout(self.transcript)
        self.transcript_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.transcript_layout.setSpacing(8)
        self.empty_label = QLabel(
            "Ask anything. Every answer shows which model gave it and what the engine did."
        )
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.transcript_layout.addWidget(self.empty_label)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.transcript)

        self.input = QPlainTextEdit()
        self.input.setObjectName("chatInput")
        self.input.setPlaceholderText("Message — Ctrl+Enter to send, Esc to stop")
        self.input.setFixedHeight(90)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.input, 1)
        bottom.addLayout(buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(bottom)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.send)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.send)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.stop)

        self._render_timer = QTimer(self)
        self._render_timer.setInterval(50)  # stream repaint at most 20×/s
        self._render_timer.timeout.connect(self._flush)
        self._render_timer.start()
        bridge.chat_event.connect(self.on_chat_event)
        bridge.chat_finished.connect(self.on_finished)
        bridge.snapshot_changed.connect(self.on_snapshot)

    # --- models ----------------------------------------------------------------------------

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        keys = [m.key for m in snapshot.models]
        known = [self.model_picker.itemData(i) for i in range(1, self.model_picker.count())]
        if keys != known:
            chosen = self.model_picker.currentData()
            while self.model_picker.count() > 1:
                self.model_picker.removeItem(1)
            for model in snapshot.models:
                self.model_picker.addItem(model.key, model.key)
            index = self.model_picker.findData(chosen)
            self.model_picker.setCurrentIndex(max(0, index))
        self._update_meter(snapshot)

    def _update_meter(self, snapshot: EngineSnapshot) -> None:
        chosen = self.model_picker.currentData()
        model = (
            snapshot.model(chosen) if chosen != "auto" else (snapshot.models[0] if snapshot.models else None)
        )
        used = sum(len(text) for _, text in self.history) // 4
        if model is None or not model.window:
            self.meter.setText(f"context: ~{used:,} tokens")
        else:
            self.meter.setText(f"context: ~{used:,} / {model.window:,} tokens ({model.key})")

    # --- sending ---------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.current_rid is not None:
            return
        self.empty_label.hide()
        self.history.append(("user", text))
        self._add(MessageView("user", text))
        self.input.clear()
        rid = self.bridge.send_chat(
            list(self.history),
            model=self.model_picker.currentData(),
            strategy=self.strategy_picker.currentData(),
        )
        if rid is None:
            self.history.pop()
            return
        self.current_rid = rid
        self.current = MessageView("assistant")
        self._add(self.current)
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def stop(self) -> None:
        if self.current_rid is not None:
            self.bridge.stop_chat(self.current_rid)

    def new_chat(self) -> None:
        self.stop()
        self.history.clear()
        while self.transcript_layout.count() > 1:
            item = self.transcript_layout.takeAt(1)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.empty_label.show()

    def _add(self, view: MessageView) -> None:
        self.transcript_layout.addWidget(view)
        view.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        QTimer.singleShot(0, self._scroll_to_end)

    def _scroll_to_end(self) -> None:
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    # --- streaming -------------------------------------------------------------------------

    def on_chat_event(self, rid: str, event: EngineEvent) -> None:
        if rid != self.current_rid or self.current is None:
            return
        if isinstance(event, Token):
            self.current.append_token(event.text)
            self._dirty = True
            return
        self.current.apply(event)
        if isinstance(event, Completed):
            self.history.append(("assistant", event.text))
        elif isinstance(event, RequestFailed) and self.history and self.history[-1][0] == "user":
            # the turn got no answer: keep it on screen, out of the history, and back in the box to retry
            _, text = self.history.pop()
            if not self.input.toPlainText().strip():
                self.input.setPlainText(text)
        QTimer.singleShot(0, self._scroll_to_end)

    def on_finished(self, rid: str) -> None:
        if rid != self.current_rid:
            return
        if self.current is not None:
            self.current.stopped()
            if not self.current.model and self.history and self.history[-1][0] == "user":
                self.history.pop()  # stopped before an answer: that turn is not part of the conversation
        self.current_rid = None
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _flush(self) -> None:
        if self._dirty and self.current is not None:
            self._dirty = False
            self.current.render()
            self._scroll_to_end()
