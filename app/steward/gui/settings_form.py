"""Editors for one setting each (spin box, check box, combo box, line edit or a read-only
summary) with an inline error line underneath that says why a value is refused."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from steward.gui.preference_slider import STEPS, PreferenceSlider
from steward.gui.settings_fields import FieldSpec
from steward.gui.theme import set_tone

INVOLVED_TEXT = "part of the problem shown above"
# Editors accept values outside a field's limits on purpose: the model judges them and the
# reason is shown next to the field, instead of the spin box silently clamping the input.
INT_RANGE = (-1_000_000_000, 1_000_000_000)
FLOAT_RANGE = (-1e9, 1e9)
DECIMALS = 3


class FloatSpinBox(QDoubleSpinBox):
    """A double spin box that shows 0.25 as "0.25", not "0.250"."""

    def textFromValue(self, value: float) -> str:
        text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
        return text or "0"


class FieldEditor(QWidget):
    """The editor for one `FieldSpec`; `changed` fires on every user edit."""

    changed = Signal()

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.parse_error: str | None = None
        self.marked = False  # shown with a red border: its own problem or part of a group rule's
        self.widget = self._make()
        self.widget.setToolTip(spec.tooltip)
        self.widget.setObjectName(f"setting:{spec.path}")
        self.error_label = QLabel()
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        set_tone(self.error_label, "error")
        self.error_label.hide()
        # The red mark is a frame around the editor, not a border on it: a border set on a spin box
        # or combo box replaces its native arrows and buttons.
        self.frame = QFrame()
        self.frame.setObjectName("fieldMark")
        framed = QHBoxLayout(self.frame)
        framed.setContentsMargins(2, 2, 2, 2)
        framed.addWidget(self.widget)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(self.frame, 0 if spec.kind in ("int", "float", "bool", "choice", "slider") else 1)
        layout.addWidget(self.error_label, 1)
        if spec.kind in ("int", "float", "bool", "choice", "slider"):
            layout.addStretch(0)

    @property
    def editable(self) -> bool:
        return self.spec.kind != "readonly"

    def _make(self) -> QWidget:
        spec = self.spec
        if spec.kind == "int":
            box = QSpinBox()
            box.setRange(*INT_RANGE)
            box.setSuffix(" s" if spec.seconds else "")
            box.setMinimumWidth(140)
            box.setMaximumWidth(200)
            box.valueChanged.connect(self.changed)
            return box
        if spec.kind == "float":
            fbox = FloatSpinBox()
            fbox.setRange(*FLOAT_RANGE)
            fbox.setDecimals(DECIMALS)
            fbox.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
            fbox.setSuffix(" s" if spec.seconds else "")
            fbox.setMinimumWidth(140)
            fbox.setMaximumWidth(200)
            fbox.valueChanged.connect(self.changed)
            return fbox
        if spec.kind == "slider":
            slider = PreferenceSlider()
            slider.valueChanged.connect(self.changed)
            return slider
        if spec.kind == "bool":
            check = QCheckBox()
            check.toggled.connect(self.changed)
            return check
        if spec.kind == "choice":
            combo = QComboBox()
            for choice in spec.choices:
                shown = choice.replace("_", " ")
                combo.addItem(shown[:1].upper() + shown[1:], choice)
            combo.currentIndexChanged.connect(self.changed)
            return combo
        if spec.kind in ("text", "int_list"):
            line = QLineEdit()
            line.setMinimumWidth(260)
            line.textEdited.connect(self.changed)
            return line
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(label.textFormat().PlainText)
        return label

    def value(self) -> Any:
        """The edited value (for a list of numbers that cannot be read: the text, see parse_error)."""
        w = self.widget
        self.parse_error = None
        if isinstance(w, QSpinBox):
            return w.value()
        if isinstance(w, QDoubleSpinBox):
            return round(w.value(), DECIMALS)
        if isinstance(w, PreferenceSlider):
            return w.value()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QLineEdit):
            text = w.text().strip()
            if self.spec.kind != "int_list":
                return text
            items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
            if not all(t.lstrip("-").isdigit() for t in items):
                self.parse_error = "must be whole numbers separated by commas"
                return text
            return [int(t) for t in items]
        return None

    def set_value(self, value: Any) -> None:
        """Show `value` without emitting `changed`."""
        w = self.widget
        w.blockSignals(True)
        try:
            if isinstance(w, QSpinBox):
                w.setValue(int(value))
            elif isinstance(w, QDoubleSpinBox):
                w.setValue(float(value))
            elif isinstance(w, PreferenceSlider):
                w.set_value(float(value))
            elif isinstance(w, QCheckBox):
                w.setChecked(bool(value))
            elif isinstance(w, QComboBox):
                w.setCurrentIndex(max(0, w.findData(str(value))))
            elif isinstance(w, QLineEdit):
                w.setText(", ".join(str(v) for v in value) if isinstance(value, list) else str(value))
            elif isinstance(w, QLabel):
                w.setText(self._summary(value))
        finally:
            w.blockSignals(False)

    def same_as(self, current: Any) -> bool:
        """True when the editor shows `current` (floats compared at the editor's precision)."""
        mine = self.value()
        if self.spec.kind == "float":
            return round(float(current), DECIMALS) == mine
        if self.spec.kind == "slider":
            return round(float(current) * STEPS) / STEPS == mine
        return bool(mine == current)

    def _summary(self, value: Any) -> str:
        if isinstance(value, list):
            names = [getattr(v, "id", None) or getattr(v, "name", None) or str(v) for v in value]
            text = f"{len(value)}: {', '.join(names)}" if names else "none"
        elif isinstance(value, dict):
            text = "; ".join(f"{k} = {', '.join(v)}" for k, v in value.items()) or "none"
        else:
            text = str(value)
        return f"{text} — {self.spec.pointer}" if self.spec.pointer else text

    def show_error(self, reason: str | None, involved: bool = False) -> None:
        """Show this field's own problem, or mark it as one of the fields a group rule names."""
        text = reason or (INVOLVED_TEXT if involved else "")
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
        self.marked = bool(text) and self.editable
        set_tone(self.frame, "error" if self.marked else None)
