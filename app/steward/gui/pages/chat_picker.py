"""The Chat page's model picker and context meter.

The picker lists "Auto (best available)" and every model, naming the ones routing passes by right
now with their time left ("small/… — quarantined, 29 min left", "paused after failures, retry in
12 min"; the reason in the tooltip). It is sized by a few characters, not by the longest model
name, so a long name never widens the window. The meter says how much of the answering model's
window the conversation uses ("~1,234 / 4,096 tokens · small/…"), with a small bar that turns to
the warning look from 80%."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QWidget

from steward.engine.durations import duration_in_words, time_left
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gui.elided import ElidedLabel
from steward.gui.pages.chat_widgets import ElidingComboBox

AUTO = "auto"
PICKER_TIP = "Pin a model (its fallbacks still apply) or let the router choose"


def model_state(model: ModelSnapshot) -> str:
    """Why routing passes `model` by right now, in words ("" when it is in rotation)."""
    if model.quarantine is not None:
        return f"quarantined, {time_left(model.quarantine.remaining_s)}"
    if model.breaker == "open":
        wait = model.reopen_in_s
        return "paused after failures" + (f", retry in {duration_in_words(wait)}" if wait is not None else "")
    if model.breaker == "half_open":
        return "paused, testing again"
    return ""


class ModelPicker(ElidingComboBox):
    """ "Auto" and every model of the latest snapshot, marked with why routing passes it by."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(characters=14, parent=parent)
        self.setObjectName("modelPicker")
        self.addItem("Auto (best available)", AUTO)
        self.setToolTip(PICKER_TIP)
        self._keys: list[str] = []

    @property
    def keys(self) -> list[str]:
        """The models listed (after "Auto"), in the snapshot's order."""
        return list(self._keys)

    def show_models(self, snapshot: EngineSnapshot) -> bool:
        """List the snapshot's models (keeping the choice) and mark them; True when the list changed."""
        keys = [m.key for m in snapshot.models]
        changed = keys != self._keys
        if changed:
            self._keys = keys
            chosen = self.currentData()
            self.blockSignals(True)
            while self.count() > 1:
                self.removeItem(1)
            for model in snapshot.models:
                self.addItem(model.key, model.key)
            self.setCurrentIndex(max(0, self.findData(chosen)))
            self.blockSignals(False)
        self._mark(snapshot)
        return changed

    def _mark(self, snapshot: EngineSnapshot) -> None:
        """Name quarantined and paused models, with their time left in words."""
        for index, model in enumerate(snapshot.models, start=1):
            state = model_state(model)
            label = f"{model.key} — {state}" if state else model.key
            if self.itemText(index) != label:
                self.setItemText(index, label)
                tip = model.key
                if model.quarantine is not None:
                    why = model.quarantine.reason
                    tip += f"\nquarantined by you: {why}" if why else "\nquarantined by you"
                if state:
                    tip += f"\n{state}: chats pinned to it go to the fallback chain"
                self.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)
        self.setToolTip(self.currentText() + "\n" + PICKER_TIP)


class ContextMeter(QWidget):
    """ "~1,234 / 4,096 tokens · key" and a bar of the share used."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = ElidedLabel("~0 tokens")
        self.label.setObjectName("contextMeter")
        self.bar = QProgressBar()
        self.bar.setObjectName("contextBar")
        self.bar.setTextVisible(False)
        self.bar.setFixedSize(60, 8)
        self.bar.setToolTip("Share of the chosen model's context window this conversation uses")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)

    def estimate(self, used: int) -> None:
        """No model to ask: a rough count (four characters a token)."""
        self.label.setText(f"~{used:,} tokens")
        self._fill(0)

    def show_reading(self, used: int, window: int | None, key: str) -> None:
        if not window:
            self.label.setText(f"~{used:,} tokens · window unknown · {key}")
            self._fill(0)
            return
        share = min(100, round(100 * used / window))
        self.label.setText(f"~{used:,} / {window:,} tokens · {key}")
        self.label.setToolTip(
            f"{used:,} of {window:,} tokens ({share}%) of {key}'s window; older messages are fitted when it fills up"
        )
        self._fill(share)

    def _fill(self, share: int) -> None:
        self.bar.setValue(share)
        self.bar.setProperty("full", share >= 80)
        self.bar.style().unpolish(self.bar)
        self.bar.style().polish(self.bar)
