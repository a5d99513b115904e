"""Events and Models pages of the real window against REAL llama-servers: the audit trail
shows, filters and exports a chat's events; capability tags and the fallback order set on the
Models page reach the running engine and the saved settings."""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt

from steward.config import Settings
from steward.engine.events import EngineEvent
from steward.gui.pages.events import EventsPage
from steward.gui.pages.models import COLUMNS, ModelsPage
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer


def chat(h: AppHarness, text: str, model: str = "auto") -> list[EngineEvent]:
    """Send one chat through the bridge and wait for it to finish; its events, in order."""
    events: list[EngineEvent] = []
    finished: list[str] = []
    rid = h.bridge.chat.send_chat([("user", text)], model=model, max_tokens=8)
    assert rid is not None

    def on_event(r: str, e: EngineEvent) -> None:
        if r == rid:
            events.append(e)

    def on_finished(r: str) -> None:
        if r == rid:
            finished.append(r)

    h.bridge.chat.chat_event.connect(on_event)
    h.bridge.chat.chat_finished.connect(on_finished)
    try:
        wait_until(h.loop, lambda: finished, timeout=60)
    finally:
        h.bridge.chat.chat_event.disconnect(on_event)
        h.bridge.chat.chat_finished.disconnect(on_finished)
    return events


def kinds_in_table(page: EventsPage, visible_only: bool = False) -> list[str]:
    table = page.table
    return [
        table.item(row, 2).text()
        for row in range(table.rowCount())
        if not (visible_only and table.isRowHidden(row))
    ]


def table_cell(page: ModelsPage, server: str, column: str) -> str:
    """The text in `column` of the models table row of the model on `server`."""
    table = page.table
    col = COLUMNS.index(column)
    server_col = COLUMNS.index("Server")
    for row in range(table.rowCount()):
        if table.item(row, server_col).text() == server:
            return table.item(row, col).text()
    return ""


