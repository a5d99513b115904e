"""The Lab's two pictures, in the active theme (see `steward.gui.charts` for the shared style).

- `DrillTimeline`: one lane per target model, one bar per scenario along the drill's time, from
  the moment the fault was injected until the answer (or the failure), coloured by outcome:
  answered by the model itself, rescued by another model, or no answer. The selected scenario
  gets an outline.
- `DistributionPlot`: time to first token of every run of A and of B as a strip of points
  (jittered sideways so equal values stay visible) with each side's median as a short line —
  the spread people compare by eye, next to the statistics table.

Items are created once and updated with setOpts/setData; both re-colour on a palette change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from steward.gui.charts import style_plot
from steward.gui.theme import HEALTH_COLOURS, colours
from steward.lab.drill import ScenarioResult

OUTCOMES = ("itself", "rescued", "failed")
"""A scenario's outcome: the target answered itself, another model answered, nothing answered."""
OUTCOME_HEALTH = {"itself": "healthy", "rescued": "loading", "failed": "unhealthy"}
OUTCOME_WORDS = {
    "itself": "answered by the model itself",
    "rescued": "answered by another model",
    "failed": "no answer",
}
LEGEND_WORDS = {"itself": "itself", "rescued": "another model", "failed": "no answer"}
LANE_HEIGHT = 0.6


def outcome(scenario: ScenarioResult) -> str:
    if not scenario.answered:
        return "failed"
    return "itself" if scenario.answered_by == scenario.target else "rescued"


def short_model(key: str) -> str:
    """A model key short enough for an axis: the server id ("small/Smol…" → "small")."""
    server, _, model = key.partition("/")
    return server if model else key


def _ready(plot: pg.PlotWidget) -> bool:
    return bool(plot.__dict__.get("_built")) and getattr(plot, "plotItem", None) is not None


