"""The speed ↔ accuracy slider of the Settings page (`weights.preference`, 0 … 1).

A slider rather than a number because the setting is a position between two goals: the ends are
named ("Speed", "Accuracy") and the line under it says what the position does to the router's
score — the factors applied to the capability and performance weights, as the router applies
them (`RoutingWeights.for_task`), so the user sees the effect before applying. Arrow keys move it
by 0.01, Page Up/Down by 0.1."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from steward.engine.settings import RoutingWeights
from steward.gui.theme import set_tone

STEPS = 100


def describe(preference: float) -> str:
    """ "0.70 · towards accuracy: capability ×1.4, speed ×0.6"."""
    weights = RoutingWeights(capability=1.0, performance=1.0, preference=preference).for_task("GENERAL")
    toward = (
        "balanced" if preference == 0.5 else ("towards accuracy" if preference > 0.5 else "towards speed")
    )
    return (
        f"{preference:.2f} · {toward}: capability ×{weights.capability:.1f}, speed ×{weights.performance:.1f}"
    )


class PreferenceSlider(QWidget):
    """Slider from "Speed" (0) to "Accuracy" (1) with the effect in words; `valueChanged(float)`."""

    valueChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, STEPS)
        self.slider.setSingleStep(1)
        self.slider.setPageStep(STEPS // 10)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(STEPS // 2)
        self.slider.setMinimumWidth(220)
        self.setMaximumWidth(460)
        self.slider.setAccessibleName("Speed ↔ accuracy")
        self.effect = QLabel()
        self.effect.setObjectName("preferenceEffect")
        set_tone(self.effect, "muted")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Speed"))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("Accuracy"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.effect)
        self.slider.valueChanged.connect(self._moved)
        self._moved(self.slider.value())

    def value(self) -> float:
        return self.slider.value() / STEPS

    def set_value(self, value: float) -> None:
        """Show `value` (0 … 1) without emitting `valueChanged`."""
        self.slider.blockSignals(True)
        try:
            self.slider.setValue(round(min(1.0, max(0.0, value)) * STEPS))
        finally:
            self.slider.blockSignals(False)
        self.effect.setText(describe(self.value()))

    def _moved(self, position: int) -> None:
        self.effect.setText(describe(position / STEPS))
        self.valueChanged.emit(position / STEPS)
