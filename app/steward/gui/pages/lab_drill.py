"""The Lab's "Failover drill" tab: which models to fail and with which faults, Run / Stop with
progress, then the summary, one row per scenario (answered or not, by whom, how long, how much
longer than a clean answer, time to recover), the selected scenario's verdict, advice and the
attempt chain the user would have seen, and the timeline of all scenarios."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from steward.backends.faults import DESCRIPTIONS, FaultKind
from steward.gui.elided import ElidedLabel
from steward.gui.lab_charts import OUTCOME_WORDS, DrillTimeline, outcome, short_model
from steward.gui.tables import read_only_table
from steward.gui.theme import colours, set_tone
from steward.lab.drill import DrillReport, ScenarioResult

COLUMNS = ("Model", "Fault", "Answered", "By", "Time", "Added", "Recovered in")
LIST_HEIGHT = 112
FAULT_WORDS = {kind.value: words for kind, words in DESCRIPTIONS.items()}


def seconds(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    sign = ("+" if value >= 0 else "−") if signed else ""
    shown = abs(value) if signed else value
    return f"{sign}{shown * 1000:.0f} ms" if shown < 1 else f"{sign}{shown:.1f} s"


def checkable_list(name: str) -> QListWidget:
    widget = QListWidget()
    widget.setObjectName(name)
    widget.setMaximumHeight(LIST_HEIGHT)
    widget.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    widget.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return widget


def checked(widget: QListWidget) -> list[str]:
    return [
        str(widget.item(i).data(Qt.ItemDataRole.UserRole))
        for i in range(widget.count())
        if widget.item(i).checkState() == Qt.CheckState.Checked
    ]


def add_check(widget: QListWidget, key: str, text: str, on: bool, tip: str = "") -> None:
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, key)
    item.setToolTip(tip or text)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
    widget.addItem(item)


class DrillTab(QWidget):
    """Pick, run, stop, read. `run_requested(targets, faults)` and `stop_requested` go to the page."""

    run_requested = Signal(list, list)
    stop_requested = Signal()
    export_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: DrillReport | None = None
        self.saved_to = ""
        self._shown: list[ScenarioResult] = []
        self.targets = checkable_list("drillTargets")
        self.targets.setToolTip("The models to fail, one at a time (default: your fallback chain)")
        self.faults = checkable_list("drillFaults")
        for kind in FaultKind:
            add_check(self.faults, kind.value, f"{kind.value}: {DESCRIPTIONS[kind]}", True)
        pick = QHBoxLayout()
        for title, widget in (("Models to fail", self.targets), ("Faults", self.faults)):
            box = QGroupBox(title)
            inner = QVBoxLayout(box)
            inner.setContentsMargins(6, 4, 6, 6)
            inner.addWidget(widget)
            pick.addWidget(box, 1)
        self.run_button = QPushButton("Run drill")
        self.run_button.setObjectName("drillRun")
        self.run_button.setToolTip(
            "Fail each chosen model with each chosen fault, on the drill's own engine: "
            "your chats and other clients are never affected"
        )
        self.run_button.clicked.connect(self._run)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("drillStop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save this drill's report (JSON) somewhere else")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(lambda: self.export_requested.emit(self.saved_to))
        buttons = QVBoxLayout()
        for button in (self.run_button, self.stop_button, self.export_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        pick.addLayout(buttons)

        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.progress = ElidedLabel("Choose models and faults, then Run drill.")
        self.progress.setObjectName("drillProgress")
        self.summary = QLabel()
        self.summary.setObjectName("drillSummary")
        self.summary.setWordWrap(True)
        self.summary.hide()

        self.table = read_only_table("drillTable", COLUMNS, single_selection=True)
        self.table.itemSelectionChanged.connect(self._selected)
        self.details = QTextBrowser()
        self.details.setObjectName("drillDetails")
        self.details.setOpenLinks(False)
        self.details.setPlaceholderText("Select a scenario to read its verdict and what the user saw.")
        self.timeline = DrillTimeline()
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.details)
        bottom.addWidget(self.timeline)
        bottom.setSizes([420, 420])
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.addWidget(self.table)
        self.split.addWidget(bottom)
        self.split.setSizes([220, 180])
        self.split.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.addLayout(pick)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.split, 1)

    # --- choosing -----------------------------------------------------------------------------

    def set_models(self, known: Sequence[str], defaults: Sequence[str]) -> None:
        """The models one can fail; keeps the user's ticks for models still known."""
        before = {
            str(self.targets.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.targets.count())
        }
        if set(known) == before:
            return
        ticked = set(checked(self.targets)) if before else set(defaults)
        self.targets.clear()
        # the chain's models first, in its order: the drill fails them in the order listed
        ordered = [key for key in defaults if key in known] + [k for k in known if k not in defaults]
        for key in ordered:
            add_check(self.targets, key, key, key in ticked)

    def tick_faults(self, faults: Sequence[str]) -> None:
        """Tick exactly `faults` (values of FaultKind)."""
        for row in range(self.faults.count()):
            item = self.faults.item(row)
            on = item.data(Qt.ItemDataRole.UserRole) in faults
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def _run(self) -> None:
        targets, faults = checked(self.targets), checked(self.faults)
        if not targets or not faults:
            self.progress.setText("Tick at least one model and one fault.")
            set_tone(self.progress, "warning")
            return
        self.run_requested.emit(targets, faults)

    def set_running(self, running: bool, total: int = 0) -> None:
        self.run_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.targets.setEnabled(not running)
        self.faults.setEnabled(not running)
        self.progress_bar.setVisible(running)
        if running:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(0)
            self.progress.setText(f"0 of {total}: measuring a clean answer first…")
            set_tone(self.progress, None)
            self.export_button.setEnabled(False)
            self.summary.hide()
            self.show_scenarios([])

    # --- results ------------------------------------------------------------------------------

    def progressed(self, done: int, total: int, scenario: ScenarioResult) -> None:
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        mark = "✓" if scenario.answered else "✗"
        self.progress.setText(f"{done} of {total}: {mark} {scenario.verdict}")
        self.show_scenarios([*self._shown, scenario])

    def ended(self, why: str) -> None:
        """Stopped by the user (`why` empty) or failed."""
        self.set_running(False)
        self.progress_bar.hide()
        if why:
            self.progress.setText(f"The drill did not finish: {why}")
            set_tone(self.progress, "error")
        else:
            self.progress.setText("Stopped. Every fault was lifted; nothing was saved.")
            set_tone(self.progress, "muted")

    def show_report(self, report: DrillReport, saved_to: str) -> None:
        self.set_running(False)
        self.report, self.saved_to = report, saved_to
        self.summary.setText(report.summary())
        set_tone(self.summary, "success" if report.passed == len(report.scenarios) else "warning")
        self.summary.show()
        self.progress.setText(f"Drill of {len(report.scenarios)} scenarios, saved to {saved_to}")
        set_tone(self.progress, "muted")
        self.export_button.setEnabled(bool(saved_to))
        self.show_scenarios(report.scenarios, report.started_at)
        if report.scenarios:
            self.table.selectRow(0)

    def show_scenarios(self, scenarios: Sequence[ScenarioResult], started_at: float | None = None) -> None:
        self._shown = list(scenarios)
        palette_colours = colours(self.palette())
        self.table.setRowCount(len(scenarios))
        for row, s in enumerate(scenarios):
            answered = QTableWidgetItem("✓ yes" if s.answered else "✗ no")
            tone = {"itself": "success", "rescued": "success", "failed": "error"}[outcome(s)]
            answered.setForeground(getattr(palette_colours, tone))
            answered.setToolTip(OUTCOME_WORDS[outcome(s)])
            cells = [
                QTableWidgetItem(short_model(s.target)),
                QTableWidgetItem(s.fault),
                answered,
                QTableWidgetItem(short_model(s.answered_by) if s.answered_by else "—"),
                QTableWidgetItem(seconds(s.total_s)),
                QTableWidgetItem(seconds(s.added_s, signed=True)),
                QTableWidgetItem(seconds(s.recover_s) if s.recover_s is not None else "not back"),
            ]
            cells[0].setToolTip(s.target)
            cells[1].setToolTip(FAULT_WORDS.get(s.fault, s.fault))
            cells[3].setToolTip(s.answered_by or "nothing answered")
            for column, cell in enumerate(cells):
                self.table.setItem(row, column, cell)
        self.timeline.show_scenarios(scenarios, started_at)
        if not scenarios:
            self.details.clear()

    def _selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        index = rows[0].row() if rows else None
        self.timeline.select(index)
        if index is None or index >= len(self._shown):
            self.details.clear()
            return
        s = self._shown[index]
        parts = [f"<p><b>{html.escape(s.verdict)}</b></p>"]
        parts += [f"<p>→ {html.escape(advice)}</p>" for advice in s.advice]
        if s.chain:
            lines = "<br>".join(html.escape(line) for line in s.chain)
            parts.append(f"<p>What the user saw:<br>{lines}</p>")
        self.details.setHtml("".join(parts))
