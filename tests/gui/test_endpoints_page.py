"""The Servers page of the real window: endpoints edited, tested and removed; the embedded servers next
to a dead endpoint; failure reasons in the rows; Start/Stop only when they make sense — all against
REAL llama-servers (the embedded ones are real processes Steward supervises)."""

from __future__ import annotations

import os
import signal
import tomllib
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.gui.pages.events import EventsPage
from steward.gui.pages.servers import ServersPage
from steward.gui.server_dialogs import EditEndpointDialog
from steward.gui.server_table import COLUMNS
from steward.servers.defaults import EMBEDDED_LARGE, EMBEDDED_SMALL
from steward.service.server_rows import ServerRow
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer

DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port
MODEL = "SmolLM2-135M-Instruct.Q4_1"


def servers_page(h: AppHarness) -> ServersPage:
    page = h.window.pages["servers"]
    assert isinstance(page, ServersPage)
    h.window.show_page("servers")
    return page


def row(page: ServersPage, name: str) -> ServerRow | None:
    return next((r for r in page.rows if r.name == name), None)


def cell(page: ServersPage, name: str, column: str) -> str:
    index = [r.name for r in page.rows].index(name)
    item = page.table.item(index, COLUMNS.index(column))
    return item.text() if item is not None else ""


def notices(h: AppHarness) -> list[str]:
    seen: list[str] = []
    h.bridge.notice.connect(lambda _level, text: seen.append(text))
    return seen


def with_embedded(*endpoints: tuple[str, str], run: str = "alongside_other_servers") -> Settings:
    """`llama_settings` with the embedded servers ON (small windows, so they load fast)."""
    data = llama_settings(*endpoints).model_dump(mode="python")
    data["embedded"] = {"enabled": True, "run": run, "small_ctx": 512, "large_ctx": 1024}
    return Settings.model_validate(data)


def ready(page: ServersPage, *names: str) -> bool:
    return all((r := row(page, n)) is not None and r.status == "ready" for n in names)


# --- item 1: a dead endpoint never takes the built-in models away --------------------------------


def test_a_dead_endpoint_leaves_the_embedded_servers_running_and_says_why_it_is_down(
    harness_factory: Callable[[Settings], AppHarness],
) -> None:
    h = harness_factory(with_embedded(("dead", DEAD)))
    page = servers_page(h)
    wait_until(h.loop, lambda: ready(page, EMBEDDED_SMALL, EMBEDDED_LARGE), timeout=60)
    assert h.bridge.runtime is not None
    keys = {m.key for m in h.bridge.runtime.engine.models()}
    assert {f"{EMBEDDED_SMALL}/{MODEL}", f"{EMBEDDED_LARGE}/{MODEL}"} <= keys, "the built-in models stay"
    assert page.embedded_line.text() == (
        "Embedded servers: running alongside any other servers. Setting: run alongside other servers."
    )
    wait_until(h.loop, lambda: cell(page, "dead", "Status") == "unreachable: connection refused")
    page.select("dead")
    assert not page.start_button.isEnabled() and not page.stop_button.isEnabled()
    assert not page.restart_button.isEnabled()
    assert "not run by Steward" in page.start_button.toolTip()


def test_only_when_nothing_else_answers_is_decided_by_what_answers_and_the_page_says_so(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    settings = with_embedded(("dead", DEAD), ("small", llama_small.url), run="when_nothing_else_answers")
    h = harness_factory(settings)
    page = servers_page(h)
    wait_until(h.loop, lambda: (r := row(page, "small")) is not None and r.status == "up")
    assert page.embedded_line.text() == (
        "Embedded servers: not started because small answered. Setting: run only when nothing else answers."
    )
    assert not any(r.managed for r in page.rows)


# --- item 1: test, edit and remove endpoints ------------------------------------------------------


def test_test_connection_says_what_answered_or_why_nothing_did(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("dead", DEAD)))
    page = servers_page(h)
    wait_until(h.loop, lambda: row(page, "dead") is not None)
    page.select("small")
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: page.last_check is not None)
    check = page.last_check
    assert check is not None and check.ok and check.kind == "llama.cpp" and check.version
    assert page.test_result.text() == (
        f"small: ✓ llama.cpp {check.version}: llamacpp server up, 1 model: {MODEL}"
    )
    page.select("dead")
    menu = {a.text(): a.isEnabled() for a in page.context_actions().actions()}  # the right-click menu
    assert menu == {
        "Start": False,
        "Stop": False,
        "Restart": False,
        "Test connection": True,
        "Edit…": True,
        "Remove": True,
    }
    page.last_check = None
    qtbot.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: page.last_check is not None)
    assert page.test_result.text().startswith(
        "dead: ✗ not reachable: nothing listens at the server's address"
    )


