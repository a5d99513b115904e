"""Hardware page: the machine's tier with its reason, CPU / RAM / GPU details, small live resource
charts, and — taking most of the page — the models recommended for it per task type (marked when
already installed).

Detection and ranking run in a thread through the bridge (`load_hardware`); the charts read
the runtime's resource sampler, which the bridge starts and the runtime stops.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from steward.gui.bridge import Bridge
from steward.gui.charts import ResourceChart, colour_icon
from steward.gui.tables import read_only_table
from steward.hardware.context_fit import breakdown_text, context_words, fit_sentence, fits_with_text
from steward.hardware.fit import FitLabel
from steward.hardware.gpu import GIB, format_bytes
from steward.hardware.recommend import Recommendation, TaskType
from steward.hardware.tiers import Tier
from steward.service.hardware_report import HardwareReport

# Badge backgrounds under white text: each at least 4.5:1 against white, in either theme.
TIER_COLOURS = {
    Tier.CPU_ONLY: "#4f5663",
    Tier.INTEGRATED: "#11726f",
    Tier.LOW_VRAM: "#8a5d00",
    Tier.MID_VRAM: "#1e7040",
    Tier.HIGH_VRAM: "#2a5f98",
    Tier.WORKSTATION: "#6b3fae",
}
BADGE_TEXT = "#ffffff"
FIT_COLOURS = {
    FitLabel.FULL_GPU: "#2e9d57",
    FitLabel.PARTIAL_GPU: "#d39a1c",
    FitLabel.CPU_ONLY: "#3b82c4",
    FitLabel.WONT_FIT: "#d0433b",
}
COLUMNS = ["Task", "Model", "Quant", "Memory", "Fit", "Context", "Installed", "Why"]
HEADER_TIPS = {
    3: "Estimated memory at 8k context (hover a cell for where it goes)",
    5: "The largest context this model fits with on this machine",
}
MODEL_COLUMN = 1
MODEL_COLUMN_MAX = 150  # long names elide (full name in the tooltip): the reason keeps its room
FIT_COLUMN = 4
CHART_WINDOW_S = 120.0
CHARTS_MAX_HEIGHT = 200
CHARTS_MIN_HEIGHT = 130
REASON_COLUMN = 7
REASON_LINES = 3
ALL_TASKS = "all"


class HardwarePage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.report: HardwareReport | None = None

        self.tier_badge = QLabel("detecting…")
        self.tier_badge.setObjectName("tierBadge")
        self._badge_colour(TIER_COLOURS[Tier.CPU_ONLY])
        self.tier_text = QLabel("Reading the CPU, memory and GPUs of this machine…")
        self.tier_text.setWordWrap(True)
        self.refresh_button = QPushButton("Detect again")
        self.refresh_button.setToolTip("Read the hardware again and re-rank the recommended models.")
        self.refresh_button.clicked.connect(self.bridge.hardware.load_hardware)
        head = QHBoxLayout()
        head.addWidget(self.tier_badge)
        head.addWidget(self.tier_text, 1)
        head.addWidget(self.refresh_button)

        details = QGroupBox("This machine")
        self.details = QFormLayout(details)
        self.details.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.detail_labels: dict[str, QLabel] = {}
        for key in ("Platform", "CPU", "RAM", "Swap", "GPU", "Notes"):
            label = QLabel("—")
            label.setWordWrap(True)
            self.detail_labels[key] = label
            self.details.addRow(f"{key}:", label)

        # Small charts: the recommendations below are what this page is for.
        self.cpu_chart = ResourceChart("CPU", "%", ["CPU"], window_s=CHART_WINDOW_S)
        self.ram_chart = ResourceChart("RAM used", "GiB", ["RAM used"], window_s=CHART_WINDOW_S)
        self.gpu_chart = ResourceChart("GPU", "%", ["GPU"], window_s=CHART_WINDOW_S)
        self.vram_chart = ResourceChart("VRAM used", "GiB", ["VRAM used"], window_s=CHART_WINDOW_S)
        charts = QGridLayout()
        charts.setContentsMargins(0, 0, 0, 0)
        for index, chart in enumerate((self.cpu_chart, self.ram_chart, self.gpu_chart, self.vram_chart)):
            chart.setMinimumWidth(160)
            charts.addWidget(chart, index // 2, index % 2)
        self.gpu_chart.hide()
        self.vram_chart.hide()
        middle_widget = QWidget()
        middle = QHBoxLayout(middle_widget)
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(details, 1)
        middle.addLayout(charts, 1)
        middle_widget.setMaximumHeight(CHARTS_MAX_HEIGHT)
        self.middle = middle_widget

        self.task_filter = QComboBox()
        self.task_filter.addItem("All task types", ALL_TASKS)
        for task in TaskType:
            self.task_filter.addItem(task.value.capitalize(), task.value)
        self.task_filter.setToolTip("Show the best models for one kind of work.")
        self.task_filter.currentIndexChanged.connect(self._fill_table)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("<b>Recommended models</b> for this machine (8k context)"))
        filters.addStretch(1)
        filters.addWidget(QLabel("Task:"))
        filters.addWidget(self.task_filter)
        self.table = read_only_table("recommendationsTable", COLUMNS)
        self.table.setWordWrap(True)
        for column, tip in HEADER_TIPS.items():
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.horizontalHeader().setSectionResizeMode(MODEL_COLUMN, QHeaderView.ResizeMode.Interactive)
        # rows grow with the wrapped reason, up to REASON_LINES (the whole reason is the tooltip)
        self.table.horizontalHeader().sectionResized.connect(lambda *_: self._rows_timer.start())
        self._rows_timer = QTimer(self)
        self._rows_timer.setSingleShot(True)
        self._rows_timer.setInterval(0)
        self._rows_timer.timeout.connect(self.fit_rows)
        # the selected model's memory in plain words (the table row keeps only the total)
        self.fit_detail = QLabel("")
        self.fit_detail.setObjectName("fitDetail")
        self.fit_detail.setWordWrap(True)
        self.table.currentCellChanged.connect(lambda row, *_: self._show_fit_detail(row))

        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addWidget(self.middle)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.fit_detail)

        bridge.runtime_ready.connect(lambda _warnings: self._runtime_ready())
        bridge.hardware.hardware_ready.connect(self.show_report)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.update_charts)
        self._timer.start()

    def _badge_colour(self, colour: str) -> None:
        self.tier_badge.setStyleSheet(
            f"background: {colour}; color: {BADGE_TEXT}; font-weight: bold; font-size: 14px;"
            "border-radius: 6px; padding: 6px 12px;"
        )

    def _runtime_ready(self) -> None:
        self.bridge.hardware.resource_sampler()
        self.bridge.hardware.load_hardware()

    # --- report -----------------------------------------------------------------------------

    def show_report(self, report: HardwareReport) -> None:
        self.report = report
        hw, verdict = report.hardware, report.verdict
        self.tier_badge.setText(verdict.tier.value.replace("_", " ").upper())
        self.tier_badge.setToolTip(f"Hardware tier: {verdict.tier.value}")
        self._badge_colour(TIER_COLOURS.get(verdict.tier, TIER_COLOURS[Tier.CPU_ONLY]))
        self.tier_text.setText(verdict.explanation)
        cpu, mem = hw.cpu, hw.memory
        cores = f"{cpu.physical_cores or '?'} cores / {cpu.logical_cores or '?'} threads"
        simd = ", ".join(cpu.simd) or "none detected"
        gpus = [
            f"{g.name} ({'shares system RAM' if g.integrated else format_bytes(g.memory_total) + ' VRAM'})"
            for g in hw.gpus
        ]
        notes = list(hw.notes) + ([report.problem] if report.problem else [])
        values = {
            "Platform": f"{hw.platform.system} {hw.platform.machine}",
            "CPU": f"{cpu.model} — {cores}; SIMD: {simd}",
            "RAM": f"{format_bytes(mem.ram_total)} total, {format_bytes(mem.ram_available)} available",
            "Swap": f"{format_bytes(mem.swap_total)} total, {format_bytes(mem.swap_used)} used",
            "GPU": "\n".join(gpus) or "none",
            "Notes": "\n".join(notes) or "—",
        }
        for key, text in values.items():
            self.detail_labels[key].setText(text)
        self._fill_table()

    def visible_recommendations(self) -> list[tuple[TaskType, Recommendation]]:
        if self.report is None:
            return []
        wanted = self.task_filter.currentData()
        return [
            (task, rec)
            for task, recs in self.report.recommendations.items()
            if wanted in (ALL_TASKS, task.value)
            for rec in recs
        ]

    def _fill_table(self) -> None:
        rows = self.visible_recommendations()
        self.table.setRowCount(len(rows))
        for r, (task, rec) in enumerate(rows):
            installed = f"yes ({rec.installed_as})" if rec.installed else "no"
            cells = [
                task.value,
                rec.model.name,
                rec.quant,
                format_bytes(rec.fit.memory.total),
                rec.fit.description,
                context_words(rec.max_context) if rec.max_context else "none",
                installed,
                rec.reason,
            ]
            tips = {
                MODEL_COLUMN: rec.model.name,
                3: breakdown_text(rec.fit.memory),
                5: f"On this machine it {fits_with_text(rec.max_context, rec.model.trained_context)}.",
                REASON_COLUMN: rec.reason,
            }
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == FIT_COLUMN:  # the colour as a swatch: coloured text would be unreadable in one theme
                    item.setIcon(colour_icon(QColor(FIT_COLOURS.get(rec.fit.label, "#8a8f98"))))
                if c in tips:
                    item.setToolTip(tips[c])
                self.table.setItem(r, c, item)
        self.table.setColumnHidden(0, self.task_filter.currentData() != ALL_TASKS)
        self.table.resizeColumnToContents(MODEL_COLUMN)
        self.table.setColumnWidth(MODEL_COLUMN, min(MODEL_COLUMN_MAX, self.table.columnWidth(MODEL_COLUMN)))
        self.fit_rows()
        self._show_fit_detail(max(0, self.table.currentRow()))

    def _show_fit_detail(self, row: int) -> None:
        """The selected (else first) recommendation's memory breakdown and largest context."""
        rows = self.visible_recommendations()
        if not 0 <= row < len(rows):
            self.fit_detail.setText("")
            return
        rec = rows[row][1]
        name = f"{rec.model.name} ({rec.quant})"
        self.fit_detail.setText(
            fit_sentence(name, rec.fit.context, rec.fit.memory, rec.max_context, rec.model.trained_context)
        )

    def fit_rows(self) -> None:
        """Each row as tall as its wrapped reason needs, at most REASON_LINES lines."""
        metrics = self.table.fontMetrics()
        width = max(40, self.table.columnWidth(REASON_COLUMN) - 8)
        cap = REASON_LINES * metrics.lineSpacing() + 8
        floor = self.table.verticalHeader().defaultSectionSize()
        flags = Qt.TextFlag.TextWordWrap
        for row in range(self.table.rowCount()):
            item = self.table.item(row, REASON_COLUMN)
            needed = metrics.boundingRect(0, 0, width, 10_000, flags, item.text()).height() + 8 if item else 0
            height = max(floor, min(cap, needed))
            if self.table.rowHeight(row) != height:
                self.table.setRowHeight(row, height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """The charts give up height first: at most 30% of the page, the table takes the rest."""
        super().resizeEvent(event)
        self.middle.setMaximumHeight(min(CHARTS_MAX_HEIGHT, max(CHARTS_MIN_HEIGHT, int(self.height() * 0.3))))

    # --- live charts ------------------------------------------------------------------------

    def update_charts(self) -> None:
        """Show the sampler's last minutes (x: seconds before now; RAM and VRAM up to their totals)."""
        sampler = self.bridge.hardware.resource_sampler() if self.bridge.runtime is not None else None
        if sampler is None or not self.isVisible():
            return
        times = sampler.times.values()
        if not len(times):
            return
        series = {name: buf.values() for name, buf in sampler.series.items()}
        latest = sampler.latest
        ram_total = latest.ram_total / GIB if latest is not None and latest.ram_total else None
        vram_total = latest.vram_total / GIB if latest is not None and latest.vram_total else None
        self.cpu_chart.show_series(times, series["cpu_percent"], 100.0)
        self.ram_chart.show_series(times, series["ram_used"] / GIB, ram_total)
        for chart, values, top in (
            (self.gpu_chart, series["gpu_utilization"], 100.0),
            (self.vram_chart, series["vram_used"] / GIB, vram_total),
        ):
            if np.isfinite(values).any():
                chart.show()
                chart.show_series(times, values, top)
