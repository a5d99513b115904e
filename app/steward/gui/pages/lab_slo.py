"""The Lab's "Objectives" tab: each model's service-level objectives as of now.

One row per model and objective: compliance against the target, the error budget left over the
SLO period as a bar (green while most is left, amber under half, red when overspent), the burn
rates of the alert windows, and, on the model's first row, its usual level (the drift baseline)
or the drift from it ("slower than usual since 14:02 (+38%)"). Only the user's traffic counts
(chat, gateway, CLI); the Lab's own requests and health probes do not. The page asks the service
every few seconds while the tab is shown (`LabPage`); evaluation runs off the GUI thread."""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHeaderView, QLabel, QProgressBar, QTableWidgetItem, QVBoxLayout, QWidget

from steward.gui.tables import read_only_table
from steward.gui.theme import colours, health_colour
from steward.lab.slo import ALERTS, ObjectiveStatus
from steward.service.slo_view import (
    OBJECTIVE_NAMES,
    PERIOD_DAYS,
    ModelSloView,
    budget_text,
    now_text,
    usual_text,
)

COLUMNS = ("Model", "Objective", "Now (target)", "Error budget left", "Burn rate 5 min / 1 h")
BUDGET_COLUMN, BURN_COLUMN = 3, 4


def burn_short(status: ObjectiveStatus) -> str:
    """ "20.0× / 20.0× — fast alert" / "— / —" (too few requests in a window to say)."""
    rates = [status.burn.get(window) for window in ("5m", "1h")]
    text = " / ".join("—" if rate is None else f"{rate:.1f}×" for rate in rates)
    return f"{text} — {status.alert} alert" if status.alert else text


class ObjectivesTab(QWidget):
    """Every model's objectives now; `show_views` fills it. A model's first row names it, its
    second says its usual level or its drift (the Model column takes the room left, eliding)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.views: list[ModelSloView] = []
        rules = "; ".join(
            f"{a.name}: {a.burn_rate:g}× over {a.long_s / 3600:g} h and its last {a.short_s / 60:g} min"
            for a in ALERTS
        )
        self.intro = QLabel(
            f"Your own traffic (chat, gateway, CLI) against the objectives of the last {PERIOD_DAYS} days — "
            "set them under Settings ▸ Objectives (SLOs). The error budget is the share of requests "
            f"allowed to miss; an alert burns when it is spent too fast ({rules})."
        )
        self.intro.setWordWrap(True)
        self.table = read_only_table("labObjectives", COLUMNS, single_selection=True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel("No models yet: once a server is up, its objectives show here.")
        self.updated = QLabel()
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.updated)

    def show_views(self, views: Sequence[ModelSloView]) -> None:
        self.views = list(views)
        self._fill()
        self.updated.setText(f"As of {time.strftime('%H:%M:%S')}; refreshed every few seconds while shown.")

    def alerting(self) -> list[str]:
        """Models with an alert burning (the page's badge)."""
        return [v.key for v in self.views if v.alert is not None]

    def _fill(self) -> None:
        theme = colours(self.palette())
        rows = [(view, status, i) for view in self.views for i, status in enumerate(view.objectives)]
        self.table.setRowCount(len(rows))
        self.empty.setVisible(not rows)
        for row, (view, status, index) in enumerate(rows):
            name = view.key if index == 0 else (usual_text(view) if index == 1 else "")
            cells = [
                name,
                OBJECTIVE_NAMES.get(status.objective, status.objective),
                now_text(status),
                budget_text(status),
                burn_short(status),
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{view.key}\n{usual_text(view)}" if column == 0 else status.describe())
                if column == 0 and index == 1:
                    item.setForeground(theme.warning if view.drift is not None else theme.muted)
                if column == BURN_COLUMN and status.alert:
                    item.setForeground(theme.error if status.alert == "fast" else theme.warning)
                self.table.setItem(row, column, item)
            self.table.setCellWidget(row, BUDGET_COLUMN, self._budget_bar(status, theme.error))

    def _budget_bar(self, status: ObjectiveStatus, error: QColor) -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, 100)
        left = status.budget_left
        bar.setValue(0 if left is None else round(min(1.0, max(0.0, left)) * 100))
        bar.setFormat(budget_text(status))
        bar.setTextVisible(True)
        bar.setToolTip(status.describe())
        if left is not None:
            palette = bar.palette()
            palette.setColor(
                QPalette.ColorRole.Highlight, QColor(health_colour("healthy" if left >= 0.5 else "degraded"))
            )
            if left < 0:  # nothing left to draw: the words say it, in the error tone
                palette.setColor(QPalette.ColorRole.Text, error)
                palette.setColor(QPalette.ColorRole.WindowText, error)
            bar.setPalette(palette)
        return bar

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.views:
            self._fill()  # the alert colours follow a theme switch
