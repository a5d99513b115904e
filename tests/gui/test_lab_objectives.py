"""Issue 16 item 2: the per-model SLO view (the Lab's Objectives tab) on a REAL llama-server. The
first-token objective is set strict on purpose (1 ms) so real answers miss it: the tab shows the
model's objectives, the budget left as bars, the fast alert, and its title counts the alert even
while another tab is shown (the alert event refreshes it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtWidgets import QProgressBar

from steward.config import Settings
from steward.engine.events import Completed
from steward.gui.pages.lab import LabPage
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

MODEL = "small/SmolLM2-135M-Instruct.Q4_1"


def text(page: LabPage, row: int, column: int) -> str:
    item = page.objectives.table.item(row, column)
    return item.text() if item is not None else ""


def test_objectives_tab_shows_budget_left_and_the_alert_of_real_traffic(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    settings = llama_settings(("small", llama_small.url)).with_changes({"slo.ttft_s": 0.001})
    h = harness_factory(settings)
    page = h.window.pages["lab"]
    assert isinstance(page, LabPage)
    h.window.resize(1024, 700)
    h.window.show_page("lab")
    assert page.tabs.currentWidget() is page.objectives, "the Objectives tab comes first"
    wait_until(h.loop, lambda: text(page, 0, 0) == MODEL)
    assert text(page, 0, 3) == "no traffic" and page.tabs.tabText(0) == "Objectives"
    assert text(page, 1, 0).startswith("learning its usual level (0 of 30"), "the model's second row"

    page.tabs.setCurrentWidget(page.drill)  # the alert must reach the tab's title all the same
    service = h.bridge.service
    assert service is not None

    async def ask() -> None:
        for _ in range(12):
            request = service.build_request([("user", "Say hi.")], model=MODEL, max_tokens=4, fallback=False)
            events = [e async for e in service.ask(request)]
            assert isinstance(events[-1], Completed)

    h.loop.run_until_complete(asyncio.wait_for(ask(), 120))
    wait_until(h.loop, lambda: page.tabs.tabText(0) == "Objectives ⚠ 1", timeout=15)
    assert page.tabs.tabToolTip(0) == f"Alert burning: {MODEL}"

    page.tabs.setCurrentWidget(page.objectives)
    wait_until(h.loop, lambda: text(page, 0, 2) == "100.0% (99%)")
    rows = {text(page, r, 1): r for r in range(page.objectives.table.rowCount())}
    assert set(rows) == {"answers", "first token in time"}
    ttft = rows["first token in time"]
    assert text(page, ttft, 2) == "0.0% (95%)"
    assert text(page, ttft, 3) == "overspent (20.0× the budget)"
    assert text(page, ttft, 4).endswith("— fast alert")
    assert text(page, 1, 0).startswith("learning its usual level (12 of 30")
    assert text(page, ttft, 4) == "20.0× / 20.0× — fast alert"
    bars = [page.objectives.table.cellWidget(r, 3) for r in (rows["answers"], ttft)]
    assert all(isinstance(b, QProgressBar) for b in bars)
    assert [b.value() for b in bars] == [100, 0]  # type: ignore[union-attr]
    assert bars[0].text() == "100% left"  # type: ignore[union-attr]
    table = page.objectives.table
    assert page.objectives.minimumSizeHint().width() <= 1024 - h.window.sidebar.width() - 40
    assert not table.horizontalScrollBar().isVisible(), "every column fits 1024 px"
