"""Chat page: stored conversations, model and strategy pickers (quarantined and paused models
marked with their time left), streamed Markdown answers with their attempt chains and fallbacks,
a context meter that follows the model actually answering, "retry with…", New chat (Ctrl+N),
Send (Ctrl+Enter), Stop (Esc). Long names elide, so the page fits a 1024×700 window."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import AttemptStarted, Completed, EngineEvent, RequestFailed, Token
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridge import Bridge
from steward.gui.pages.chat_message import MessageView
from steward.gui.pages.chat_picker import ContextMeter, ModelPicker
from steward.gui.pages.chat_sessions import SessionsPanel
from steward.store import ChatMessage as StoredMessage
from steward.store import ChatSession

STRATEGIES = [
    ("Default strategy", None),
    ("Sequential", "sequential"),
    ("Hedged", "hedged"),
    ("Race", "race"),
    ("Weighted", "weighted"),
]


def _title(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 48 else flat[:47] + "…"


class ChatPage(QWidget):
    """Talk to the models through the reliability engine and see what it did."""

    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.history: list[tuple[str, str]] = []
        self.current: MessageView | None = None
        self.current_rid: str | None = None
        self.session_id: str | None = None
        self.last_answer: MessageView | None = None
        self._dirty = False
        self._answering: str | None = None  # the model answering (or that last answered) this chat
        self._stop_requested = False

        self.sessions = SessionsPanel()
        self.sessions.setMinimumWidth(150)
        self.sessions.chosen.connect(self.open_session)
        self.sessions.new_requested.connect(self.new_chat)
        self.sessions.rename_requested.connect(self.bridge.chat.rename_session)
        self.sessions.delete_requested.connect(self._delete_session)

        self.model_picker = ModelPicker()
        self.model_picker.activated.connect(self._picked)
        self.strategy_picker = QComboBox()
        self.strategy_picker.setToolTip("How the engine uses the candidates for this chat")
        for label, value in STRATEGIES:
            self.strategy_picker.addItem(label, value)
        self.context = ContextMeter()
        self.meter, self.meter_bar = self.context.label, self.context.bar
        self.new_chat_action = QAction("New chat", self)
        self.new_chat_action.setShortcut(QKeySequence.StandardKey.New)  # Ctrl+N
        self.new_chat_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.new_chat_action.triggered.connect(self.new_chat)
        self.addAction(self.new_chat_action)  # a menu may add this same action: one shortcut, no clash
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        top.addWidget(self.model_picker, 2)
        top.addWidget(self.strategy_picker)
        top.addWidget(self.context, 3)

        self.transcript = QWidget()
        self.transcript.setObjectName("transcript")
        self.transcript_layout = QVBoxLayout(self.transcript)
        self.transcript_layout.setSpacing(8)
        self.empty_label = QLabel(
            "Ask anything. Every answer shows which model gave it and what the engine did."
        )
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.transcript_layout.addWidget(self.empty_label)
        self.transcript_layout.addStretch(1)  # messages keep their own height; the rest stays empty below
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.transcript)

        self.input = QPlainTextEdit()
        self.input.setObjectName("chatInput")
        self.input.setPlaceholderText("Message — Ctrl+Enter to send, Esc to stop")
        self.input.setFixedHeight(90)
        self.input.textChanged.connect(self._meter_soon)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("sendButton")
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

        chat = QWidget()
        chat_layout = QVBoxLayout(chat)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.addLayout(top)
        chat_layout.addWidget(self.scroll, 1)
        chat_layout.addLayout(bottom)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.sessions)
        splitter.addWidget(chat)
        splitter.setStretchFactor(1, 1)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([180, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.send)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.send)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, activated=self.stop)

        self._render_timer = QTimer(self)
        self._render_timer.setInterval(50)  # stream repaint at most 20×/s
        self._render_timer.timeout.connect(self._flush)
        self._render_timer.start()
        self._meter_timer = QTimer(self)
        self._meter_timer.setSingleShot(True)
        self._meter_timer.setInterval(200)
        self._meter_timer.timeout.connect(self._update_meter)
        bridge.chat.chat_event.connect(self.on_chat_event)
        bridge.chat.chat_finished.connect(self.on_finished)
        bridge.snapshot_changed.connect(self.on_snapshot)
        bridge.runtime_ready.connect(lambda _warnings: self.refresh_sessions())

    # --- sessions --------------------------------------------------------------------------

    def refresh_sessions(self) -> None:
        self.bridge.chat.list_sessions(lambda sessions: self.sessions.set_sessions(sessions, self.session_id))

    def open_session(self, session_id: str) -> None:
        if session_id == self.session_id or self.current_rid is not None:
            return
        self.bridge.chat.load_session(session_id, self._show_session)

    def _show_session(self, session: ChatSession | None) -> None:
        if session is None:
            self.refresh_sessions()
            return
        self._clear()
        self.session_id = session.id
        previous: MessageView | None = None
        for message in session.messages:
            if message.role == "assistant":
                view = MessageView("assistant", sent=list(self.history))
                view.retry_requested.connect(self.retry)
                view.restore(message.content, [*message.attempts, *message.context])
                if previous is not None and previous.role == "assistant" and self.history[-1:]:
                    if self.history[-1][0] == "assistant":
                        self.history.pop()  # the earlier answer was superseded by a retry
                    previous.superseded()
                if message.content:
                    self.history.append(("assistant", message.content))
                elif self.history and self.history[-1][0] == "user":
                    self.history.pop()  # no answer: that turn is not part of the conversation
            else:
                view = MessageView(message.role, message.content)
                self.history.append((message.role, message.content))
            self._add(view)
            previous = view
        if previous is not None and previous.role == "assistant" and previous.text:
            self._make_last(previous)
        self._answering = self.last_answer.model if self.last_answer is not None else None
        self._update_meter()

    def _delete_session(self, session_id: str) -> None:
        if session_id == self.session_id:
            self.new_chat()

        def deleted(_ok: bool) -> None:
            self.refresh_sessions()

        self.bridge.chat.delete_session(session_id, deleted)

    def _store(self, role: str, view_or_text: MessageView | str) -> None:
        if self.session_id is None:
            return
        if isinstance(view_or_text, MessageView):
            attempts, context = view_or_text.stored_parts()
            message = StoredMessage(
                self.session_id,
                role,
                view_or_text.text if not view_or_text.failed else "",
                time.time(),
                view_or_text.model,
                attempts,
                context,
            )
        else:
            message = StoredMessage(self.session_id, role, view_or_text, time.time())
        self.bridge.chat.save_message(message)

    # --- models ----------------------------------------------------------------------------

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        if self.model_picker.show_models(snapshot) and self.last_answer is not None:
            self._make_last(self.last_answer)  # its "retry with…" menu lists the models now known
        self._update_meter()

    def _picked(self, _index: int) -> None:
        """The user chose a model: the meter follows that choice again."""
        self._answering = None
        self._update_meter()

    def _meter_model(self) -> str | None:
        """The model answering (or that answered last), else the picked one, else the router's likely one."""
        snapshot = self.bridge.snapshot
        if self._answering is not None and (snapshot is None or snapshot.model(self._answering) is not None):
            return self._answering
        chosen = self.model_picker.currentData()
        if chosen != "auto":
            return str(chosen)
        snapshot = self.bridge.snapshot
        if snapshot is None or not snapshot.models:
            return None
        healthy = [m for m in snapshot.models if m.health in ("healthy", "unknown", "degraded")]
        return (healthy or list(snapshot.models))[0].key

    def _meter_soon(self) -> None:
        self._meter_timer.start()

    def _update_meter(self) -> None:
        key = self._meter_model()
        draft = self.input.toPlainText().strip()
        messages = self.history + ([("user", draft)] if draft else [])
        reading = self.bridge.chat.context_meter(key, messages) if key else None
        if reading is None or key is None:
            self.context.estimate(sum(len(text) for _, text in messages) // 4)
        else:
            self.context.show_reading(*reading, key)

    # --- sending ---------------------------------------------------------------------------

    def send(self) -> None:
        text = self.input.toPlainText().strip()
        if not text or self.current_rid is not None or self.bridge.runtime is None:
            if text and self.bridge.runtime is None:
                self.bridge.notice.emit("warning", "The engine is still starting; try again in a moment.")
            return
        if self.session_id is None:
            self.session_id = self.bridge.chat.create_session(_title(text))
            if self.session_id is not None:
                self.sessions.add_session(self.session_id, _title(text))
        self.history.append(("user", text))
        self._add(MessageView("user", text))
        self._store("user", text)
        self.input.clear()
        self._ask(self.model_picker.currentData())

    def _ask(self, model: str) -> None:
        rid = self.bridge.chat.send_chat(
            list(self.history), model=model, strategy=self.strategy_picker.currentData()
        )
        if rid is None:
            return
        self.current_rid = rid
        self._stop_requested = False
        self.current = MessageView("assistant", sent=list(self.history))
        self.current.retry_requested.connect(self.retry)
        self._add(self.current)
        self.send_button.setEnabled(False)
        self.stop_button.setEnabled(True)

    def retry(self, model: str) -> None:
        """Ask the latest question again, pinned to `model`; the previous answer is kept but superseded."""
        if self.current_rid is not None or self.last_answer is None:
            return
        if self.history and self.history[-1][0] == "assistant":
            self.history.pop()
        self.last_answer.superseded()
        self.last_answer = None
        self._ask(model)

    def _make_last(self, view: MessageView) -> None:
        if self.last_answer is not None and self.last_answer is not view:
            self.last_answer.offer_retry([])
        self.last_answer = view
        view.offer_retry([k for k in self.model_picker.keys if k != view.model])

    def stop(self) -> None:
        if self.current_rid is not None:
            self._stop_requested = True
            self.bridge.chat.stop_chat(self.current_rid)

    def new_chat(self) -> None:
        self.stop()
        self._clear()
        self.sessions.list.clearSelection()
        self.sessions.list.setCurrentItem(None)  # type: ignore[arg-type]
        self._answering = None
        self._update_meter()
        self.input.setFocus()

    def _clear(self) -> None:
        self.history.clear()
        self.session_id = None
        self.last_answer = None
        self.current = None
        while self.transcript_layout.count() > 2:  # the empty-state label first, the stretch last
            item = self.transcript_layout.takeAt(1)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.empty_label.show()

    def _add(self, view: MessageView) -> None:
        self.empty_label.hide()
        self.transcript_layout.insertWidget(self.transcript_layout.count() - 1, view)
        view.setSizePolicy(
            QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum
        )  # wraps: height follows width
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
        if isinstance(event, AttemptStarted) and event.model != self._answering:
            self._answering = event.model  # the header follows the model answering now
            self._update_meter()
        if isinstance(event, Completed):
            self.history.append(("assistant", event.text))
            self._store("assistant", self.current)
            self._make_last(self.current)
            self._update_meter()
            self.refresh_sessions()  # this conversation moves to the top with its new message count
        elif isinstance(event, RequestFailed):
            self._store("assistant", self.current)
            if self.history and self.history[-1][0] == "user":
                # the turn got no answer: keep it on screen, out of the history, and back in the box to retry
                _, text = self.history.pop()
                if not self.input.toPlainText().strip():
                    self.input.setPlainText(text)
        QTimer.singleShot(0, self._scroll_to_end)

    def on_finished(self, rid: str) -> None:
        if rid != self.current_rid:
            return
        if self.current is not None:
            self.current.stopped(by_user=self._stop_requested)
            if not self.current.model and self.history and self.history[-1][0] == "user":
                self.history.pop()  # stopped before an answer: that turn is not part of the conversation
        self.current_rid = None
        self._stop_requested = False
        self.send_button.setEnabled(True)
        self.stop_button.setEnabled(False)

    def _flush(self) -> None:
        if self._dirty and self.current is not None:
            self._dirty = False
            self.current.render()
            self._scroll_to_end()
