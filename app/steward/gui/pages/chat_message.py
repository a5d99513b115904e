"""One message in the chat transcript: Markdown text, the "answered by" badge, the expandable
attempt chain (abandoned partial text struck through) and context notices."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout, QWidget

from steward.engine import events as engine_events
from steward.engine.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    CandidateSkipped,
    Completed,
    ContextFitted,
    EngineEvent,
    FallbackChosen,
    HedgeStarted,
    ModelLoading,
    PartialAbandoned,
    RequestFailed,
    RequestStarted,
    RetryScheduled,
    TruncationSuspected,
)
from steward.engine.failures import FailureKind

CONTEXT_TYPES = frozenset({"ContextFitted", "TruncationSuspected", "ModelLoading"})


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
        self.model: str | None = None
        self.finished = False
        self.failed = False
        self.chain: list[str] = []
        self.notices: list[str] = []
        self.dropped_text: list[str] = []
        self.records: list[dict[str, Any]] = []
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        self.header = QLabel("You" if role == "user" else "Assistant")
        self.header.setObjectName("messageHeader")
        self.body = QLabel()
        self.body.setTextFormat(
            Qt.TextFormat.MarkdownText if role == "assistant" else Qt.TextFormat.PlainText
        )
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice_label = QLabel()
        self.notice_label.setWordWrap(True)
        self.notice_label.setObjectName("notice")
        self.notice_label.setTextFormat(Qt.TextFormat.RichText)
        self.notice_label.hide()
        self.notice_label.linkActivated.connect(self._show_dropped)
        self.dropped_label = QLabel()
        self.dropped_label.setObjectName("droppedText")
        self.dropped_label.setWordWrap(True)
        self.dropped_label.setTextFormat(Qt.TextFormat.PlainText)
        self.dropped_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dropped_label.hide()
        self.badge = QToolButton()
        self.badge.setObjectName("badge")
        self.badge.setCheckable(True)
        self.badge.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.badge.toggled.connect(self._toggle_chain)
        self.badge.hide()
        self.chain_label = QLabel()
        self.chain_label.setTextFormat(Qt.TextFormat.RichText)
        self.chain_label.setWordWrap(True)
        self.chain_label.setObjectName("attemptChain")
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
        for widget in (self.header, self.notice_label, self.dropped_label, self.body):
            layout.addWidget(widget)
        layout.addLayout(footer)
        layout.addWidget(self.chain_label)
        self.render()

    def offer_retry(self, models: list[str]) -> None:
        """Show "Retry with…" listing `models` (empty hides it)."""
        self.retry_menu.clear()
        for key in models:
            action = self.retry_menu.addAction(key)
            action.triggered.connect(lambda _=False, k=key: self.retry_requested.emit(k))
        self.retry_button.setVisible(bool(models) and self.finished)

    def restore(self, text: str, records: list[object]) -> None:
        """Show a stored assistant message: its text and the events stored with it."""
        for record in records:
            event = event_from_record(record)
            if event is not None:
                self.apply(event)
        self.text, self.finished = text, True
        self.render()

    # --- engine events ---------------------------------------------------------------------

    def apply(self, event: EngineEvent) -> None:
        """Update from one event of this message's request."""
        self.records.append(event_record(event))
        if isinstance(event, AttemptStarted):
            self.chain.append(f"→ <b>{html.escape(event.model)}</b> started ({html.escape(event.reason)})")
        elif isinstance(event, AttemptFailed):
            retry = ", retrying" if event.will_retry else ""
            self.chain.append(
                f"✗ <b>{html.escape(event.model)}</b> failed: <code>{event.kind.value}</code> after "
                f"{event.elapsed_s:.2f} s — {html.escape(event.detail)}{retry}"
            )
        elif isinstance(event, PartialAbandoned):
            self.chain.append(
                f"⌫ abandoned partial answer from {html.escape(event.model)}: "
                f"<s>{html.escape(event.text[:400])}</s>"
            )
            self.text = ""
        elif isinstance(event, FallbackChosen):
            self.chain.append(f"↪ fallback to <b>{html.escape(event.model)}</b>: {html.escape(event.reason)}")
        elif isinstance(event, HedgeStarted):
            self.chain.append(f"⇉ hedged with <b>{html.escape(event.model)}</b> after {event.after_s:.2f} s")
        elif isinstance(event, AttemptCancelled):
            self.chain.append(f"■ {html.escape(event.model)} cancelled: {html.escape(event.reason)}")
        elif isinstance(event, CandidateSkipped):
            self.chain.append(f"⤼ skipped {html.escape(event.model)}: {html.escape(event.reason)}")
        elif isinstance(event, RetryScheduled):
            self.chain.append(
                f"↻ retry {html.escape(event.model)} in {event.delay_s:.2f} s ({html.escape(event.reason)})"
            )
        elif isinstance(event, ModelLoading):
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
            self.model, self.finished = event.model, True
            self.text = event.text
            self.chain.append(f"✓ <b>{html.escape(event.model)}</b> answered in {event.total_s:.2f} s")
            if event.note:
                self.notices.append(f"✂ {html.escape(event.note)}")
        elif isinstance(event, RequestFailed):
            self.finished, self.failed = True, True
            self.notices.append(f"✗ no answer: {html.escape(event.detail)}")
        self.render()

    def append_token(self, text: str) -> None:
        self.text += text

    def superseded(self) -> None:
        """Grey out an answer that a retry replaced (it stays visible, out of the conversation)."""
        self.header.setText("Assistant — superseded by a retry")
        self.setProperty("superseded", True)
        self.body.setEnabled(False)
        self.offer_retry([])

    def stopped(self) -> None:
        if not self.finished:
            self.finished = True
            self.notices.append("■ stopped")
            self.render()

    # --- drawing ---------------------------------------------------------------------------

    def badge_text(self) -> str:
        if self.failed:
            return "no answer — show attempts"
        if self.model is None:
            return "working… — show attempts"
        took = next((c for c in reversed(self.chain) if c.startswith("✓")), "")
        seconds = took.rsplit(" in ", 1)[-1] if " in " in took else ""
        return f"answered by {self.model} in {seconds}"

    def render(self) -> None:
        self.body.setText(self.text or ("…" if self.role == "assistant" and not self.finished else self.text))
        if self.notices:
            self.notice_label.setText("<br>".join(self.notices))
            self.notice_label.show()
        if self.role == "assistant" and self.chain:
            self.badge.setText(("▾ " if self.badge.isChecked() else "▸ ") + self.badge_text())
            self.badge.show()
            self.chain_label.setText("<br>".join(self.chain))

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
