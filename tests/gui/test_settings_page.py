"""The Settings page of the real window on a runtime routing to a REAL llama-server: edits are
validated inline, Apply changes the running engine (no restart) and the file on disk."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QSpinBox
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.gui.pages.settings import SettingsPage
from steward.gui.settings_fields import build_groups, covered_roots
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer


def settings_page(h: AppHarness) -> SettingsPage:
    page = h.window.pages["settings"]
    assert isinstance(page, SettingsPage)
    h.window.show_page("settings")
    wait_until(h.loop, page.isEnabled)
    return page


def spin(page: SettingsPage, path: str) -> QSpinBox | QDoubleSpinBox:
    widget = page.editor(path).widget
    assert isinstance(widget, QSpinBox | QDoubleSpinBox)
    return widget


def saved(h: AppHarness) -> dict[str, Any]:
    assert h.bridge.runtime is not None
    path: Path = h.bridge.runtime.settings_file.path
    return tomllib.loads(path.read_text()) if path.exists() else {}


def test_every_setting_is_on_the_page_with_a_tooltip_and_the_sidebar_order_is_fixed(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer
) -> None:
    groups = build_groups()
    assert covered_roots(groups) == set(Settings.model_fields) - {"schema_version"}
    assert all(f.tooltip.strip() for g in groups for f in g.fields)
    h = harness_factory(llama_settings(("small", llama_small.url)))
    names = [h.window.sidebar.item(i).text() for i in range(h.window.sidebar.count())]
    assert names == [
        "Dashboard",
        "Chat",
        "Models",
        "Servers",
        "Hardware",
        "Settings",
        "Events",
        "Gateway",
        "Lab",
    ]
    page = settings_page(h)
    assert (
        page.editor("breaker.failure_threshold").widget.toolTip().startswith("Consecutive counted failures")
    )


def test_changed_failure_threshold_is_live_in_the_engine_and_saved(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    runtime = h.bridge.runtime
    assert runtime is not None
    engine = runtime.engine
    page = settings_page(h)
    assert not page.apply_button.isEnabled()
    spin(page, "breaker.failure_threshold").setValue(7)
    assert page.apply_button.isEnabled() and "1 unapplied change" in page.status.text()
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: saved(h).get("breaker", {}).get("failure_threshold") == 7)
    assert h.bridge.runtime is runtime and runtime.engine is engine, "applied without a restart"
    assert engine.settings.breaker.failure_threshold == 7
    key = next(m.key for m in engine.models() if m.ref.server_id == "small")
    state = engine.model(key)
    assert state is not None
    breaker = state.breaker
    for failure in range(7):  # the live breaker now opens after 7 counted failures, not 3
        assert breaker.state == "closed", f"opened after {failure} failures"
        permit = breaker.try_acquire()
        assert permit is not None
        breaker.record_failure(permit, counted=True, reason="test failure")
    assert breaker.state == "open"
    breaker.reset()
    wait_until(
        h.loop, lambda: not page.apply_button.isEnabled() and "applied and saved" in page.status.text()
    )


def test_invalid_values_are_refused_inline_with_the_reason_and_never_applied(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    assert h.bridge.runtime is not None
    engine = h.bridge.runtime.engine
    page = settings_page(h)

    threshold = page.editor("breaker.failure_threshold")
    assert isinstance(threshold.widget, QSpinBox)
    threshold.widget.setValue(0)
    assert threshold.error_label.isVisibleTo(page) and "must be at least 1" in threshold.error_label.text()
    assert not page.apply_button.isEnabled()
    assert "problem" in page.status.text()

    page.show_group("timeouts")
    connect = page.editor("timeouts.connect_s")
    assert isinstance(connect.widget, QDoubleSpinBox)
    connect.widget.setValue(-2.5)
    assert connect.error_label.isVisible() and "must be greater than 0" in connect.error_label.text()
    nav = page.nav.item([g.key for g in page.groups].index("timeouts")).text()
    assert nav.endswith("⚠")

    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)  # disabled: nothing happens
    page.apply()  # even when called directly nothing invalid is applied
    QApplication.processEvents()
    assert engine.settings.breaker.failure_threshold == 3
    assert engine.settings.timeouts.connect_s == 1.0
    assert saved(h) == {}, "nothing was written"

    threshold.widget.setValue(4)
    connect.widget.setValue(2.0)
    assert not threshold.error_label.isVisibleTo(page) and not connect.error_label.isVisibleTo(page)
    page.show_group("reliability")
    spin(page, "breaker.max_reset_timeout_s").setValue(5.0)  # below reset_timeout_s (30): a cross-field rule
    group_error = page.group_errors["reliability"]
    assert group_error.isVisible()
    assert "Max reset timeout (5 s) must not be smaller than Reset timeout (30 s)" in group_error.text()
    assert not page.apply_button.isEnabled()
    spin(page, "breaker.max_reset_timeout_s").setValue(300.0)
    assert not group_error.isVisibleTo(page)
    assert page.apply_button.isEnabled()
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: engine.settings.breaker.failure_threshold == 4)
    assert engine.settings.timeouts.connect_s == 2.0


def test_restore_defaults_resets_only_that_group(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    settings = llama_settings(("small", llama_small.url))
    assert settings.timeouts.connect_s == 1.0 and settings.context.max_reply_tokens == 48  # not defaults
    h = harness_factory(settings)
    assert h.bridge.runtime is not None
    engine = h.bridge.runtime.engine
    page = settings_page(h)
    page.show_group("timeouts")
    qtbot.mouseClick(page.restore_buttons["timeouts"], Qt.MouseButton.LeftButton)
    defaults = Settings().timeouts
    assert spin(page, "timeouts.connect_s").value() == defaults.connect_s
    assert spin(page, "timeouts.first_token_s").value() == defaults.first_token_s
    changed, _ = page.changes()
    assert set(changed) == {"timeouts.connect_s"}, "only the timeouts group differs from what runs"
    assert engine.settings.timeouts.connect_s == 1.0, "restoring is an edit: nothing applied yet"
    qtbot.mouseClick(page.apply_button, Qt.MouseButton.LeftButton)
    wait_until(h.loop, lambda: engine.settings.timeouts.connect_s == defaults.connect_s)
    assert engine.settings.context.max_reply_tokens == 48
    assert h.bridge.runtime is not None
    settings_file = h.bridge.runtime.settings_file
    wait_until(h.loop, settings_file.path.exists)
    on_disk = settings_file.load().settings
    assert on_disk.timeouts.connect_s == defaults.connect_s and on_disk.context.max_reply_tokens == 48


def test_revert_drops_unapplied_edits(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, qtbot: QtBot
) -> None:
    h = harness_factory(llama_settings(("small", llama_small.url)))
    page = settings_page(h)
    box = spin(page, "breaker.failure_threshold")
    box.setValue(0)
    qtbot.mouseClick(page.revert_button, Qt.MouseButton.LeftButton)
    assert box.value() == 3 and not page.editor("breaker.failure_threshold").error_label.isVisibleTo(page)
    assert page.changes() == ({}, {}) and not page.apply_button.isEnabled()
