"""The Hardware page says, for every recommended model, the largest context it fits with on this
machine and — for the selected one, in plain words — where its memory goes, at 1024x700."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel

from steward.config import Settings
from steward.gui.pages.hardware import HardwarePage
from steward.hardware.budget import budget_for
from steward.hardware.context_fit import context_words, max_fitting_context
from steward.hardware.gpu import format_bytes
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

MAX_CONTEXT_COLUMN = 5


def test_each_model_shows_its_largest_context_and_the_selected_ones_memory_breakdown(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    h.window.resize(1024, 700)
    page = h.window.pages["hardware"]
    assert isinstance(page, HardwarePage)
    h.window.show_page("hardware")
    wait_until(h.loop, lambda: page.report is not None and page.table.rowCount() > 2)
    assert page.report is not None
    budget = budget_for(page.report.hardware, page.report.verdict)
    header = page.table.horizontalHeaderItem(MAX_CONTEXT_COLUMN)
    assert header is not None and header.text() == "Context"
    assert header.toolTip() == "The largest context this model fits with on this machine"
    for row, (_task, rec) in enumerate(page.visible_recommendations()):
        expected = max_fitting_context(rec.model.spec(rec.quant), budget)
        assert rec.max_context == expected > 0, "the largest context that fits this machine"
        cell = page.table.item(row, MAX_CONTEXT_COLUMN)
        assert cell is not None and cell.text() == context_words(expected)
        assert cell.toolTip().startswith(f"On this machine it fits with {context_words(expected)} context")
        memory = page.table.item(row, 3)
        assert memory is not None and memory.text() == format_bytes(rec.fit.memory.total)
        assert memory.toolTip().startswith("weights ") and "KV cache" in memory.toolTip()

    detail = page.findChild(QLabel, "fitDetail")
    assert detail is page.fit_detail and detail.wordWrap()
    first = page.visible_recommendations()[0][1]
    text = detail.text()
    assert text.startswith(f"{first.model.name} ({first.quant}) at 8k context needs about ")
    for part in ("weights ", "KV cache ", "compute buffers ", "runtime "):
        assert part in text
    assert f"it fits with {context_words(first.max_context)} context" in text
    page.table.setCurrentCell(2, 1)  # another row: the sentence follows the selection
    third = page.visible_recommendations()[2][1]
    assert detail.text().startswith(f"{third.model.name} ({third.quant}) at 8k context")
    assert page.minimumSizeHint().width() <= 1024 - h.window.sidebar.width()
    assert detail.isVisible() and detail.geometry().right() <= page.width()
    assert page.table.columnWidth(1) <= 150, "long model names elide (full name in the tooltip)"
    assert page.table.columnWidth(7) >= 150, "the reason keeps room to wrap"
