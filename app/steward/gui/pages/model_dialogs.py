"""The Models page's dialogs: quarantine a model (reason and duration) and pick its capability tags."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

DURATIONS = [
    ("Until released", None),
    ("5 minutes", 300.0),
    ("30 minutes", 1800.0),
    ("2 hours", 7200.0),
    ("1 day", 86400.0),
]

COMMON_TAGS = ["chat", "code", "tools", "vision", "reasoning", "long-context"]


class QuarantineDialog(QDialog):
    """Ask for a reason and a duration. The full model name is shown in the dialog (a window
    title is cut short by most window managers) and the reason field is wide enough for its hint."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Quarantine a model")
        self.setMinimumWidth(500)  # room to breathe; a longer name wraps (it never widens past the screen)
        self.model_label = QLabel(key)
        self.model_label.setObjectName("quarantineModel")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.model_label.font()
        font.setBold(True)
        self.model_label.setFont(font)
        hint = QLabel(
            "Routing skips it (chats pinned to it go to the fallback chain) until released or the time is up."
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("why (shown in the dashboard and the audit trail)")
        metrics = self.reason.fontMetrics()
        self.reason.setMinimumWidth(metrics.horizontalAdvance(self.reason.placeholderText()) + 24)
        self.duration = QComboBox()
        for label, seconds in DURATIONS:
            self.duration.addItem(label, seconds)
        form = QFormLayout(self)
        form.addRow(self.model_label)
        form.addRow(hint)
        form.addRow("Reason", self.reason)
        form.addRow("Duration", self.duration)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)


class CapabilitiesDialog(QDialog):
    """Pick capability tags for one model: common ones as boxes, any others as text."""

    def __init__(self, key: str, tags: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Capabilities of {key}")
        self.boxes = {tag: QCheckBox(tag) for tag in COMMON_TAGS}
        form = QFormLayout(self)
        form.addRow(QLabel("The router prefers models whose tags match the task it guesses."))
        for tag, box in self.boxes.items():
            box.setChecked(tag in tags)
            form.addRow(box)
        self.other = QLineEdit(", ".join(t for t in tags if t not in COMMON_TAGS))
        self.other.setPlaceholderText("more tags, comma separated (lower-case words)")
        form.addRow("Other", self.other)
        self.error = QLabel()
        self.error.setObjectName("inlineError")
        self.error.setWordWrap(True)
        self.error.hide()
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def tags(self) -> list[str]:
        chosen = [tag for tag, box in self.boxes.items() if box.isChecked()]
        extra = [t.strip() for t in self.other.text().split(",") if t.strip()]
        return chosen + [t for t in extra if t not in chosen]
