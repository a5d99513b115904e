"""The Lab's "A/B compare" tab: two models (or one at two temperatures), the prompts (built-in or
a file), runs and answer length; Run / Stop with progress; then the verdict in words (headline in
bold), the table of measures with B's change, interval and p-value, and every run's time to first
token for A and B as a strip of points with the medians."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.gui.elided import ElidedLabel
from steward.gui.lab_charts import DistributionPlot, short_model
from steward.gui.tables import read_only_table
from steward.gui.theme import set_tone
from steward.lab.compare import DEFAULT_PROMPTS, ComparisonResult, Run
from steward.lab.table import HEADER, measure_rows

NO_TEMPERATURE = -0.1
"""The temperature spin box's lowest value, shown as "default": the model's own setting."""


def temperature_box(name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setRange(NO_TEMPERATURE, 2.0)
    box.setSingleStep(0.1)
    box.setDecimals(1)
    box.setSpecialValueText("default")
    box.setValue(NO_TEMPERATURE)
    box.setToolTip("Temperature of this side's requests (default: the server's own)")
    return box


def model_combo(name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(14)
    combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return combo


class CompareTab(QWidget):
    """Pick, run, stop, read. The page turns `run_requested` into a bridge call."""

    run_requested = Signal(str, str, list, int, int, object)  # a, b, prompts, runs, max tokens, temps
    stop_requested = Signal()
    export_requested = Signal(str)
    prompts_file_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: ComparisonResult | None = None
        self.saved_to = ""
        self.prompts: tuple[str, ...] = DEFAULT_PROMPTS
        self.model_a, self.model_b = model_combo("compareA"), model_combo("compareB")
        self.temperature_a, self.temperature_b = (
            temperature_box("temperatureA"),
            temperature_box("temperatureB"),
        )
        grid = QGridLayout()
        for row, (label, combo, temp) in enumerate(
            (("A", self.model_a, self.temperature_a), ("B", self.model_b, self.temperature_b))
        ):
            grid.addWidget(QLabel(f"<b>{label}</b>"), row, 0)
            grid.addWidget(combo, row, 1)
            grid.addWidget(QLabel("temperature"), row, 2)
            grid.addWidget(temp, row, 3)
        grid.setColumnStretch(1, 1)
        self.prompts_label = ElidedLabel()
        self.prompts_label.setObjectName("comparePrompts")
        load = QPushButton("Load prompts…")
        load.setToolTip("A JSON list of strings, or one prompt per line (# starts a comment)")
        load.clicked.connect(self._choose_file)
        builtin = QPushButton("Built-in")
        builtin.setToolTip("The five built-in prompts: a fact, code, an explanation, JSON, a summary")
        builtin.clicked.connect(lambda: self.set_prompts(DEFAULT_PROMPTS, "built-in"))
        self.runs = QSpinBox()
        self.runs.setObjectName("compareRuns")
        self.runs.setRange(1, 100)
        self.runs.setValue(5)
        self.runs.setToolTip("How often each prompt goes to each side")
        self.max_tokens = QSpinBox()
        self.max_tokens.setObjectName("compareMaxTokens")
        self.max_tokens.setRange(1, 4096)
        self.max_tokens.setValue(64)
        self.max_tokens.setToolTip("The longest answer asked for, in tokens")
        grid.addWidget(QLabel("Prompts"), 2, 0)
        prompts_row = QHBoxLayout()
        prompts_row.addWidget(self.prompts_label, 1)
        prompts_row.addWidget(load)
        prompts_row.addWidget(builtin)
        grid.addLayout(prompts_row, 2, 1)
        numbers = QHBoxLayout()
        numbers.addWidget(QLabel("runs"))
        numbers.addWidget(self.runs)
        numbers.addWidget(QLabel("max tokens"))
        numbers.addWidget(self.max_tokens)
        grid.addLayout(numbers, 2, 2, 1, 2)

        self.run_button = QPushButton("Run comparison")
        self.run_button.setObjectName("compareRun")
        self.run_button.setToolTip("Send the same prompts to A and B, interleaved, fallbacks off")
        self.run_button.clicked.connect(self._run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("compareStop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save this comparison (JSON, every run) somewhere else")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.export_requested.emit(self.saved_to))
        buttons = QVBoxLayout()
        for button in (self.run_button, self.stop_button, self.export_button):
            buttons.addWidget(button)
        top = QHBoxLayout()
        top.addLayout(grid, 1)
        top.addLayout(buttons)

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.progress = ElidedLabel("Choose A and B, then Run comparison.")
        self.progress.setObjectName("compareProgress")
        self.verdict = QLabel()
        self.verdict.setObjectName("compareVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.hide()
        self.table = read_only_table("compareTable", HEADER)
        self.plot = DistributionPlot()
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(self.table)
        self.split.addWidget(self.plot)
        self.split.setSizes([540, 280])
        self.split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.verdict)
        layout.addWidget(self.split, 1)
        self.set_prompts(DEFAULT_PROMPTS, "built-in")

    # --- choosing -----------------------------------------------------------------------------

    def set_models(self, known: Sequence[str]) -> None:
        """The models to compare; keeps the choices still known (B defaults to the second model)."""
        if [self.model_a.itemText(i) for i in range(self.model_a.count())] == list(known):
            return
        chosen = (self.model_a.currentText(), self.model_b.currentText())
        for index, combo in enumerate((self.model_a, self.model_b)):
            combo.clear()
            combo.addItems(list(known))
            if chosen[index] in known:
                combo.setCurrentText(chosen[index])
            elif known:
                combo.setCurrentIndex(min(index, len(known) - 1))
            for i, key in enumerate(known):
                combo.setItemData(i, key, Qt.ItemDataRole.ToolTipRole)

    def set_prompts(self, prompts: Sequence[str], source: str) -> None:
        self.prompts = tuple(prompts)
        self.prompts_label.setText(f"{len(self.prompts)} prompts ({source})")
        self.prompts_label.setToolTip("\n".join(self.prompts))

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Prompts for the comparison", "", "Prompts (*.json *.txt);;All files (*)"
        )
        if path:
            self.prompts_file_chosen.emit(path)

    def _temperature(self, box: QDoubleSpinBox) -> float | None:
        return None if box.value() <= NO_TEMPERATURE + 1e-9 else round(box.value(), 2)

    def _run(self) -> None:
        a, b = self.model_a.currentText(), self.model_b.currentText()
        if not a or not b:
            self.say("No models to compare yet (is a server running?).", "warning")
            return
        temperatures = (self._temperature(self.temperature_a), self._temperature(self.temperature_b))
        if a == b and temperatures[0] == temperatures[1]:
            self.say("A and B are the same: pick two models, or two temperatures of one.", "warning")
            return
        self.run_requested.emit(
            a, b, list(self.prompts), self.runs.value(), self.max_tokens.value(), temperatures
        )

    def say(self, text: str, tone: str | None = None) -> None:
        self.progress.setText(text)
        set_tone(self.progress, tone)

    def set_running(self, running: bool, total: int = 0) -> None:
        for widget in (
            self.run_button,
            self.model_a,
            self.model_b,
            self.temperature_a,
            self.temperature_b,
            self.runs,
            self.max_tokens,
        ):
            widget.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.progress_bar.setVisible(running)
        if running:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(0)
            self.say(f"0 of {total} requests…")
            self.export_button.setEnabled(False)

    # --- results ------------------------------------------------------------------------------

    def progressed(self, done: int, total: int, run: Run) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        said = f"{run.total_s:.2f} s" if run.ok and run.total_s is not None else f"failed: {run.failure}"
        self.say(
            f"{done} of {total}: {run.side}, prompt {run.prompt_index + 1}, round {run.round + 1}: {said}"
        )

    def ended(self, why: str) -> None:
        self.set_running(False)
        if why:
            self.say(f"The comparison did not finish: {why}", "error")
        else:
            self.say("Stopped; nothing was saved.", "muted")

    def show_result(self, result: ComparisonResult, saved_to: str) -> None:
        self.set_running(False)
        self.result, self.saved_to = result, saved_to
        self._show_settings(result)
        sides = f"{html.escape(result.a.describe())}<br>{html.escape(result.b.describe())}"
        lines = [html.escape(line) for line in result.verdict]
        if lines:
            lines[0] = f"<b>{lines[0]}</b>"
        self.verdict.setText(f"{'<br>'.join(lines)}<br><span>{sides}</span>")
        self.verdict.show()
        runs = max((r.round for r in result.runs), default=-1) + 1
        self.say(f"{len(result.prompts)} prompts × {runs} runs each, saved to {saved_to}", "muted")
        self.export_button.setEnabled(bool(saved_to))
        rows = measure_rows(result)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.plot.show_values(
            result.values("A", "ttft_s"),
            result.values("B", "ttft_s"),
            (f"A: {short_model(result.a.model)}", f"B: {short_model(result.b.model)}"),
        )

    def _show_settings(self, result: ComparisonResult) -> None:
        """The controls as this result was run (so Run repeats it): sides, temperatures, prompts, runs."""
        for combo, box, side in (
            (self.model_a, self.temperature_a, result.a),
            (self.model_b, self.temperature_b, result.b),
        ):
            if combo.findText(side.model) >= 0:
                combo.setCurrentText(side.model)
            box.setValue(NO_TEMPERATURE if side.temperature is None else side.temperature)
        if result.prompts != self.prompts:
            self.set_prompts(result.prompts, "of this result")
        self.runs.setValue(max((r.round for r in result.runs), default=0) + 1)