def test_events_page_shows_filters_and_exports_a_chats_events(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, tmp_path: Path
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = h.window.pages["events"]
    assert isinstance(page, EventsPage)
    h.window.show_page("events")
    events = chat(h, "Say hello.")
    assert events[-1].type == "Completed", [e.type for e in events]
    rid = events[-1].request_id
    wait_until(h.loop, lambda: {"AttemptStarted", "Completed"} <= set(kinds_in_table(page)))
    assert "Token" not in kinds_in_table(page), "tokens are not audit rows"

    page.filter.setText("AttemptStarted")
    shown = kinds_in_table(page, visible_only=True)
    assert "AttemptStarted" in shown and "Completed" not in shown
    assert page.visible_rows() < page.table.rowCount()
    assert f"{page.visible_rows():,} of {page.table.rowCount():,}" in page.count.text()
    page.filter.clear()
    assert page.visible_rows() == page.table.rowCount()

    csv_path, jsonl_path = tmp_path / "events.csv", tmp_path / "events.jsonl"
    page.export_to(str(csv_path), "csv")
    wait_until(h.loop, lambda: page.last_export is not None and page.last_export[0] == str(csv_path))
    with csv_path.open(newline="", encoding="utf-8") as handle:
        csv_rows = list(csv.DictReader(handle))
    assert page.last_export == (str(csv_path), len(csv_rows))
    mine = [r for r in csv_rows if json.loads(r["payload"]).get("request_id") == rid]
    assert {"RequestStarted", "AttemptStarted", "Completed"} <= {r["type"] for r in mine}
    assert all(r["model_key"].startswith("small/") for r in mine if r["type"] == "Completed")

    page.export_to(str(jsonl_path), "jsonl")
    wait_until(h.loop, lambda: page.last_export is not None and page.last_export[0] == str(jsonl_path))
    lines = [json.loads(line) for line in jsonl_path.read_text(encoding="utf-8").splitlines()]
    assert page.last_export == (str(jsonl_path), len(lines))
    completed = [r for r in lines if r["type"] == "Completed" and r["payload"]["request_id"] == rid]
    assert len(completed) == 1 and completed[0]["payload"]["text"] == events[-1].payload()["text"]


def test_events_page_exports_the_rows_the_filter_shows_or_everything(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, tmp_path: Path
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = h.window.pages["events"]
    assert isinstance(page, EventsPage)
    h.window.show_page("events")
    events = chat(h, "Say hello.")
    rid = events[-1].request_id
    wait_until(h.loop, lambda: {"AttemptStarted", "Completed"} <= set(kinds_in_table(page)))
    page.kind.setCurrentIndex(page.kind.findData("AttemptStarted"))
    shown, total = page.visible_rows(), page.table.rowCount()
    assert 0 < shown < total
    page.export_button.menu().aboutToShow.emit()
    assert page.export_visible_action.text() == f"Rows shown by the filter ({shown:,} of {total:,})…"

    visible_path, all_path = tmp_path / "shown.csv", tmp_path / "all.jsonl"
    page.export_to(str(visible_path), "csv", visible_only=True)
    wait_until(h.loop, lambda: page.last_export is not None and page.last_export[0] == str(visible_path))
    with visible_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert page.last_export == (str(visible_path), shown) and len(rows) == shown
    assert {r["type"] for r in rows} == {"AttemptStarted"}
    assert any(json.loads(r["payload"]).get("request_id") == rid for r in rows), (
        "the full payload, not the cell"
    )

    page.export_to(str(all_path), "jsonl")
    wait_until(h.loop, lambda: page.last_export is not None and page.last_export[0] == str(all_path))
    lines = [json.loads(line) for line in all_path.read_text(encoding="utf-8").splitlines()]
    assert len(lines) > shown and {"AttemptStarted", "Completed"} <= {r["type"] for r in lines}


def test_models_page_capabilities_and_fallback_order_reach_engine_and_settings(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("large", llama_large.url)))
    runtime = h.bridge.runtime
    assert runtime is not None
    page = h.window.pages["models"]
    assert isinstance(page, ModelsPage)
    h.window.show_page("models")
    wait_until(h.loop, lambda: len(page.chain_list.keys()) == 2)
    snapshot = h.bridge.snapshot
    assert snapshot is not None
    small = next(m.key for m in snapshot.models if m.server_id == "small")
    large = next(m.key for m in snapshot.models if m.server_id == "large")

    assert page.set_capabilities(small, ["code", "tools", "fast-draft"]) == []

    def tagged() -> bool:  # applied through the service on the loop, without a restart
        model = runtime.engine.snapshot().model(small)
        return model is not None and set(model.capabilities) == {"code", "tools", "fast-draft"}

    wait_until(h.loop, tagged)
    wait_until(h.loop, lambda: small in runtime.settings.routing.capabilities)
    assert runtime.settings.routing.capabilities[small] == ["code", "tools", "fast-draft"]
    wait_until(h.loop, lambda: runtime.settings_file.path.exists())
    on_disk = tomllib.loads(runtime.settings_file.path.read_text(encoding="utf-8"))
    assert on_disk["routing"]["capabilities"][small] == ["code", "tools", "fast-draft"]
    wait_until(h.loop, lambda: "fast-draft" in table_cell(page, "small", "Capabilities"))

    def both_healthy() -> bool:
        snap = runtime.engine.snapshot()
        return all(m.health == "healthy" for m in snap.models)

    # Tick both models into the chain in list order, then drag (move) the second one to the top.
    chain_list = page.chain_list
    order = chain_list.keys()
    for row in range(chain_list.count()):
        chain_list.item(row).setCheckState(Qt.CheckState.Checked)
    wait_until(h.loop, lambda: list(runtime.settings.routing.fallback_chain) == order)
    wait_until(h.loop, both_healthy, timeout=60)
    before = chat(h, "Say hello.")
    assert list(before[0].payload()["candidates"][:2]) == order

    chain_list.move(order[1], 0)
    assert chain_list.chain() == [order[1], order[0]]
    wait_until(h.loop, lambda: list(runtime.settings.routing.fallback_chain) == [order[1], order[0]])
    assert h.bridge.models.fallback_chain() == [order[1], order[0]]
    wait_until(h.loop, both_healthy, timeout=60)
    after = chat(h, "Say hello again.")
    assert after[0].type == "RequestStarted"
    assert list(after[0].payload()["candidates"][:2]) == [order[1], order[0]]
    assert after[-1].type == "Completed" and after[-1].model_key == order[1]
    assert {small, large} == set(order)
