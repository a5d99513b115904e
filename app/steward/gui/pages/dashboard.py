"""Dashboard: a card per model (health, circuit countdown, latency, throughput, success) and a
live latency chart per model."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from steward.engine.events import Completed, EngineEvent
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot
from steward.gui.bridge import Bridge
from steward.gui.charts import LiveChart
from steward.gui.theme import health_colour

METRICS = [("Time to first token (s)", "ttft"), ("Total latency (s)", "total"), ("Tokens / s", "tps")]
RANGES = [("5 min", 300), ("1 hour", 3600), ("24 hours", 86400)]


class ModelCard(QFrame):
    """The at-a-glance state of one model."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName("modelCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setMinimumWidth(250)
        self.title = QLabel(f"<b>{key}</b>")
        self.status = QLabel()
        self.status.setObjectName("cardStatus")
        self.circuit = QLabel()
        self.latency = QLabel()
        self.extra = QLabel()
        layout = QVBoxLayout(self)
        for widget in (self.title, self.status, self.circuit, self.latency, self.extra):
            layout.addWidget(widget)

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
        self.status.setText(f"<span style='color:{colour}; font-size:16px'>●</span> {word}")
        self.status.setToolTip(m.health_reason)
        self.setStyleSheet(f"#modelCard {{ border-left: 4px solid {colour}; }}")
        circuit = f"circuit {m.breaker.replace('_', '-')}"
        if m.reopen_in_s is not None:
            circuit += f", half-open in {m.reopen_in_s:.0f} s"
        if m.consecutive_failures:
            circuit += f", {m.consecutive_failures} failure(s) in a row"
        self.circuit.setText(circuit)
        mt = m.metrics
        p50 = "—" if mt.ttft_p50 is None else f"{mt.ttft_p50 * 1000:.0f} ms"
        p95 = "—" if mt.ttft_p95 is None else f"{mt.ttft_p95 * 1000:.0f} ms"
        tps = "—" if mt.tokens_per_s is None else f"{mt.tokens_per_s:.0f} tok/s"
        self.latency.setText(f"first token p50 {p50} · p95 {p95} · {tps}")
        rate = "—" if mt.success_rate is None else f"{mt.success_rate:.0%}"
        window = f"{m.window:,} tokens" if m.window else "window unknown"
        self.extra.setText(
            f"success {rate} of {mt.requests} · {window}"
            + (f" · {m.in_flight} running" if m.in_flight else "")
        )


class DashboardPage(QWidget):
    def __init__(self, bridge: Bridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.cards: dict[str, ModelCard] = {}
        self.cards_widget = QWidget()
        self.grid = QGridLayout(self.cards_widget)
        self.empty = QLabel(
            "No models yet: Steward is starting servers or none were found. See the Servers page."
        )
        self.empty.setObjectName("emptyState")
        self.empty.setWordWrap(True)
        self.grid.addWidget(self.empty, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.cards_widget)
        scroll.setMinimumHeight(180)

        self.metric = QComboBox()
        for label, key in METRICS:
            self.metric.addItem(label, key)
        self.range = QComboBox()
        for label, seconds in RANGES:
            self.range.addItem(label, seconds)
        self.metric.currentIndexChanged.connect(self._metric_changed)
        self.range.currentIndexChanged.connect(self._range_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("<b>Latency per model</b>"))
        controls.addStretch(1)
        controls.addWidget(self.metric)
        controls.addWidget(self.range)
        self.chart = LiveChart("seconds")
        self.chart.setObjectName("latencyChart")
        self.samples: list[tuple[str, float, float | None, float, float | None]] = []

        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 2)
        layout.addLayout(controls)
        layout.addWidget(self.chart, 3)
        bridge.snapshot_changed.connect(self.on_snapshot)
        bridge.engine_event.connect(self.on_event)
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(lambda: self.chart.redraw(time.time()))
        self._timer.start()

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, Completed):
            tps = event.timings.predicted_per_second if event.timings else None
            self.samples.append((event.model, event.ts, event.ttft_s, event.total_s, tps))
            self.samples = self.samples[-20000:]
            self._plot(self.samples[-1])

    def _plot(self, sample: tuple[str, float, float | None, float, float | None]) -> None:
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
        self.chart.redraw(time.time())

    def on_snapshot(self, snapshot: EngineSnapshot) -> None:
        self.empty.setVisible(not snapshot.models)
        for index, model in enumerate(snapshot.models):
            card = self.cards.get(model.key)
            if card is None:
                card = ModelCard(model.key)
                self.cards[model.key] = card
                self.grid.addWidget(card, 1 + index // 3, index % 3)
            card.update_from(model)
