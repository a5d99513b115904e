"""Issue 14 item 6 at 1024x700 on the tables: the Models page gives the model name the room (other
columns as wide as their contents, the least needed ones hidden before anything scrolls sideways,
the fallback chain panel narrow), and the Servers page shows Name, Status, Last exit, URL and Model."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QTableWidget

from steward.gui.pages.models import CHAIN_WIDTH, COLUMNS, MODEL_MIN_WIDTH, ModelsPage
from steward.gui.pages.servers import ServersPage
from steward.gui.server_table import COLUMNS as SERVER_COLUMNS
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

SERVERS = ("embedded-small", "embedded-large")  # as long as the built-in servers' names


def in_view(table: QTableWidget, column: int) -> bool:
    left = table.columnViewportPosition(column)
    return (
        not table.isColumnHidden(column)
        and left >= 0
        and left + table.columnWidth(column) <= table.viewport().width()
    )


def small_window(
    harness_factory: Callable[..., AppHarness], small: LlamaServer, large: LlamaServer
) -> AppHarness:
    h = harness_factory(llama_settings((SERVERS[0], small.url), (SERVERS[1], large.url)))
    h.window.resize(1024, 700)
    wait_until(h.loop, lambda: h.bridge.snapshot is not None and len(h.bridge.snapshot.models) == 2)
    return h


def test_models_table_gives_the_name_the_room_without_a_sideways_scroll_bar(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = small_window(harness_factory, llama_small, llama_large)
    page = h.window.pages["models"]
    assert isinstance(page, ModelsPage)
    h.window.show_page("models")
    wait_until(h.loop, lambda: page.table.rowCount() == 2 and page.table.item(0, 0) is not None)
    QApplication.processEvents()
    table = page.table
    assert h.window.width() == 1024
    assert not table.horizontalScrollBar().isVisible(), "no sideways scrolling at 1024x700"
    assert table.columnWidth(0) >= MODEL_MIN_WIDTH, table.columnWidth(0)
    for name in ("Model", "Server", "Health", "Circuit"):
        assert in_view(table, COLUMNS.index(name)), name
    shown = [c for c in range(len(COLUMNS)) if not table.isColumnHidden(c)]
    assert sum(table.columnWidth(c) for c in shown) <= table.viewport().width()
    for column in shown[1:]:  # sized to their contents (header included), not stretched
        assert (
            table.columnWidth(column)
            <= max(table.horizontalHeader().sectionSizeHint(column), table.sizeHintForColumn(column)) + 2
        ), COLUMNS[column]
    item = table.item(0, 0)
    key = h.bridge.snapshot.models[0].key  # type: ignore[union-attr]
    assert item.text() == h.bridge.snapshot.models[0].model  # type: ignore[union-attr]
    assert item.toolTip().startswith(key + "\n"), "the full name (and every column's value) in the tooltip"
    for hidden in page.hidden_columns():
        assert f"{hidden}: " in item.toolTip(), hidden
    chain = page.chain_list.parentWidget()
    assert chain is not None and CHAIN_WIDTH[0] <= chain.width() <= CHAIN_WIDTH[1]
    assert table.width() > 2 * chain.width(), "the table, not the chain panel, gets the width"
    first = page.chain_list.item(0)
    server, _, model = page.chain_list.keys()[0].partition("/")
    assert first.text() == f"{server} · {model}" and first.toolTip() == page.chain_list.keys()[0], (
        "the server first (it tells two copies of a model apart when the name is cut), the key as tooltip"
    )

    h.window.resize(1600, 1000)  # a large window shows every column again
    wait_until(h.loop, lambda: not page.hidden_columns())
    assert not table.horizontalScrollBar().isVisible()


def test_servers_table_shows_name_status_last_exit_url_and_model_at_1024(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = small_window(harness_factory, llama_small, llama_large)
    page = h.window.pages["servers"]
    assert isinstance(page, ServersPage)
    h.window.show_page("servers")
    wait_until(h.loop, lambda: page.table.rowCount() == 2 and page.table.item(1, 4) is not None)
    QApplication.processEvents()
    table = page.table
    for name in ("Name", "Status", "Last exit", "URL", "Model"):
        assert in_view(table, SERVER_COLUMNS.index(name)), (
            name,
            [table.columnWidth(c) for c in range(5)],
            table.viewport().width(),
        )
    url = SERVER_COLUMNS.index("URL")
    assert table.columnWidth(url) >= table.fontMetrics().horizontalAdvance(llama_small.url), "URLs not cut"
