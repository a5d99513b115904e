"""The inference canary's two settings on the Settings page: in plain words, with their help, and
applied live to the running canary (no restart)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from steward.config import Settings
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.test_settings_page import saved, settings_page, spin
from tests.support.llama import LlamaServer

INTERVAL, RESTART = "health.canary_interval_s", "health.canary_failures_to_restart"


def test_the_canary_settings_are_shown_in_plain_words_and_apply_live(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    runtime = h.bridge.runtime
    assert runtime is not None and runtime.canary is not None, "the canary runs with the health monitor"
    page = settings_page(h)
    page.show_group("health")
    labels = {label.text() for label in page.findChildren(QLabel)}
    assert "Check idle models with one token every" in labels
    assert "Failed checks before restarting a server (in a row)" in labels
    interval, restarts = spin(page, INTERVAL), spin(page, RESTART)
    assert interval.value() == 300 and interval.suffix() == " s" and restarts.value() == 3
    assert "0 = off" in interval.toolTip() and "routed around" in restarts.toolTip()

    interval.setValue(0)
    restarts.setValue(5)
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: saved(h).get("health", {}).get("canary_interval_s") == 0)
    health = runtime.engine.settings.health
    assert health.canary_interval_s == 0 and health.canary_failures_to_restart == 5

    restarts.setValue(0)
    assert page.editor(RESTART).marked and not page.apply_button.isEnabled(), "at least one failure"
