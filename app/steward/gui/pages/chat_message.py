"""One message in the chat transcript: Markdown text (code blocks with Copy), a Copy button, the
"answered by" badge (green for a clean first-choice answer, amber after a fallback), the expandable
attempt chain, context notices, and -- inline where it happened -- a switch of model with the
abandoned partial text kept struck through."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from steward.engine import events as engine_events
from steward.engine.events import (
    Completed,
    ContextFitted,
    EngineEvent,
    ModelLoading,
    RequestFailed,
    RequestStarted,
    TruncationSuspected,
)
from steward.engine.failures import FailureKind
from steward.gui.pages.chat_attempts import AttemptLog, FlowItem, Outcome
from steward.gui.pages.chat_markdown import MarkdownBody
from steward.gui.pages.chat_widgets import CopyButton
from steward.gui.theme import health_colour

CONTEXT_TYPES = frozenset({"ContextFitted", "TruncationSuspected", "ModelLoading"})
BADGE_COLOURS: dict[Outcome, str] = {
    "clean": "healthy",
    "fallback": "degraded",
    "failed": "unhealthy",
    "stopped": "unknown",
    "working": "loading",
}


def badge_style(outcome: Outcome) -> str:
    """The badge tinted with the status colour of `outcome` (text keeps the palette's colour)."""
    colour = QColor(health_colour(BADGE_COLOURS[outcome]))
    r, g, b = colour.red(), colour.green(), colour.blue()
    return (
        f"QToolButton#badge {{ border: 1px solid rgba({r}, {g}, {b}, 0.7); "
        f"background: rgba({r}, {g}, {b}, 0.16); border-radius: 9px; padding: 2px 10px; }}"
    )


def notice_style() -> str:
    """Inline switch notices look like the other notices: tinted with the "degraded" colour."""
    colour = QColor(health_colour("degraded"))
    r, g, b = colour.red(), colour.green(), colour.blue()
    return (
        f"QLabel#fallbackNotice {{ background: rgba({r}, {g}, {b}, 0.14); "
        f"border: 1px solid rgba({r}, {g}, {b}, 0.55); border-radius: 6px; padding: 4px 6px; }}"
    )


def wrapping_label(name: str, fmt: Qt.TextFormat = Qt.TextFormat.PlainText) -> QLabel:
    """A word-wrapped label that never forces the transcript wider (an unbreakable word is clipped)."""
    label = QLabel()
    label.setObjectName(name)
    label.setTextFormat(fmt)
    label.setWordWrap(True)
    label.setMinimumWidth(1)
    return label


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _preview(text: str, chars: int = 80) -> str:
    """The same one-line preview the context manager puts in `ContextFitted.dropped_preview`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"


def event_record(event: EngineEvent) -> dict[str, Any]:
    """A JSON-friendly record of `event` (stored with the chat message it belongs to)."""
    return {"type": event.type, "ts": event.ts, **event.payload()}


def event_from_record(record: object) -> EngineEvent | None:
    """Rebuild an engine event from `event_record` output (None when it no longer fits the class)."""
    if not isinstance(record, dict):
        return None
    data = dict(record)
    cls = getattr(engine_events, str(data.pop("type", "")), None)
    if not isinstance(cls, type) or not issubclass(cls, EngineEvent):
        return None
    if "kind" in data:
        try:
            data["kind"] = FailureKind(data["kind"])
        except ValueError:
            data["kind"] = FailureKind.UNKNOWN
    if "dropped_preview" in data:
        data["dropped_preview"] = tuple(data["dropped_preview"] or ())
    try:
        return cls(**data)  # type: ignore[no-any-return]
    except TypeError:
        return None


class MessageView(QFrame):
    """A user or assistant message. Assistant messages follow the engine events of their request.

    `sent` is the conversation the request carried: a fit notice's "show" reveals the full text of
    the messages that were left out (matched by the engine's previews)."""

    retry_requested = Signal(str)  # model key

    def __init__(
        self,
        role: str,
        text: str = "",
        parent: QWidget | None = None,
        sent: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.role = role
        self.text = text
        self.sent = list(sent or [])
        self.finished = role != "assistant"
        self.log = AttemptLog()
        self.notices: list[str] = []
        self.dropped_text: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.flow_widgets: list[QLabel] = []
        self._badge_outcome: Outcome | None = None
        self._badge_full = ""
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        self.header = QLabel("You" if role == "user" else "Assistant")
        self.header.setObjectName("messageHeader")
        self.copy_button = CopyButton(lambda: self.text, "Copy this message (Markdown)")
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.header, 1)
        top.addWidget(self.copy_button)
        self.body = MarkdownBody()
        self.plain = wrapping_label("userText")
        self.plain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_label = wrapping_label("notice", Qt.TextFormat.RichText)
        self.notice_label.hide()
        self.notice_label.linkActivated.connect(self._show_dropped)
        self.dropped_label = wrapping_label("droppedText")
        self.dropped_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dropped_label.hide()
        self.flow = QVBoxLayout()
        self.flow.setContentsMargins(0, 0, 0, 0)
        self.flow.setSpacing(4)
        self.badge = QToolButton()
        self.badge.setObjectName("badge")
        self.badge.setCheckable(True)
        self.badge.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.badge.setMinimumWidth(60)  # elided to fit (see _fit_badge), never widening the window
        self.badge.toggled.connect(self._toggle_chain)
        self.badge.hide()
        self.chain_label = wrapping_label("attemptChain", Qt.TextFormat.RichText)
        self.chain_label.hide()
        self.retry_button = QToolButton()
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setText("Retry with…")
        self.retry_button.setToolTip("Ask the same question again, pinned to another model")
        self.retry_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.retry_menu = QMenu(self.retry_button)
        self.retry_button.setMenu(self.retry_menu)
        self.retry_button.hide()
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.addWidget(self.badge)
        footer.addStretch(1)
        footer.addWidget(self.retry_button)
        layout.addLayout(top)
        for widget in (self.notice_label, self.dropped_label):
            layout.addWidget(widget)
        layout.addLayout(self.flow)
        layout.addWidget(self.body if role == "assistant" else self.plain)
        (self.plain if role == "assistant" else self.body).hide()
        layout.addLayout(footer)
        layout.addWidget(self.chain_label)
        self.render()

    # --- what the rest of the page reads ---------------------------------------------------

    @property
    def model(self) -> str | None:
        """The model that answered (None until it did)."""
        return self.log.model

    @property
    def failed(self) -> bool:
        return self.log.failed

    @property
    def chain(self) -> list[str]:
        return self.log.chain

    def offer_retry(self, models: list[str]) -> None:
        """Show "Retry with…" listing `models` (empty hides it)."""
        self.retry_menu.clear()
        for key in models:
            action = self.retry_menu.addAction(key)
            action.triggered.connect(lambda _=False, k=key: self.retry_requested.emit(k))
        self.retry_button.setVisible(bool(models) and self.finished)
        self._fit_badge()

    def restore(self, text: str, records: list[object]) -> None:
        """Show a stored assistant message: its text and the events stored with it."""
        for record in records:
            event = event_from_record(record)
            if event is not None:
                self.apply(event)
        self.text, self.finished = text, True
        if records and self.log.model is None and not self.log.failed:
            self.log.stop(by_user=False)  # attempts were recorded but no outcome: say so
        self.render()

    # --- engine events ---------------------------------------------------------------------

    def apply(self, event: EngineEvent) -> None:
        """Update from one event of this message's request."""
        self.records.append(event_record(event))
        self.log.apply(event)
        if isinstance(event, ModelLoading):
            self.notices.append(f"⏳ {html.escape(event.model)} is loading — waiting for it")
        elif isinstance(event, ContextFitted):
            self.dropped_text = self._full_texts(event.dropped_preview)
            what = "summarized" if event.summary else "dropped"
            self.notices.append(
                f"✂ {event.dropped_messages} earlier message{_plural(event.dropped_messages)} {what} to fit "
                f"{event.window:,} tokens on {html.escape(event.model)} ({event.tokens_before:,} → "
                f"{event.tokens_after:,} tokens, policy {event.policy}) — <a href='show-dropped'>show</a>"
            )
        elif isinstance(event, TruncationSuspected):
            self.notices.append(
                f"⚠ {html.escape(event.model)} reported {event.reported_tokens:,} prompt tokens but "
                f"{event.expected_tokens:,} were sent: the server probably cut the conversation silently"
            )
        elif isinstance(event, RequestStarted):
            self.notices += [f"⚠ {html.escape(note)}" for note in event.notes]
        elif isinstance(event, Completed):
            self.finished = True
            self.text = event.text
            if event.note:
                self.notices.append(f"✂ {html.escape(event.note)}")
        elif isinstance(event, RequestFailed):
            self.finished = True
            self.notices.append(f"✗ no answer: {html.escape(event.detail)}")
        if len(self.flow_widgets) < len(self.log.flow) and any(
            item.kind == "abandoned" for item in self.log.flow[len(self.flow_widgets) :]
        ):
            self.text = ""  # the abandoned text moves up, struck through; the next answer starts here
        self.render()

    def append_token(self, text: str) -> None:
        self.text += text

    def superseded(self) -> None:
        """Grey out an answer that a retry replaced (it stays visible, out of the conversation)."""
        self.header.setText("Assistant — superseded by a retry")
        self.setProperty("superseded", True)
        self.body.set_enabled_look(False)
        self.offer_retry([])

    def stopped(self, by_user: bool = True) -> None:
        """The request ended without a final event: stopped by the user (Esc) or torn down."""
        if not self.finished:
            self.finished = True
            self.log.stop(by_user)
            self.notices.append("■ stopped" if by_user else "■ ended without an answer")
            self.render()

    # --- drawing ---------------------------------------------------------------------------

    def badge_text(self) -> str:
        return self.log.badge_text()

    def render(self) -> None:
        if self.role == "assistant":
            self.body.set_text(self.text or ("" if self.finished else "…"))
        else:
            self.plain.setText(self.text)
        self.copy_button.setVisible(self.finished and bool(self.text))
        if self.notices:
            self.notice_label.setText("<br>".join(self.notices))
            self.notice_label.show()
        for item in self.log.flow[len(self.flow_widgets) :]:
            self._add_flow(item)
        if self.role == "assistant" and self.log.chain:
            outcome = self.log.outcome()
            if outcome != self._badge_outcome:
                self._badge_outcome = outcome
                self.badge.setProperty("outcome", outcome)
                self.badge.setStyleSheet(badge_style(outcome))
            self._badge_full = ("▾ " if self.badge.isChecked() else "▸ ") + self.badge_text()
            self.badge.setToolTip(self._badge_full[2:])
            self._fit_badge()
            self.badge.show()
            self.chain_label.setText("<br>".join(self.log.chain))

    def _add_flow(self, item: FlowItem) -> None:
        if item.kind == "abandoned":
            label = wrapping_label("abandonedText")
            label.setText(item.text)
            font = label.font()
            font.setStrikeOut(True)
            label.setFont(font)
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            label.setToolTip(f"{item.model} stopped before finishing: this text is not part of the answer")
        else:
            label = wrapping_label("fallbackNotice")
            label.setText(item.text)
            label.setStyleSheet(notice_style())
        self.flow_widgets.append(label)
        self.flow.addWidget(label)

    def _fit_badge(self) -> None:
        """The badge's text elided (in the middle: the model name) to the width the message has."""
        if not self._badge_full:
            return
        room = self.contentsRect().width() - 40
        if self.retry_button.isVisible():
            room -= self.retry_button.sizeHint().width() + 8
        metrics = self.badge.fontMetrics()
        text = self._badge_full
        if room > 0 and metrics.horizontalAdvance(text) > room:
            text = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, room)
        if text != self.badge.text():
            self.badge.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_badge()

    def stored_parts(self) -> tuple[list[object], list[object]]:
        """(attempt chain, context events) as JSON-friendly records, for the store."""
        attempts: list[object] = [r for r in self.records if r["type"] not in CONTEXT_TYPES]
        context: list[object] = [r for r in self.records if r["type"] in CONTEXT_TYPES]
        return attempts, context

    def _full_texts(self, previews: tuple[str, ...]) -> list[str]:
        """The whole dropped messages where the sent conversation has them, else the previews."""
        remaining = list(self.sent)
        texts = []
        for short in previews:
            match = next((m for m in remaining if _preview(m[1]) == short), None)
            if match is not None:
                remaining.remove(match)
                texts.append(f"{match[0]}: {match[1]}")
            else:
                texts.append(short)
        return texts

    def _show_dropped(self, _link: str) -> None:
        """Reveal (or hide again) the messages left out to fit the window, inline."""
        shown = not self.dropped_label.isVisible()
        text = "\n\n".join(self.dropped_text) or "(the dropped messages were not recorded)"
        self.dropped_label.setText("Left out to fit the window:\n\n" + text)
        self.dropped_label.setVisible(shown)

    def _toggle_chain(self, shown: bool) -> None:
        self.chain_label.setVisible(shown)
        self.render()
