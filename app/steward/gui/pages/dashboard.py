"""Dashboard: a card per model in plain words (health, whether it accepts requests or when it retries,
latency, success, loaded/VRAM), cards reflowing to the window width, a live latency chart (points,
gaps when quiet, legend as a side list) with history from the store, health timeline bands and small
CPU/RAM charts. Built to stay smooth with many models: cards update only what changed, chart curves are
created once, and hidden charts are not redrawn."""

from __future__ import annotations

import html
import time
from collections import deque

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import AttemptFailed, Completed, EngineEvent, HealthChanged
from steward.engine.failures import policy_for
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gui.bridge import Bridge
from steward.gui.charts import LiveChart, ResourceChart
from steward.gui.pages.dashboard_parts import ElidedLabel, HealthTimeline
from steward.gui.pages.dashboard_words import breaker_text, details_text, latency_text, status_text
from steward.gui.theme import health_colour, set_tone
from steward.service.model_watch import SloAlertChanged
from steward.store import EventRecord, SamplesWindow

METRICS = [
    ("time to first token", "ttft", "s"),
    ("total answer time", "total", "s"),
    ("speed", "tps", "tokens/s"),
]
RANGES = [("5 min", 300), ("1 hour", 3600), ("24 hours", 86400)]
CARD_MIN_WIDTH = 300
CARDS_MIN_HEIGHT = 90
MAX_COLUMNS = 6
GIB = 1024**3
Sample = tuple[str, float, float | None, float | None, float | None]  # model, ts, ttft, total, tok/s


