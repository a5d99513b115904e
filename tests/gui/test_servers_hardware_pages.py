"""The Servers and Hardware pages of the real window, against REAL llama-servers (offscreen)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable

import keyring.backends.fail
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from steward.config import NO_BACKEND_MESSAGE, SecretStore, Settings
from steward.gui.charts import ResourceChart
from steward.gui.pages.hardware import HardwarePage
from steward.gui.pages.servers import ServersPage
from steward.gui.server_table import COLUMNS
from steward.service.server_rows import ServerRow
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer


def servers_page(h: AppHarness) -> ServersPage:
    page = h.window.pages["servers"]
    assert isinstance(page, ServersPage)
    h.window.show_page("servers")
    return page


def row(page: ServersPage, name: str) -> ServerRow | None:
    return next((r for r in page.rows if r.name == name), None)


def cell(page: ServersPage, name: str, column: int | str) -> str:
    if isinstance(column, str):
        column = COLUMNS.index(column)
    index = [r.name for r in page.rows].index(name)
    item = page.table.item(index, column)
    return item.text() if item is not None else ""


def notices(h: AppHarness) -> list[str]:
    """Every notice text the bridge emits from now on (the outcome of background actions)."""
    seen: list[str] = []
    h.bridge.notice.connect(lambda _level, text: seen.append(text))
    return seen


def engine_servers(h: AppHarness) -> set[str]:
    assert h.bridge.runtime is not None
    return {m.ref.server_id for m in h.bridge.runtime.engine.models()}


def test_servers_page_lists_the_llama_endpoints_with_their_status(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, llama_large: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    page = servers_page(h)
    wait_until(h.loop, lambda: all((r := row(page, n)) and r.status == "up" for n in ("small", "large")))
    for name, server in (("small", llama_small), ("large", llama_large)):
        assert cell(page, name, "URL") == server.url
        assert cell(page, name, "Source") == "configured"
        assert cell(page, name, "Status") == "up"
        assert cell(page, name, "Port") == str(server.port)
    page.select("small")
    assert not page.start_button.isEnabled() and not page.stop_button.isEnabled(), "not run by Steward"
    assert "not run by Steward" in page.log_title.text()


def test_add_endpoint_checks_inline_then_routes_to_it_and_saves_it(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    assert h.bridge.runtime is not None
    page = servers_page(h)
    said = notices(h)
    dialog = page.open_add_endpoint()
    dialog.id_edit.setText("extra/bad")
    dialog.url.setText("ftp://127.0.0.1:1")
    dialog.submit()
    assert dialog.isVisible(), "an invalid endpoint keeps the dialog open"
    assert "letters, digits" in dialog.errors["id"].text()
    assert "http:// or https://" in dialog.errors["base_url"].text()
    assert h.bridge.runtime.settings.endpoints[-1].id == "small"

    dialog.id_edit.setText("extra")
    dialog.kind.setCurrentIndex(dialog.kind.findData("llamacpp"))
    dialog.url.setText(llama_large.url)
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    wait_until(h.loop, lambda: "endpoint extra added" in said)
    assert "extra" in engine_servers(h)
    wait_until(h.loop, lambda: row(page, "extra") is not None)
    assert cell(page, "extra", "URL") == llama_large.url
    path = h.bridge.runtime.settings_file.path
    wait_until(h.loop, path.exists)
    saved = tomllib.loads(path.read_text())
    assert {"id": "extra", "kind": "llamacpp", "base_url": llama_large.url, "enabled": True} in saved[
        "endpoints"
    ]


def test_api_key_without_a_keyring_is_refused_with_the_keyring_message(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    runtime = h.bridge.runtime
    assert runtime is not None
    runtime.secrets = SecretStore(backend=keyring.backends.fail.Keyring())  # keyring's own "no backend"
    page = servers_page(h)
    dialog = page.open_add_endpoint()
    dialog.id_edit.setText("remote")
    dialog.url.setText("https://llm.example.invalid")
    dialog.api_key.setText("not-a-real-key")
    dialog.submit()
    wait_until(h.loop, page.problem.isVisible)
    assert NO_BACKEND_MESSAGE in page.problem.text() and "remote not added" in page.problem.text()
    assert "not-a-real-key" not in page.problem.text()
    assert [e.id for e in runtime.settings.endpoints] == ["small"], "nothing saved without the key"


def test_add_managed_llama_server_starts_it_shows_its_log_and_stops_it(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    assert h.bridge.runtime is not None
    page = servers_page(h)
    said = notices(h)
    dialog = page.open_add_managed()
    dialog.name.setText("mine")  # empty GGUF path = the embedded SmolLM2 model
    dialog.ctx.setValue(512)
    dialog.threads.setValue(1)
    dialog.submit()
    assert not dialog.isVisible()
    wait_until(h.loop, lambda: any(t.startswith("mine started on port") for t in said), timeout=60)
    wait_until(h.loop, lambda: (r := row(page, "mine")) is not None and r.status == "ready")
    mine = row(page, "mine")
    assert mine is not None and mine.managed and mine.pid and mine.port and mine.ctx == 512
    assert cell(page, "mine", "Source") == "managed" and cell(page, "mine", "Context") == "512"
    assert "mine" in engine_servers(h), "the new server's model is routed to"
    assert [s.name for s in h.bridge.runtime.settings.servers] == ["mine"]

    page.select("mine")
    assert page.stop_button.isEnabled() and not page.start_button.isEnabled()
    wait_until(h.loop, lambda: page.log.toPlainText().strip() != "")
    assert "Log of mine" in page.log_title.text()
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: "mine: stopped" in said)
    wait_until(h.loop, lambda: (r := row(page, "mine")) is not None and r.status == "stopped")
    stopped = row(page, "mine")
    assert stopped is not None and stopped.pid is None
    assert page.start_button.isEnabled()


def test_hardware_page_shows_the_cpu_only_tier_recommendations_and_live_charts(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = h.window.pages["hardware"]
    assert isinstance(page, HardwarePage)
    h.window.show_page("hardware")
    wait_until(h.loop, lambda: page.report is not None)
    assert page.tier_badge.text() == "CPU ONLY"
    assert "no usable GPU" in page.tier_text.text()
    assert page.detail_labels["RAM"].text().endswith("available")
    assert page.table.rowCount() > 0 and page.table.isColumnHidden(0) is False
    all_rows = page.table.rowCount()
    page.task_filter.setCurrentIndex(page.task_filter.findData("coding"))
    coding = page.table.rowCount()
    assert 0 < coding < all_rows
    tasks = {task for task, _ in page.visible_recommendations()}
    assert {t.value for t in tasks} == {"coding"} and page.table.isColumnHidden(0)
    fits = {page.table.item(r, 4).text() for r in range(coding)}  # type: ignore[union-attr]
    assert all(text.startswith("CPU only") for text in fits), fits

    def points(chart: ResourceChart, name: str) -> int:
        x, _y = chart.curves[name].getData()
        return 0 if x is None else len(x)

    wait_until(h.loop, lambda: points(page.cpu_chart, "CPU") >= 2)
    assert points(page.ram_chart, "RAM used") >= 2
    assert not page.gpu_chart.isVisible(), "no GPU here: no GPU chart"
