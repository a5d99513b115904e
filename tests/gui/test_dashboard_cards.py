"""Dashboard cards in plain words, and a dashboard that fits 1024x700 and uses 1920x1080
(issue 14, items 8 and 6 for the dashboard). The page is fed real EngineSnapshot values; its
bridge is never started (nothing here needs a server)."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from steward.engine.metrics import MetricsSnapshot
from steward.engine.snapshot import EngineSnapshot, ModelSnapshot, QuarantineView
from steward.gui.bridge import Bridge, default_factory
from steward.gui.pages.dashboard import DashboardPage, ModelCard

NO_METRICS = MetricsSnapshot(0, 0, None, None, None, None, None, None, None)


def model(key: str = "small/SmolLM2-135M-Instruct.Q4_1", **changes: object) -> ModelSnapshot:
    base = ModelSnapshot(
        key=key,
        server_id=key.split("/")[0],
        model=key.split("/")[-1],
        health="healthy",
        health_reason="answering normally",
        breaker="closed",
        reopen_in_s=None,
        consecutive_failures=0,
        trips=0,
        quarantine=None,
        metrics=NO_METRICS,
        window=1024,
        trained_window=None,
        loaded=True,
        vram_bytes=None,
        size_bytes=None,
        quantization=None,
        parameter_size=None,
        capabilities=(),
        last_error_kind=None,
        last_error_detail=None,
        in_flight=0,
        ramp=1.0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def card_for(qtbot: QtBot, m: ModelSnapshot) -> ModelCard:
    card = ModelCard(m.key)
    qtbot.addWidget(card)
    card.update_from(m)
    return card


def test_a_new_model_says_no_requests_yet_and_accepting_requests(qtbot: QtBot) -> None:
    card = card_for(qtbot, model())
    assert card.latency.text() == "no requests yet"
    assert card.circuit.text() == "accepting requests"
    assert card.extra.text() == "1,024-token context · loaded"
    assert "—" not in card.latency.text() + card.extra.text()


def test_an_open_circuit_says_paused_after_failures_and_when_it_retries(qtbot: QtBot) -> None:
    card = card_for(
        qtbot, model(health="unhealthy", breaker="open", reopen_in_s=11.2, consecutive_failures=3)
    )
    assert card.circuit.text() == "paused after 3 failures, retry in 12 s"
    card.update_from(model(breaker="half_open"))
    assert card.circuit.text() == "trying one request to see whether it recovered"
    card.update_from(model(consecutive_failures=1))
    assert card.circuit.text() == "accepting requests (1 failure in a row)"
    card.update_from(model(breaker="open", reopen_in_s=600.0, consecutive_failures=5))
    assert card.circuit.text() == "paused after 5 failures, retry in 10 min"


def test_latency_and_success_in_words_once_requests_came(qtbot: QtBot) -> None:
    metrics = MetricsSnapshot(8, 6, 0.75, 0.12, 0.31, 0.5, 0.9, 42.4, 0.1)
    card = card_for(qtbot, model(metrics=metrics, in_flight=2))
    assert card.latency.text() == "first token in 120 ms typically, 310 ms at worst (p95) · 42 tokens/s"
    assert card.extra.text() == "6 of 8 requests answered (75%) · 1,024-token context · loaded · 2 running"


def test_quarantine_time_left_in_minutes(qtbot: QtBot) -> None:
    card = card_for(
        qtbot, model(health="quarantined", quarantine=QuarantineView("too slow for chat", 1799.0))
    )
    assert "<b>quarantined — too slow for chat (29 min left)</b>" in card.status.text(), (
        "as the Models page says"
    )
    card = card_for(qtbot, model(health="quarantined", quarantine=QuarantineView("", None)))
    assert "<b>quarantined (until released)</b>" in card.status.text(), "no reason given: no dash"


def test_a_long_model_name_is_elided_with_a_tooltip(qtbot: QtBot) -> None:
    key = "a-server-with-a-long-name/" + "very-long-model-name-" * 6 + "Q4_K_M.gguf"
    card = card_for(qtbot, model(key))
    card.resize(320, card.sizeHint().height())
    card.show()
    assert card.title.toolTip() == key
    assert "…" in card.title.text() and card.title.text() != key
    assert card.minimumSizeHint().width() <= 320


@pytest.fixture
def dashboard(qtbot: QtBot, qapp: QApplication) -> DashboardPage:
    page = DashboardPage(Bridge(default_factory()))
    qtbot.addWidget(page)
    page.on_snapshot(
        EngineSnapshot(tuple(model(f"server-{i}/model-{i}") for i in range(7)), (), active_requests=0)
    )
    return page


@pytest.mark.parametrize(("width", "height", "columns"), [(854, 676, 2), (1750, 1056, 5)])
def test_cards_reflow_to_the_width(
    dashboard: DashboardPage, qtbot: QtBot, width: int, height: int, columns: int
) -> None:
    """The page's share of a 1024x700 and of a 1920x1080 window (minus sidebar and status bar)."""
    dashboard.resize(width, height)
    dashboard.show()
    qtbot.waitUntil(lambda: dashboard.columns == columns)
    assert dashboard.minimumSizeHint().width() <= width
    positions = {
        dashboard.grid.getItemPosition(dashboard.grid.indexOf(c))[:2] for c in dashboard.cards.values()
    }
    assert max(col for _row, col in positions) == columns - 1
    assert dashboard.chart.height() >= 160, "the chart keeps room under the cards"
    assert dashboard.cards_scroll.height() <= height * 0.45 + 1


def test_cards_take_only_the_height_they_need(qtbot: QtBot, qapp: QApplication) -> None:
    page = DashboardPage(Bridge(default_factory()))
    qtbot.addWidget(page)
    page.resize(1750, 1056)
    page.show()
    page.on_snapshot(EngineSnapshot((model(),), (), active_requests=0))
    card = next(iter(page.cards.values()))
    qtbot.waitUntil(lambda: card.isVisible() and card.height() <= page.cards_scroll.viewport().height())
    assert page.cards_scroll.height() < 250, "one card does not take half the page"
    card.add_outcome(True)  # the sparkline adds a line
    page.on_snapshot(EngineSnapshot((model(),), (), active_requests=0))
    qtbot.waitUntil(lambda: card.height() <= page.cards_scroll.viewport().height())
    assert not page.cards_scroll.verticalScrollBar().isVisible(), "the card is not clipped"
    assert page.chart.height() > 500, "the latency chart gets the rest of a large screen"


def test_an_slo_alert_puts_a_badge_on_the_model_card_until_it_clears(qtbot: QtBot) -> None:
    from steward.service.model_watch import SloAlertChanged

    page = DashboardPage(Bridge(default_factory()))
    qtbot.addWidget(page)
    key = "small/SmolLM2-135M-Instruct.Q4_1"
    page.on_snapshot(EngineSnapshot((model(key),), (), active_requests=0))
    card = page.cards[key]
    assert card.slo.isHidden()
    detail = "success 90.0% (target 99%): budget overspent, burning 10× (fast alert)"
    page.on_event(SloAlertChanged(0.0, None, key, "success", "fast", detail))
    assert not card.slo.isHidden() and card.slo.text() == "⚠ SLO: fast burn" and card.slo.toolTip() == detail
    page.on_event(SloAlertChanged(0.0, None, key, "success", None, "success 99.5% (target 99%)"))
    assert card.slo.isHidden()
