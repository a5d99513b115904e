"""Issue 16 item 5: the speed ↔ accuracy preference is a slider with named ends; moving it says what
it does to the router's weights before applying, and once applied a real "auto" request's
explanation shows the weights used."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.engine.events import EngineEvent, RequestStarted
from steward.gui.preference_slider import PreferenceSlider
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.test_settings_page import settings_page
from tests.support.llama import LlamaServer


def test_the_preference_slider_shows_its_effect_applies_live_and_the_router_uses_it(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = settings_page(h)
    page.show_group("routing")
    editor = page.editor("weights.preference")
    slider = editor.widget
    assert isinstance(slider, PreferenceSlider)
    assert slider.value() == 0.5
    assert slider.effect.text() == "0.50 · balanced: capability ×1.0, speed ×1.0"

    slider.slider.setFocus()
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageUp)  # +0.1
    qtbot.keyClick(slider.slider, Qt.Key.Key_PageUp)
    assert slider.value() == 0.7
    assert slider.effect.text() == "0.70 · towards accuracy: capability ×1.4, speed ×0.6"
    assert page.apply_button.isEnabled(), "a moved slider is an edit"
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    service = h.bridge.service
    assert service is not None
    wait_until(h.loop, lambda: service.settings.weights.preference == 0.7)

    seen: list[EngineEvent] = []
    service.subscribe(seen.append)

    async def ask() -> None:
        request = service.build_request([("user", "Say hi.")], model="auto", max_tokens=4)
        [_ async for _ in service.ask(request)]

    h.loop.run_until_complete(asyncio.wait_for(ask(), 60))
    started = next(e for e in seen if isinstance(e, RequestStarted))
    assert "preference 0.70, towards accuracy" in started.explanation, started.explanation

    qtbot.keyClick(slider.slider, Qt.Key.Key_Home)  # all the way to speed
    assert slider.effect.text() == "0.00 · towards speed: capability ×0.0, speed ×2.0"
