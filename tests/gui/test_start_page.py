"""Settings › Appearance › Start page decides the page the window opens on: it is applied when the
settings arrive from the service (after the window is up), a page remembered by an older version is
ignored and forgotten, and a page the user chose before the settings arrived is left alone."""

from __future__ import annotations

import asyncio

from steward.desktop import desktop_factory
from steward.gui.app import build_window
from steward.gui.main_window import ui_state
from steward.runtime import RuntimeOptions
from tests.gui.conftest import llama_settings, wait_until
from tests.support.llama import LlamaServer


def test_the_start_page_setting_is_the_page_shown_at_launch(
    qloop: asyncio.AbstractEventLoop, llama_small: LlamaServer
) -> None:
    state = ui_state()
    state.setValue("page", "events")  # what an older version remembered on quit
    state.sync()
    settings = llama_settings(("small", llama_small.url)).with_changes("ui.last_page", "models")
    asyncio.events._set_running_loop(None)
    bridge, window = build_window(desktop_factory(RuntimeOptions(settings=settings), gateway=False))
    try:
        window.show()
        assert window.current_page_name() == "dashboard", "before the settings arrive: the dashboard"
        bridge.start()
        wait_until(qloop, lambda: bridge.runtime is not None)
        assert window.current_page_name() == "models", "the Start page setting, not the remembered page"
        window.show_page("chat")
        window.close()  # quitting on Chat does not make Chat the next start page
        assert ui_state().value("page") is None
    finally:
        qloop.run_until_complete(bridge.shutdown())
        window.deleteLater()


def test_a_page_chosen_before_the_settings_arrive_stays(
    qloop: asyncio.AbstractEventLoop, llama_small: LlamaServer
) -> None:
    settings = llama_settings(("small", llama_small.url)).with_changes("ui.last_page", "models")
    asyncio.events._set_running_loop(None)
    bridge, window = build_window(desktop_factory(RuntimeOptions(settings=settings), gateway=False))
    try:
        window.show()
        window.show_page("servers")  # the user clicked while the engine was starting
        bridge.start()
        wait_until(qloop, lambda: bridge.runtime is not None)
        assert window.current_page_name() == "servers"
        assert bridge.settings is not None
        bridge.settings_changed.emit(bridge.settings)  # a later settings change never navigates
        assert window.current_page_name() == "servers"
    finally:
        qloop.run_until_complete(bridge.shutdown())
        window.close()
        window.deleteLater()
