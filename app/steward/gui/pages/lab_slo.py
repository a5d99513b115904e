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

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QProgressBar, QTableWidgetItem, QVBoxLayout, QWidget

from steward.gui.tables import read_only_table
from steward.gui.theme import colours, health_colour, set_tone
from steward.lab.slo import ALERTS, ObjectiveStatus
from steward.service.slo_view import (
    OBJECTIVE_NAMES,
    PERIOD_DAYS,
    ModelSloView,
    budget_text,
    burn_text,
    now_text,
    usual_text,
)

COLUMNS = ("Model", "Objective", "Now (target)", "Error budget left", "Burning", "Usual")


class ObjectivesTab(QWidget):
    """Every model's objectives now; `show_views` fills it."""

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
        set_tone(self.intro, "muted")
        self.table = read_only_table("labObjectives", COLUMNS, single_selection=True)
        self.empty = QLabel("No models yet: once a server is up, its objectives show here.")
        set_tone(self.empty, "muted")
        self.updated = QLabel()
        set_tone(self.updated, "muted")
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
        rows = [(view, status, i == 0) for view in self.views for i, status in enumerate(view.objectives)]
        self.table.setRowCount(len(rows))
        self.empty.setVisible(not rows)
        for row, (view, status, first) in enumerate(rows):
            cells = [
                view.key if first else "",
                OBJECTIVE_NAMES.get(status.objective, status.objective),
                now_text(status),
                budget_text(status),
                burn_text(status),
                usual_text(view) if first else "",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(status.describe() if column else f"{view.key}\n{view.usual_text()}")
                if column == 4 and status.alert:
                    item.setForeground(theme.error if status.alert == "fast" else theme.warning)
                if column == 5 and view.drift is not None:
                    item.setForeground(theme.warning)
                self.table.setItem(row, column, item)
            self.table.setCellWidget(row, 3, self._budget_bar(status))

    def _budget_bar(self, status: ObjectiveStatus) -> QProgressBar:
        bar = QProgressBar()
        bar.setRange(0, 100)
        left = status.budget_left
        bar.setValue(0 if left is None else round(min(1.0, max(0.0, left)) * 100))
        bar.setFormat(budget_text(status))
        bar.setTextVisible(True)
        bar.setToolTip(status.describe())
        if left is not None:
            state = "healthy" if left >= 0.5 else ("degraded" if left >= 0 else "unhealthy")
            palette = bar.palette()
            palette.setColor(QPalette.ColorRole.Highlight, QColor(health_colour(state)))
            bar.setPalette(palette)
        return bar

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.views:
            self._fill()  # the alert colours follow a theme switch
