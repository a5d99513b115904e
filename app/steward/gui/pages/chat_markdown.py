"""An answer's text: Markdown paragraphs as labels, fenced code blocks as monospace panels with
their own Copy button. Updated in place while the answer streams (widgets are reused, not rebuilt)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from steward.gui.pages.chat_widgets import CopyButton

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
MAX_CODE_LINES = 24  # taller blocks scroll inside themselves


@dataclass(frozen=True)
class Segment:
    """A run of Markdown prose (`code` False) or one fenced code block (`code` True)."""

    text: str
    code: bool = False
    language: str = ""


def split_markdown(text: str) -> list[Segment]:
    """Prose and fenced code blocks, in order. An unclosed fence (an answer still streaming)
    runs to the end, so a block being written already looks like code."""
    segments: list[Segment] = []
    prose: list[str] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            prose.append(lines[index])
            index += 1
            continue
        if any(line.strip() for line in prose):
            segments.append(Segment("\n".join(prose).strip("\n")))
        prose = []
        fence, language = opening.group(1), opening.group(2)
        body: list[str] = []
        index += 1
        while index < len(lines):
            line = lines[index]
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip().strip(fence[0]):
                index += 1
                break
            body.append(line)
            index += 1
        segments.append(Segment("\n".join(body), code=True, language=language))
    if any(line.strip() for line in prose):
        segments.append(Segment("\n".join(prose).strip("\n")))
    return segments


def prose_label() -> QLabel:
    label = QLabel()
    label.setObjectName("answerText")
    label.setTextFormat(Qt.TextFormat.MarkdownText)
    label.setWordWrap(True)
    label.setOpenExternalLinks(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    label.setMinimumWidth(1)  # a long URL must not force the window wider; it is clipped instead
    return label


class CodeBlock(QFrame):
    """A fenced code block: language, Copy, and the code in the system's monospace font on the
    palette's alternate background. Long lines scroll sideways instead of widening the window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.language = QLabel()
        self.language.setObjectName("codeLanguage")
        self.language.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.copy_button = CopyButton(self.code, "Copy this code block")
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("codeText")
        self.editor.setReadOnly(True)
        self.editor.setFrameShape(QFrame.Shape.NoFrame)
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.viewport().setBackgroundRole(QPalette.ColorRole.AlternateBase)
        self.editor.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.language)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 2, 4, 4)
        layout.setSpacing(0)
        layout.addLayout(top)
        layout.addWidget(self.editor)

    def set_code(self, code: str, language: str) -> None:
        self.language.setText(language or "code")
        if code != self.editor.toPlainText():
            self.editor.setPlainText(code)
            self._fit_height()

    def code(self) -> str:
        return self.editor.toPlainText()

    def _fit_height(self) -> None:
        """As tall as the code (up to MAX_CODE_LINES), plus the sideways scroll bar when a line is
        wider than the block."""
        editor = self.editor
        lines = editor.toPlainText().split("\n")
        metrics = editor.fontMetrics()
        margin = 2 * int(editor.document().documentMargin()) + 2 * editor.frameWidth()
        height = min(MAX_CODE_LINES, len(lines)) * metrics.lineSpacing() + margin + 2
        widest = max(metrics.horizontalAdvance(line) for line in lines) + margin
        if widest > editor.viewport().width():
            height += editor.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, editor)
        if editor.height() != height:
            editor.setFixedHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()


class MarkdownBody(QWidget):
    """The text of one message as prose labels and code blocks; `set_text` reuses the widgets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBody")
        self._text = ""
        self._parts: list[QWidget] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)

    def text(self) -> str:
        """The Markdown source shown (what Copy copies)."""
        return self._text

    def code_blocks(self) -> list[CodeBlock]:
        return [part for part in self._parts if isinstance(part, CodeBlock)]

    def set_text(self, text: str) -> None:
        if text == self._text and self._parts:
            return
        self._text = text
        segments = split_markdown(text) or [Segment(text)]
        for index, segment in enumerate(segments):
            part = self._parts[index] if index < len(self._parts) else None
            if part is not None and isinstance(part, CodeBlock) != segment.code:
                self._layout.removeWidget(part)
                part.deleteLater()
                part = None
            if part is None:
                part = CodeBlock() if segment.code else prose_label()
                self._layout.insertWidget(index, part)
                if index < len(self._parts):
                    self._parts[index] = part
                else:
                    self._parts.append(part)
            if isinstance(part, CodeBlock):
                part.set_code(segment.text, segment.language)
            elif isinstance(part, QLabel) and part.text() != segment.text:
                part.setText(segment.text)
        for part in self._parts[len(segments) :]:
            self._layout.removeWidget(part)
            part.deleteLater()
        del self._parts[len(segments) :]

    def set_enabled_look(self, enabled: bool) -> None:
        for part in self._parts:
            part.setEnabled(enabled)
