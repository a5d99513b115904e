"""Lab page: experiments on the user's own setup, on real servers, through the service.

- "Objectives" (`lab_slo.ObjectivesTab`): is each model keeping its SLOs — error budget left, burn
  rates, usual level and drift — refreshed every few seconds while shown and on every alert.
- "Failover drill" (`lab_drill.DrillTab`): does my setup really keep answering when a model fails?
- "A/B compare" (`lab_compare.CompareTab`): is B really faster (or better) than A, significantly?
- "History": the results kept in the Lab's folder (also those of `steward drill` / `steward compare`),
  newest first; Open shows one again in its tab.

One experiment runs at a time (the service refuses a second); Stop cancels it, the drill's faults
are lifted and nothing is saved. Everything slow — the requests, reading and writing files — runs
off the GUI thread through the bridge; progress and results come back as its signals.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from steward.backends.faults import FaultKind
from steward.engine.snapshot import EngineSnapshot
from steward.gui.bridge import Bridge
from steward.gui.pages.lab_compare import CompareTab
from steward.gui.pages.lab_drill import DrillTab
from steward.gui.pages.lab_slo import ObjectivesTab
from steward.gui.tables import read_only_table
from steward.gui.theme import colours
from steward.lab.compare import ComparisonResult
from steward.lab.drill import DrillReport
from steward.lab.prompts import LabInputError, read_prompts

HISTORY_COLUMNS = ("When", "Kind", "Result")
OBJECTIVES_REFRESH_MS = 5000


class HistoryTab(QWidget):
    """Saved results, newest first; an unreadable file is listed with the reason, in the error tone."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entries: list[Any] = []
        self.table = read_only_table("labHistory", HISTORY_COLUMNS, single_selection=True)
        self.open_button = QPushButton("Open")
        self.open_button.setObjectName("labHistoryOpen")
        self.open_button.setToolTip("Show the selected result in its tab")
        self.refresh_button = QPushButton("Refresh")
        self.folder = QLabel()
        self.folder.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(row)

    def show_entries(self, entries: list[Any]) -> None:
        self.entries = entries
        error = colours(self.palette()).error
        self.table.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            when = dt.datetime.fromtimestamp(entry.started_at).strftime("%Y-%m-%d %H:%M:%S")
            cells = [QTableWidgetItem(when), QTableWidgetItem(entry.kind), QTableWidgetItem(entry.title)]
            for column, cell in enumerate(cells):
                cell.setToolTip(f"{entry.title}\n{entry.path}")
                if not entry.readable:
                    cell.setForeground(error)
                self.table.setItem(row, column, cell)
        self.open_button.setEnabled(bool(entries))

    def selected(self) -> Any | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows and rows[0].row() < len(self.entries) else None


class LabPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        intro = QLabel(
            "<b>Try your setup before it matters.</b> Objectives show whether each model keeps its "
            "promises; the drill fails each model on purpose, on its own engine, to show what you would "
            "see; a comparison asks two models the same prompts and says whether the difference is real."
        )
        intro.setWordWrap(True)
        self.objectives = ObjectivesTab()
        self.drill = DrillTab()
        self.compare = CompareTab()
        self.history = HistoryTab()
        self.tabs = QTabWidget()
        self.tabs.setObjectName("labTabs")
        self.tabs.addTab(self.objectives, "Objectives")
        self.tabs.addTab(self.drill, "Failover drill")
        self.tabs.addTab(self.compare, "A/B compare")
        self.tabs.addTab(self.history, "History")
        self.tabs.currentChanged.connect(self._tab_changed)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.tabs, 1)
        self.running: str | None = None

        self.drill.run_requested.connect(self.run_drill)
        self.compare.run_requested.connect(self.run_compare)
        self.drill.stop_requested.connect(bridge.lab.stop_lab)
        self.compare.stop_requested.connect(bridge.lab.stop_lab)
        self.drill.export_requested.connect(self.export)
        self.compare.export_requested.connect(self.export)
        self.compare.prompts_file_chosen.connect(self.load_prompts)
        self.history.refresh_button.clicked.connect(self.refresh_history)
        self.history.open_button.clicked.connect(self.open_selected)
        self.history.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        bridge.snapshot_changed.connect(self._snapshot)
        bridge.lab.lab_progress.connect(self._progress)
        bridge.lab.lab_finished.connect(self._finished)
        bridge.lab.lab_ended.connect(self._ended)
        bridge.lab.objectives_changed.connect(
            self.refresh_objectives
        )  # the tab's title tells of an alert even while another tab is shown
        self.objectives_timer = QTimer(self)
        self.objectives_timer.setInterval(OBJECTIVES_REFRESH_MS)
        self.objectives_timer.timeout.connect(self._refresh_if_shown)
        self.objectives_timer.start()

    # --- running ------------------------------------------------------------------------------

    def run_drill(self, targets: list[str], faults: list[str]) -> None:
        if self.bridge.service is None:
            self.drill.progress.setText("The engine is still starting; try again in a moment.")
            return
        if self.bridge.lab.start_drill(targets, [FaultKind(f) for f in faults]):
            self._started("drill", len(targets) * len(faults))

    def run_compare(
        self, a: str, b: str, prompts: list[str], runs: int, max_tokens: int, temperatures: Any
    ) -> None:
        if self.bridge.service is None:
            self.compare.say("The engine is still starting; try again in a moment.", "warning")
            return
        if self.bridge.lab.start_compare(a, b, prompts, runs, max_tokens, temperatures):
            self._started("compare", 2 * runs * len(prompts))

    def _started(self, kind: str, total: int) -> None:
        self.running = kind
        (self.drill if kind == "drill" else self.compare).set_running(True, total)
        other = self.compare if kind == "drill" else self.drill
        other.run_button.setEnabled(False)
        other.run_button.setToolTip(f"A {kind} is running; one experiment at a time")

    def _done(self) -> None:
        self.running = None
        for tab in (self.drill, self.compare):
            tab.run_button.setEnabled(True)
        self.drill.run_button.setToolTip(
            "Fail each chosen model with each chosen fault, on the drill's own engine"
        )
        self.compare.run_button.setToolTip("Send the same prompts to A and B, interleaved, fallbacks off")

    def _progress(self, kind: str, done: int, total: int, item: Any) -> None:
        (self.drill if kind == "drill" else self.compare).progressed(done, total, item)

    def _finished(self, kind: str, result: Any, path: str) -> None:
        self._done()
        if isinstance(result, DrillReport):
            self.drill.show_report(result, path)
        elif isinstance(result, ComparisonResult):
            self.compare.show_result(result, path)
        self.refresh_history()

    def _ended(self, kind: str, why: str) -> None:
        self._done()
        (self.drill if kind == "drill" else self.compare).ended(why)

    # --- models, files, history ---------------------------------------------------------------

    def _snapshot(self, snapshot: EngineSnapshot) -> None:
        known = sorted(m.key for m in snapshot.models)
        self.drill.set_models(known, self.bridge.lab.lab_default_targets())
        self.compare.set_models(known)

    def load_prompts(self, path: str) -> None:
        def read() -> tuple[tuple[str, ...], str]:
            try:
                return read_prompts(Path(path)), ""
            except LabInputError as exc:
                return (), str(exc)

        def done(outcome: tuple[tuple[str, ...], str]) -> None:
            prompts, error = outcome
            if error:
                self.compare.say(error, "error")
            else:
                self.compare.set_prompts(prompts, Path(path).name)
                self.compare.say(f"{len(prompts)} prompts loaded from {path}", "muted")

        self.bridge.run_blocking(read, done, "reading the prompts")

    def export(self, saved_to: str) -> None:
        if not saved_to:
            return
        target, _ = QFileDialog.getSaveFileName(
            self, "Export the result", Path(saved_to).name, "JSON (*.json)"
        )
        if target:
            self.bridge.run_blocking(
                lambda: shutil.copyfile(saved_to, target),
                lambda _: self.bridge.notice.emit("info", f"exported to {target}"),
                "exporting the result",
            )

    def refresh_history(self) -> None:
        self.bridge.lab.lab_history(self.history.show_entries)
        service = self.bridge.service
        if service is not None:
            self.history.folder.setText(f"Kept in {service.lab.folder}")

    def open_selected(self) -> None:
        entry = self.history.selected()
        if entry is None:
            return
        if not entry.readable:
            self.bridge.notice.emit("warning", f"{entry.path.name}: {entry.title}")
            return

        def show(result: Any) -> None:
            if isinstance(result, DrillReport):
                self.drill.show_report(result, str(entry.path))
                self.tabs.setCurrentWidget(self.drill)
            elif isinstance(result, ComparisonResult):
                self.compare.show_result(result, str(entry.path))
                self.tabs.setCurrentWidget(self.compare)

        self.bridge.lab.lab_open(str(entry.path), show)

    # --- objectives -----------------------------------------------------------------------------

    def refresh_objectives(self) -> None:
        self.bridge.lab.slo_views(self._show_objectives)

    def _show_objectives(self, views: list[Any]) -> None:
        self.objectives.show_views(views)
        alerting = self.objectives.alerting()
        index = self.tabs.indexOf(self.objectives)
        self.tabs.setTabText(index, f"Objectives ⚠ {len(alerting)}" if alerting else "Objectives")
        self.tabs.setTabToolTip(index, "Alert burning: " + ", ".join(alerting) if alerting else "")

    def _refresh_if_shown(self) -> None:
        if self.isVisible() and self.tabs.currentWidget() is self.objectives:
            self.refresh_objectives()

    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if widget is self.history:
            self.refresh_history()
        elif widget is self.objectives:
            self.refresh_objectives()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.tabs.currentWidget() is self.history:
            self.refresh_history()
        elif self.tabs.currentWidget() is self.objectives:
            self.refresh_objectives()
