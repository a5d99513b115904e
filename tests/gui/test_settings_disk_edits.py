"""settings.toml edited outside the running window (the file really written, really watched):
the Settings page shows the applied values and says what changed; a refused edit is named with
its reason and "Keep Steward's settings" writes the settings in effect over it."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from steward.config import Settings
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.test_settings_page import settings_page, spin
from tests.support.llama import LlamaServer


def test_outside_edits_reach_the_page_and_a_refused_one_can_be_overwritten(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = settings_page(h)
    service = h.bridge.service
    assert service is not None
    settings_file = service.runtime.settings_file
    settings_file.save(service.settings)  # the app's own file, as after a first save
    service.watch_settings_file()
    started = time.monotonic()
    wait_until(h.loop, lambda: time.monotonic() - started > 0.5)  # the watcher's thread is up
    path = settings_file.path
    text = path.read_text()
    assert "failure_threshold = 3" in text
    path.write_text(text.replace("failure_threshold = 3", "failure_threshold = 6"))
    wait_until(h.loop, lambda: spin(page, "breaker.failure_threshold").value() == 6, timeout=15)
    assert page.disk_notice.isVisible()
    assert (
        page.disk_notice.text() == "settings.toml changed on disk and was applied: breaker.failure_threshold"
    )
    assert not page.keep_button.isVisible()

    broken = path.read_text().replace("failure_threshold = 6", "failure_threshold = 0")
    path.write_text(broken)
    wait_until(h.loop, page.keep_button.isVisible, timeout=15)
    assert "NOT applied" in page.disk_notice.text() and "breaker.failure_threshold" in page.disk_notice.text()
    assert spin(page, "breaker.failure_threshold").value() == 6, "the running settings stay"
    qtbot.mouseClick(page.keep_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: "failure_threshold = 6" in path.read_text(), timeout=15)
    assert not page.keep_button.isVisible()


def test_an_outside_edit_keeps_the_fields_the_user_is_still_editing(
    harness_factory: Callable[[Settings], AppHarness],
) -> None:
    h = harness_factory(llama_settings())
    page = settings_page(h)
    service = h.bridge.service
    assert service is not None
    settings_file = service.runtime.settings_file
    settings_file.save(service.settings)
    service.watch_settings_file()
    started = time.monotonic()
    wait_until(h.loop, lambda: time.monotonic() - started > 0.5)
    spin(page, "breaker.reset_timeout_s").setValue(45.0)  # the user's unapplied edit
    path = settings_file.path
    path.write_text(path.read_text().replace("failure_threshold = 3", "failure_threshold = 6"))
    wait_until(h.loop, lambda: spin(page, "breaker.failure_threshold").value() == 6, timeout=15)
    assert spin(page, "breaker.reset_timeout_s").value() == 45.0, "the user's edit is kept"
    assert page.apply_button.isEnabled() and "1 unapplied change" in page.status.text()
