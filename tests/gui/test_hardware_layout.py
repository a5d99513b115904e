"""The Hardware page at 1024x700 (issue 14, item 8): the recommendations get the space, the
resource charts stay small, labelled, and scaled to what this machine has."""

from __future__ import annotations

from collections.abc import Callable

import psutil
import pytest
from PySide6.QtCore import Qt

from steward.config import Settings
from steward.gui.pages.hardware import CHARTS_MAX_HEIGHT, FIT_COLUMN, REASON_COLUMN, HardwarePage
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

GIB = 1024**3


def test_recommendations_get_the_space_and_charts_scale_to_the_machine(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    h.window.resize(1024, 700)
    page = h.window.pages["hardware"]
    assert isinstance(page, HardwarePage)
    h.window.show_page("hardware")
    wait_until(h.loop, lambda: page.report is not None and page.table.rowCount() > 0)
    wait_until(
        h.loop, lambda: page.ram_chart.total is not None and "CPU" in page.cpu_chart.latest, timeout=15
    )
    assert page.ram_chart.total == pytest.approx(psutil.virtual_memory().total / GIB, rel=0.01)
    assert page.ram_chart.viewRange()[1][1] == pytest.approx(page.ram_chart.total, rel=0.05)
    assert page.ram_chart.title_text().startswith("RAM used: ")
    assert page.ram_chart.title_text().endswith(f"of {page.ram_chart.total:.0f} GiB")
    assert page.cpu_chart.title_text().startswith("CPU: ") and page.cpu_chart.title_text().endswith(" %")
    assert page.table.height() > page.middle.height(), "the table, not the charts, takes the page"
    assert page.cpu_chart.height() <= CHARTS_MAX_HEIGHT
    fit = page.table.item(0, FIT_COLUMN)
    assert fit is not None and not fit.icon().isNull(), "fit shown as a colour swatch beside plain text"
    assert page.minimumSizeHint().width() <= 1024 - h.window.sidebar.width()
    reason = page.table.item(0, REASON_COLUMN)
    assert reason is not None
    width = page.table.columnWidth(REASON_COLUMN) - 8
    metrics = page.table.fontMetrics()
    needed = metrics.boundingRect(0, 0, width, 10_000, Qt.TextFlag.TextWordWrap, reason.text()).height()
    three_lines = 3 * metrics.lineSpacing()
    assert page.table.rowHeight(0) >= min(needed, three_lines), "the reason wraps over up to three lines"
    assert page.table.rowHeight(0) <= three_lines + 8, "a long reason does not push the other rows away"
    assert reason.toolTip() == reason.text(), "the whole reason is in the tooltip"
    visible_rows = page.table.rowAt(page.table.viewport().height() - 1)
    assert visible_rows >= 4 or visible_rows == -1, "several recommendations are in view at 1024x700"
