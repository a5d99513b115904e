"""Dashboard: a card per model (health, circuit countdown, latency, throughput, success, loaded/VRAM),
a live latency chart per model with history from the store, health timeline bands and small CPU/RAM
charts. Built to stay smooth with many models: cards update only what changed, chart curves are
created once, and hidden charts are not redrawn."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt, QTimer
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
from steward.gui.charts import LiveChart
from steward.gui.pages.dashboard_parts import HealthTimeline, MiniChart
from steward.gui.theme import health_colour
from steward.store import EventRecord, SamplesWindow

METRICS = [("Time to first token (s)", "ttft"), ("Total latency (s)", "total"), ("Tokens / s", "tps")]
RANGES = [("5 min", 300), ("1 hour", 3600), ("24 hours", 86400)]
COLUMNS = 3
GIB = 1024**3
Sample = tuple[str, float, float | None, float | None, float | None]  # model, ts, ttft, total, tok/s


def _set(label: QLabel, text: str) -> None:
    if label.text() != text:
        label.setText(text)


SPARKLINE_LENGTH = 30


class ModelCard(QFrame):
    """The at-a-glance state of one model."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("modelCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(250)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.title = QLabel(f"<b>{key}</b>")
        self.title.setObjectName("cardTitle")
        self.title.setToolTip(key)
        self.status = QLabel()
        self.status.setObjectName("cardStatus")
        self.circuit = QLabel()
        self.latency = QLabel()
        self.extra = QLabel()
        self.sparkline = QLabel()
        self.sparkline.setObjectName("cardSparkline")
        self.sparkline.setToolTip("recent attempts, oldest first: green answered, red failed")
        for label in (self.circuit, self.latency, self.extra):
            label.setObjectName("cardDetail")
        layout = QVBoxLayout(self)
        layout.setSpacing(2)
        for widget in (self.title, self.status, self.circuit, self.latency, self.extra, self.sparkline):
            layout.addWidget(widget)
        self._health = ""
        self.outcomes: deque[bool] = deque(maxlen=SPARKLINE_LENGTH)

    def add_outcome(self, ok: bool) -> None:
        """One more attempt for the success sparkline (answered or failed)."""
        self.outcomes.append(ok)
        bars = "".join(
            f"<span style='color:{health_colour('healthy' if good else 'unhealthy')}'>▮</span>"
            for good in self.outcomes
        )
        _set(self.sparkline, f"<span style='letter-spacing:1px'>{bars}</span>")

    def update_from(self, m: ModelSnapshot) -> None:
        colour = health_colour(m.health)
        word = m.health
        if m.quarantine is not None:
            left = (
                "until released"
                if m.quarantine.remaining_s is None
                else f"{m.quarantine.remaining_s:.0f} s left"
            )
            word = f"quarantined — {m.quarantine.reason} ({left})"
        _set(self.status, f"<span style='color:{colour}; font-size:15px'>●</span> <b>{word}</b>")
        if self.status.toolTip() != m.health_reason:
            self.status.setToolTip(m.health_reason)
        if m.health != self._health:  # restyle only on change: a stylesheet pass per tick is costly
            self._health = m.health
            self.setProperty("health", m.health)
            self.style().unpolish(self)
            self.style().polish(self)
        circuit = f"circuit {m.breaker.replace('_', '-')}"
        if m.reopen_in_s is not None:
            circuit += f", half-open in {m.reopen_in_s:.0f} s"
        if m.consecutive_failures:
            circuit += f", {m.consecutive_failures} failure(s) in a row"
        _set(self.circuit, circuit)
        mt = m.metrics
        p50 = "—" if mt.ttft_p50 is None else f"{mt.ttft_p50 * 1000:.0f} ms"
        p95 = "—" if mt.ttft_p95 is None else f"{mt.ttft_p95 * 1000:.0f} ms"
        tps = "—" if mt.tokens_per_s is None else f"{mt.tokens_per_s:.0f} tok/s"
        _set(self.latency, f"first token p50 {p50} · p95 {p95} · {tps}")
        rate = "—" if mt.success_rate is None else f"{mt.success_rate:.0%}"
        window = f"{m.window:,} tokens" if m.window else "window unknown"
        loaded = ""
        if m.loaded is not None:
            loaded = " · loaded" if m.loaded else " · not loaded"
            if m.loaded and m.vram_bytes:
                loaded += f" ({m.vram_bytes / GIB:.1f} GB VRAM)"
        _set(
            self.extra,
            f"success {rate} of {mt.requests} · {window}{loaded}"
            + (f" · {m.in_flight} running" if m.in_flight else ""),
        )


class DashboardPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cards: dict[str, ModelCard] = {}
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
        self.grid.addWidget(self.empty, 0, 0, 1, COLUMNS)
        self.cards_scroll = QScrollArea()
        self.cards_scroll.setWidgetResizable(True)
        self.cards_scroll.setWidget(self.cards_widget)
        self.cards_scroll.setMinimumHeight(150)

        self.metric = QComboBox()
        for label, key in METRICS:
            self.metric.addItem(label, key)
        self.range = QComboBox()
        for label, seconds in RANGES:
            self.range.addItem(label, seconds)
        self.metric.currentIndexChanged.connect(self._metric_changed)
        self.range.currentIndexChanged.connect(self._range_changed)
        title = QLabel("Latency per model")
        title.setObjectName("sectionTitle")
        controls = QHBoxLayout()
        controls.addWidget(title)
        controls.addStretch(1)
        controls.addWidget(self.metric)
        controls.addWidget(self.range)
        self.chart = LiveChart("seconds")
        self.chart.setObjectName("latencyChart")
        self.samples: list[Sample] = []

        self.cpu = MiniChart("CPU", "%", "#3b82c4")
        self.ram = MiniChart("RAM used", "GB", "#2e9d57")
        resources = QVBoxLayout()
        resources.setContentsMargins(0, 0, 0, 0)
        resources.addWidget(self.cpu)
        resources.addWidget(self.ram)
        self.resources = QWidget()
        self.resources.setLayout(resources)
        self.resources.setFixedWidth(260)
        charts = QHBoxLayout()
        charts.addWidget(self.chart, 1)
        charts.addWidget(self.resources)

        timeline_title = QLabel("Health over time")
        timeline_title.setObjectName("sectionTitle")
        self.timeline = HealthTimeline()
        self.timeline_scroll = QScrollArea()
        self.timeline_scroll.setWidgetResizable(True)
        self.timeline_scroll.setWidget(self.timeline)
        self.timeline_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.timeline_scroll.setMaximumHeight(110)

        layout = QVBoxLayout(self)
        layout.addWidget(self.cards_scroll, 2)
        layout.addLayout(controls)
        layout.addLayout(charts, 3)
        layout.addWidget(timeline_title)
        layout.addWidget(self.timeline_scroll)
        bridge.snapshot_changed.connect(self.on_snapshot)
        bridge.engine_event.connect(self.on_event)
        bridge.runtime_ready.connect(lambda _w: self.load_history())
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._ticks = 0

    # --- history ---------------------------------------------------------------------------

    def load_history(self) -> None:
        """Fill the chart and the timeline from the store (read in a thread)."""
        self.bridge.load_history(time.time() - RANGES[-1][1], self._show_history)

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

    def _plot(self, sample: Sample) -> None:
        model, ts, ttft, total, tps = sample
        value = {"ttft": ttft, "total": total, "tps": tps}[self.metric.currentData()]
        if value is not None:
            self.chart.add_point(model, ts, value)

    def _metric_changed(self) -> None:
        self.chart.clear_points()
        self.chart.setLabel("left", "tokens / s" if self.metric.currentData() == "tps" else "seconds")
        for sample in self.samples:
            self._plot(sample)
        self.chart.redraw(time.time())

    def _range_changed(self) -> None:
        self.chart.range_s = float(self.range.currentData())
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
        sampler_of = getattr(self.bridge, "resource_sampler", None)
        sampler = sampler_of() if callable(sampler_of) and self.bridge.runtime is not None else None
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
        self.empty.setVisible(not snapshot.models)
        now = time.time()
        for index, model in enumerate(snapshot.models):
            card = self.cards.get(model.key)
            if card is None:
                card = ModelCard(model.key)
                self.cards[model.key] = card
                self.grid.addWidget(card, 1 + index // COLUMNS, index % COLUMNS)
            card.update_from(model)
            self.timeline.set_status(model.key, model.health, now)


__all__ = ["DashboardPage", "ModelCard"]