def test_edit_an_endpoint_tests_the_new_address_then_routes_to_it_and_saves_it(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("extra", DEAD)))
    runtime = h.bridge.runtime
    assert runtime is not None
    page = servers_page(h)
    said = notices(h)
    wait_until(h.loop, lambda: row(page, "extra") is not None)
    page.select("small")
    page.select("extra")
    assert page.edit_button.isEnabled() and page.remove_button.isEnabled()
    qtbot.mouseClick(page.edit_button, Qt.MouseButton.LeftButton)
    dialog = next(d for d in page.findChildren(EditEndpointDialog) if d.isVisible())
    assert dialog.id_edit.isReadOnly() and dialog.url.text() == DEAD

    dialog.url.setText(llama_large.url)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: dialog.last_check is not None)
    assert dialog.test_result.text().startswith("✓ llama.cpp ") and MODEL in dialog.test_result.text()
    assert [e.base_url for e in runtime.settings.endpoints if e.id == "extra"] == [DEAD], (
        "a test saves nothing"
    )

    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    wait_until(h.loop, lambda: "endpoint extra changed" in said)
    wait_until(h.loop, lambda: cell(page, "extra", "URL") == llama_large.url)
    assert runtime.engine.model(f"extra/{MODEL}") is not None, "routed to the new address at once"
    saved = tomllib.loads(runtime.settings_file.path.read_text())
    assert [e["base_url"] for e in saved["endpoints"] if e["id"] == "extra"] == [llama_large.url]


def test_delete_key_asks_then_removes_the_endpoint_everywhere(
    harness_factory: Callable[[Settings], AppHarness],
    llama_small: LlamaServer,
    llama_large: LlamaServer,
    qtbot: QtBot,
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url), ("big", llama_large.url)))
    runtime = h.bridge.runtime
    assert runtime is not None
    page = servers_page(h)
    said = notices(h)
    wait_until(h.loop, lambda: runtime.engine.model(f"big/{MODEL}") is not None and row(page, "big"))
    page.select("big")
    h.window.activateWindow()
    page.table.setFocus()

    def asked() -> QMessageBox:
        return next(b for b in page.findChildren(QMessageBox) if b.isVisible())

    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    box = wait_until(h.loop, lambda: [b for b in page.findChildren(QMessageBox) if b.isVisible()])[0]
    assert (
        "Remove the endpoint big?" in box.text() and "removes it from the settings." in box.informativeText()
    )
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert row(page, "big") is not None and [e.id for e in runtime.settings.endpoints] == ["small", "big"]

    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    remove = next(b for b in asked().buttons() if b.text() == "Remove")
    remove.click()
    wait_until(h.loop, lambda: "endpoint big removed" in said)
    wait_until(h.loop, lambda: row(page, "big") is None)
    assert [e.id for e in runtime.settings.endpoints] == ["small"]
    assert runtime.engine.model(f"big/{MODEL}") is None
    saved = tomllib.loads(runtime.settings_file.path.read_text())
    assert [e["id"] for e in saved["endpoints"]] == ["small"]


# --- item 4: failure reasons, sensible buttons, counts right after a stop -------------------------


def test_stop_updates_the_buttons_and_the_status_bar_counts_at_once(
    harness_factory: Callable[[Settings], AppHarness], qtbot: QtBot
) -> None:
    h = harness_factory(with_embedded())
    page = servers_page(h)
    said = notices(h)
    wait_until(h.loop, lambda: ready(page, EMBEDDED_SMALL, EMBEDDED_LARGE), timeout=60)
    wait_until(h.loop, lambda: h.window.servers_label.text() == "servers up: 2/2")
    page.select(EMBEDDED_SMALL)
    assert not page.start_button.isEnabled(), "Start is off while it runs"
    assert page.stop_button.isEnabled() and page.restart_button.isEnabled()

    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert not page.stop_button.isEnabled() and cell(page, EMBEDDED_SMALL, "Status") == "stopping…"
    wait_until(h.loop, lambda: f"{EMBEDDED_SMALL}: stopped" in said)
    assert h.window.servers_label.text() == "servers up: 1/2", "counted when the stop is reported"
    assert page.start_button.isEnabled() and not page.stop_button.isEnabled()
    assert not page.restart_button.isEnabled()


def test_a_sigkilled_server_shows_the_reason_and_restart_time_in_its_row_and_log(
    harness_factory: Callable[[Settings], AppHarness],
) -> None:
    h = harness_factory(with_embedded())
    page = servers_page(h)
    wait_until(h.loop, lambda: ready(page, EMBEDDED_SMALL, EMBEDDED_LARGE), timeout=60)
    first = row(page, EMBEDDED_LARGE)
    assert first is not None and first.pid is not None and cell(page, EMBEDDED_LARGE, "Last exit") == "—"
    page.select(EMBEDDED_LARGE)

    os.kill(first.pid, signal.SIGKILL)
    wait_until(
        h.loop,
        lambda: cell(page, EMBEDDED_LARGE, "Last exit").startswith("killed by SIGKILL, restarted in "),
        timeout=60,
    )
    again = row(page, EMBEDDED_LARGE)
    assert again is not None and again.status == "ready" and again.pid != first.pid and again.restarts == 1
    assert again.last_exit.endswith(" s")
    wait_until(h.loop, lambda: f"[steward] {EMBEDDED_LARGE} {again.last_exit}" in page.log.toPlainText())
    assert f"[steward] {EMBEDDED_LARGE} killed by SIGKILL, restarting in 1 s" in page.log.toPlainText()
    events = h.window.pages["events"]
    assert isinstance(events, EventsPage)
    details = [events.table.item(r, 3).text() for r in range(events.table.rowCount())]  # type: ignore[union-attr]
    assert any(d.startswith(f"{EMBEDDED_LARGE}: ready → crashed — killed by SIGKILL") for d in details)