def _set(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


SPARKLINE_LENGTH = 30


class ModelCard(QFrame):
    """The at-a-glance state of one model, in plain words (see dashboard_words)."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("modelCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(CARD_MIN_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.title = ElidedLabel(key)
        self.title.setObjectName("cardTitle")
        self.status = QLabel()
        self.status.setObjectName("cardStatus")
        self.status.setWordWrap(True)
        self.circuit = QLabel()
        self.latency = QLabel()
        self.extra = QLabel()
        self.slo = QLabel()
        self.slo.setObjectName("cardSlo")
        self.slo.setWordWrap(True)
        set_tone(self.slo, "warning")
        self.slo.hide()
        self.sparkline = QLabel()
        self.sparkline.setObjectName("cardSparkline")
        self.sparkline.setToolTip("recent attempts, oldest first: green answered, red failed")
        for label in (self.circuit, self.latency, self.extra):
            label.setObjectName("cardDetail")
            label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setSpacing(2)
        for widget in (
            self.title,
            self.status,
            self.slo,
            self.circuit,
            self.latency,
            self.extra,
            self.sparkline,
        ):
            layout.addWidget(widget)
        self._health = ""
        self._status_word = ""
        self.outcomes: deque[bool] = deque(maxlen=SPARKLINE_LENGTH)

    def set_slo_alert(self, alert: str | None, detail: str = "") -> None:
        """A badge while an objective burns its error budget too fast ("⚠ SLO: fast burn"); hidden after."""
        self.slo.setVisible(alert is not None)
        if alert is not None:
            self.slo.setText(f"⚠ SLO: {alert} burn")
            self.slo.setToolTip(detail)

    def add_outcome(self, ok: bool) -> None:
        """One more attempt for the success sparkline (answered or failed)."""
        self.outcomes.append(ok)
        bars = "".join(
            f"<span style='color:{health_colour('healthy' if good else 'unhealthy')}'>▮</span>"
            for good in self.outcomes
        )
        _set(self.sparkline, f"<span style='letter-spacing:1px'>{bars}</span>")

    def update_from(self, m: ModelSnapshot) -> None:
        self._status_word = status_text(m)
        self._show_status(m.health)
        if self.status.toolTip() != m.health_reason:
            self.status.setToolTip(m.health_reason)
        if m.health != self._health:  # restyle only on change: a stylesheet pass per tick is costly
            self._health = m.health
            self.setProperty("health", m.health)
            self.style().unpolish(self)
            self.style().polish(self)
        _set(self.circuit, breaker_text(m))
        _set(self.latency, latency_text(m))
        _set(self.extra, details_text(m))

    def _show_status(self, health: str) -> None:
        # The dot carries the status colour; the words stay in the palette's text colour.
        dot = f"<span style='color:{health_colour(health)}; font-size:15px'>●</span>"
        _set(self.status, f"{dot} <b>{html.escape(self._status_word)}</b>")


class DashboardPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cards: dict[str, ModelCard] = {}
        self.columns = 1
        self.cards_widget = QWidget()
        self.cards_widget.setObjectName("cardsArea")
        self.grid = QGridLayout(self.cards_widget)
        self.grid.setSpacing(8)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.empty = QLabel(
            "No models yet: Steward is starting servers or none were found. See the Servers page."
        )
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.grid.addWidget(self.empty, 0, 0)
        self.cards_scroll = QScrollArea()
        self.cards_scroll.setWidgetResizable(True)
        self.cards_scroll.setWidget(self.cards_widget)
        self.cards_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.cards_scroll.setFixedHeight(CARDS_MIN_HEIGHT)
        self.cards_scroll.viewport().installEventFilter(self)

        # (not `self.metric`: an attribute of that name shadows QWidget.metric(), which Qt calls
        # when painting a top-level widget, and crashes)
        self.metric_choice = QComboBox()
        for label, key, units in METRICS:
            self.metric_choice.addItem(f"{label.capitalize()} ({units})", key)
        self.range_choice = QComboBox()
        for label, seconds in RANGES:
            self.range_choice.addItem(label, seconds)
        self.metric_choice.currentIndexChanged.connect(self._metric_changed)
        self.range_choice.currentIndexChanged.connect(self._range_changed)
        title = QLabel("Latency per model")
        title.setObjectName("sectionTitle")
        controls = QHBoxLayout()
        controls.addWidget(title)
        controls.addStretch(1)
        controls.addWidget(self.metric_choice)
        controls.addWidget(self.range_choice)
        self.chart = LiveChart(METRICS[0][0], METRICS[0][2])
        self.chart.setObjectName("latencyChart")
        self.chart.setMinimumHeight(160)
        self.chart.legend.setMaximumWidth(240)
        self.chart.legend.setMinimumWidth(170)
        self.chart.legend.setToolTip("Models in the chart: untick one to hide it")
        self.samples: list[Sample] = []

        self.cpu = ResourceChart("CPU", "%", ["CPU"])
        self.ram = ResourceChart("RAM used", "GiB", ["RAM used"])
        resources = QVBoxLayout()
        resources.setContentsMargins(0, 0, 0, 0)
        resources.addWidget(self.cpu)
        resources.addWidget(self.ram)
        self.resources = QWidget()
        self.resources.setLayout(resources)
        self.resources.setMinimumWidth(200)
        self.resources.setMaximumWidth(300)
        charts = QHBoxLayout()
        charts.addWidget(self.chart, 4)
        charts.addWidget(self.chart.legend, 1)
        charts.addWidget(self.resources, 2)

        timeline_title = QLabel("Health over time")
        timeline_title.setObjectName("sectionTitle")
        self.timeline = HealthTimeline()
        self.timeline_scroll = QScrollArea()
        self.timeline_scroll.setWidgetResizable(True)
        self.timeline_scroll.setWidget(self.timeline)
        self.timeline_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.timeline_scroll.setMaximumHeight(110)

        layout = QVBoxLayout(self)
        layout.addWidget(self.cards_scroll)
        layout.addLayout(controls)
        layout.addLayout(charts, 1)
        layout.addWidget(timeline_title)
        layout.addWidget(self.timeline_scroll)
        bridge.snapshot_changed.connect(self.on_snapshot)
        bridge.engine_event.connect(self.on_event)
        bridge.runtime_ready.connect(lambda _w: self.load_history())
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._ticks = 1  # the first tick draws everything (see showEvent)
        self.chart.redraw(time.time())  # the first frame already shows the real time range

    # --- layout ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        """Draw at once when the page appears: hidden, it skipped its redraw ticks."""
        super().showEvent(event)
        self._ticks = 1
        QTimer.singleShot(0, self._tick)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_cards()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.cards_scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._reflow()  # on the cards' own width: the page's resize comes before the layout's
        return super().eventFilter(watched, event)

    def _fit_cards(self) -> None:
        """The cards take the height they need, up to 45% of the page (then they scroll); the
        chart gets the rest."""
        width = self.cards_scroll.viewport().width()
        grid = self.grid
        wrapped = grid.totalHeightForWidth(width) if grid.hasHeightForWidth() else grid.sizeHint().height()
        # the scroll area never makes the widget smaller than its minimum (cards at their narrowest)
        needed = max(wrapped, self.cards_widget.minimumSizeHint().height()) + 2
        height = max(CARDS_MIN_HEIGHT, min(needed, int(self.height() * 0.45)))
        if height != self.cards_scroll.maximumHeight() or height != self.cards_scroll.minimumHeight():
            self.cards_scroll.setFixedHeight(height)  # the chart's stretch would squeeze anything less

    def _reflow(self) -> None:
        """As many card columns as fit (one at 1024 px with few models, five at 1920 px)."""
        width = self.cards_scroll.viewport().width()
        columns = max(1, min(MAX_COLUMNS, width // (CARD_MIN_WIDTH + self.grid.spacing())))
        if columns == self.columns and self.grid.count() == len(self.cards) + 1:
            return
        self.columns = columns
        for card in self.cards.values():
            self.grid.removeWidget(card)
        self.grid.removeWidget(self.empty)
        self.grid.addWidget(self.empty, 0, 0, 1, columns)
        for index, card in enumerate(self.cards.values()):
            self.grid.addWidget(card, 1 + index // columns, index % columns)
        for column in range(MAX_COLUMNS):
            self.grid.setColumnStretch(column, 1 if column < columns else 0)

    # --- history ---------------------------------------------------------------------------

    def load_history(self) -> None:
        """Fill the chart and the timeline from the store (read in a thread)."""
        self.bridge.history.load_history(time.time() - RANGES[-1][1], self._show_history)

    def _show_history(self, window: SamplesWindow, health: list[EventRecord]) -> None:
        older: list[Sample] = [
            (b.model_key, b.start_ts + b.bucket_s / 2, b.ttft_avg, b.total_avg, b.tokens_per_s_avg)
            for b in window.buckets
        ]
        raw: list[Sample] = [
            (s.model_key, s.ts, s.ttft_s, s.total_s, s.tokens_per_s) for s in window.raw if s.outcome == "ok"
        ]
        first_live = self.samples[0][1] if self.samples else None
        history = [s for s in older + raw if first_live is None or s[1] < first_live]
        self.samples = (history + self.samples)[-20000:]
        self._metric_changed()
        for record in health:
            new = record.payload.get("new")
            if record.model_key and isinstance(new, str):
                self.timeline.set_status(record.model_key, new, record.ts)

    # --- live ------------------------------------------------------------------------------

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, Completed | AttemptFailed) and event.model in self.cards:
            counted = not isinstance(event, AttemptFailed) or policy_for(event.kind).counts_for_breaker
            if counted:
                self.cards[event.model].add_outcome(isinstance(event, Completed))
        if isinstance(event, Completed):
            tps = event.timings.predicted_per_second if event.timings else None
            self.samples.append((event.model, event.ts, event.ttft_s, event.total_s, tps))
            del self.samples[:-20000]
            self._plot(self.samples[-1])
        elif isinstance(event, HealthChanged):
            self.timeline.set_status(event.model, event.new, event.ts)
        elif isinstance(event, SloAlertChanged) and event.model in self.cards:
            self.cards[event.model].set_slo_alert(event.alert, event.detail)

    def _plot(self, sample: Sample) -> None:
        model, ts, ttft, total, tps = sample
        value = {"ttft": ttft, "total": total, "tps": tps}[self.metric_choice.currentData()]
        if value is not None:
            self.chart.add_point(model, ts, value)

    def _metric_changed(self) -> None:
        self.chart.clear_points()
        label, _key, units = METRICS[max(0, self.metric_choice.currentIndex())]
        self.chart.setLabel("left", label, units=units)
        for sample in self.samples:
            self._plot(sample)
        self.chart.redraw(time.time())

    def _range_changed(self) -> None:
        self.chart.set_range(float(self.range_choice.currentData()))
        self.timeline.range_s = self.chart.range_s
        self.chart.redraw(time.time())
        self.timeline.update()

    def _tick(self) -> None:
        """Redraw at 2 Hz while visible; resources and the timeline at 1 Hz."""
        if not self.isVisible():
            return
        self.chart.redraw(time.time())
        self._ticks += 1
        if self._ticks % 2:
            return
        self.timeline.update()
        sampler = self.bridge.hardware.resource_sampler() if self.bridge.runtime is not None else None
        if sampler is None:
            self.resources.setVisible(False)
            return
        self.resources.setVisible(True)
        times = sampler.times.values()
        self.cpu.show_series(times, sampler.series["cpu_percent"].values(), 100.0)
        latest = sampler.latest
        total = latest.ram_total / GIB if latest is not None and latest.ram_total else None
        self.ram.show_series(times, sampler.series["ram_used"].values() / GIB, total)

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        was_empty = self.empty.isVisibleTo(self)
        self.empty.setVisible(not snapshot.models)
        now = time.time()
        added = False
        for index, model in enumerate(snapshot.models):
            card = self.cards.get(model.key)
            if card is None:
                card = ModelCard(model.key)
                self.cards[model.key] = card
                added = True
                self.grid.addWidget(card, 1 + index // self.columns, index % self.columns)
            card.update_from(model)
            self.timeline.set_status(model.key, model.health, now)
        if added or was_empty != (not snapshot.models):
            self._reflow()
        self._fit_cards()  # wrapped card text can change their height


__all__ = ["DashboardPage", "ModelCard"]
