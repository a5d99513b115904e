"""One message in the chat transcript: Markdown text, the "answered by" badge, the expandable
attempt chain (abandoned partial text struck through) and context notices."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QToolButton, QVBoxLayout, QWidget

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
    RetryScheduled,
    TruncationSuspected,
)


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


class MessageView(QFrame):
    """A user or assistant message. Assistant messages follow the engine events of their request."""

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.text = text
        self.model: str | None = None
        self.finished = False
        self.failed = False
        self.chain: list[str] = []
        self.notices: list[str] = []
        self.dropped_text: list[str] = []
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
        for widget in (self.header, self.notice_label, self.body, self.badge, self.chain_label):
            layout.addWidget(widget)
        self.render()

    # --- engine events ---------------------------------------------------------------------

    def apply(self, event: EngineEvent) -> None:
        """Update from one event of this message's request."""
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
            self.dropped_text = list(event.dropped_preview)
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
        elif isinstance(event, Completed):
            self.model, self.finished = event.model, True
            self.text = event.text
            self.chain.append(f"✓ <b>{html.escape(event.model)}</b> answered in {event.total_s:.2f} s")
        elif isinstance(event, RequestFailed):
            self.finished, self.failed = True, True
            self.notices.append(f"✗ no answer: {html.escape(event.detail)}")
        self.render()

    def append_token(self, text: str) -> None:
        self.text += text

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

    def _show_dropped(self, _link: str) -> None:
        from PySide6.QtWidgets import QMessageBox

        text = "\n\n".join(self.dropped_text) or "(the dropped messages were not recorded)"
        QMessageBox.information(self, "Messages left out to fit the window", text)

    def _toggle_chain(self, shown: bool) -> None:
        self.chain_label.setVisible(shown)
        self.render()