class DrillTimeline(pg.PlotWidget):
    """Bars of the drill's scenarios over seconds since its start, one lane per target."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.setObjectName("drillTimeline")
        self.setBackground(None)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(110)
        item = self.getPlotItem()
        item.showGrid(x=True, y=False, alpha=0.25)
        item.setLabel("bottom", "seconds since the drill started")
        item.getAxis("left").setWidth(56)
        item.invertY(True)  # the first lane on top, as in the table
        self.bars = pg.BarGraphItem(x0=[], x1=[], y=[], height=LANE_HEIGHT)
        self.addItem(self.bars)
        self.placeholder = pg.TextItem("run a drill to see its timeline", anchor=(0.5, 0.5))
        self.addItem(self.placeholder, ignoreBounds=True)
        self.placeholder.setPos(0.5, 0.5)
        self.setXRange(0, 1, padding=0)
        self.setYRange(0, 1, padding=0)
        self.scenarios: list[ScenarioResult] = []
        self.lanes: list[str] = []
        self.selected: int | None = None
        self._built = True
        self._recolour()

    def show_scenarios(self, scenarios: Sequence[ScenarioResult], started_at: float | None = None) -> None:
        """Draw `scenarios` (in drill order); x from `started_at` (default: the first scenario's start)."""
        self.scenarios = list(scenarios)
        self.lanes = list(dict.fromkeys(s.target for s in self.scenarios))
        self.selected = (
            None if self.selected is None or self.selected >= len(self.scenarios) else self.selected
        )
        has = bool(self.scenarios)
        self.placeholder.setVisible(not has)
        self.getAxis("left").setStyle(showValues=has)
        if not has:
            self.bars.setOpts(x0=[], x1=[], y=[], brushes=None, pens=None)  # (empty lists crash pyqtgraph)
            return
        origin = started_at if started_at else min(s.started_at for s in self.scenarios)
        x0 = np.array([s.started_at - origin for s in self.scenarios], dtype=float)
        x1 = x0 + np.array([max(s.total_s, 0.05) for s in self.scenarios], dtype=float)
        y = np.array([self.lanes.index(s.target) for s in self.scenarios], dtype=float)
        self.getAxis("left").setTicks([[(i, short_model(key)) for i, key in enumerate(self.lanes)], []])
        self.bars.setOpts(x0=x0, x1=x1, y=y, height=LANE_HEIGHT, **self._bar_style())
        self.setXRange(0, max(float(x1.max()), 1.0), padding=0.02)
        self.setYRange(-0.6, len(self.lanes) - 0.4, padding=0)

    def select(self, index: int | None) -> None:
        self.selected = index
        if self.scenarios:
            self._paint_bars()

    def bar_colours(self) -> list[QColor]:
        return [QColor(HEALTH_COLOURS[OUTCOME_HEALTH[outcome(s)]]) for s in self.scenarios]

    def _bar_style(self) -> dict[str, list[object]]:
        """Fills by outcome, the selected bar outlined (set with the data: same lengths at once)."""
        theme = colours(self.palette())
        fills = self.bar_colours()
        pens: list[object] = [
            pg.mkPen(theme.text, width=2.5) if i == self.selected else pg.mkPen(fill.darker(130), width=1)
            for i, fill in enumerate(fills)
        ]
        return {"brushes": [pg.mkBrush(fill) for fill in fills], "pens": pens}

    def _paint_bars(self) -> None:
        self.bars.setOpts(**self._bar_style())

    def legend_html(self) -> str:
        """The key of the bar colours, as the plot's title."""
        theme = colours(self.palette())
        keys = [
            f"<span style='color:{HEALTH_COLOURS[OUTCOME_HEALTH[name]]}'>■</span> {LEGEND_WORDS[name]}"
            for name in OUTCOMES
        ]
        return f"<span style='color:{theme.text.name()}'>answered by: {'&nbsp;&nbsp;'.join(keys)}</span>"

    def _recolour(self) -> None:
        theme = colours(self.palette())
        style_plot(self.getPlotItem(), theme)
        self.getPlotItem().setTitle(self.legend_html(), size="8pt")
        self.placeholder.setColor(theme.muted)
        if self.scenarios:
            self._paint_bars()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and _ready(self):
            self.resetCachedContent()
            self._recolour()


class DistributionPlot(pg.PlotWidget):
    """Every run's value of one measure for A (x=0) and B (x=1), with each side's median."""

    def __init__(self, label: str = "time to first token", units: str = "s", parent: QWidget | None = None):
        super().__init__(parent=parent)
        self.setObjectName("distributionPlot")
        self.setBackground(None)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMinimumHeight(120)
        item = self.getPlotItem()
        item.showGrid(x=False, y=True, alpha=0.25)
        item.getAxis("left").enableAutoSIPrefix(False)
        item.setLabel("left", label, units=units)
        item.getAxis("bottom").setTicks([[(0, "A"), (1, "B")], []])
        self.points = pg.ScatterPlotItem(size=8)
        self.medians = pg.PlotDataItem([], [], connect="pairs")
        self.addItem(self.points)
        self.addItem(self.medians)
        self.placeholder = pg.TextItem("run a comparison to see each run", anchor=(0.5, 0.5))
        self.addItem(self.placeholder, ignoreBounds=True)
        self.placeholder.setPos(0.5, 0.5)
        self.setXRange(-0.5, 1.5, padding=0)
        self.setYRange(0, 1, padding=0)
        self.values: tuple[list[float], list[float]] = ([], [])
        self._built = True
        self._recolour()

    def show_values(
        self, a: Sequence[float], b: Sequence[float], names: tuple[str, str] = ("A", "B")
    ) -> None:
        self.values = (list(a), list(b))
        self.getAxis("bottom").setTicks([[(0, names[0]), (1, names[1])], []])
        has = bool(a or b)
        self.placeholder.setVisible(not has)
        rng = np.random.default_rng(0)  # the same jitter every time: the picture does not dance
        xs: list[float] = []
        ys: list[float] = []
        for side, values in enumerate(self.values):
            xs += list(side + rng.uniform(-0.15, 0.15, len(values)))
            ys += values
        self.points.setData(x=xs, y=ys)
        median_x: list[float] = []
        median_y: list[float] = []
        for side, values in enumerate(self.values):
            if values:
                middle = float(np.median(values))
                median_x += [side - 0.3, side + 0.3]
                median_y += [middle, middle]
        self.medians.setData(median_x, median_y, connect="pairs")
        self._recolour()
        top = max(ys) if ys else 1.0
        self.setYRange(0, top * 1.15 if top > 0 else 1.0, padding=0)
        self.setXRange(-0.5, 1.5, padding=0)

    def _recolour(self) -> None:
        theme = colours(self.palette())
        style_plot(self.getPlotItem(), theme)
        self.placeholder.setColor(theme.muted)
        brushes = []
        for side, values in enumerate(self.values):
            colour = QColor(theme.series_colour(side))
            colour.setAlpha(190)
            brushes += [pg.mkBrush(colour)] * len(values)
        if brushes:
            self.points.setBrush(brushes)
        self.points.setPen(pg.mkPen(None))
        self.medians.setPen(pg.mkPen(theme.text, width=2))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and _ready(self):
            self.resetCachedContent()
            self._recolour()
