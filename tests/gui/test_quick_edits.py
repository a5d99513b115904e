"""Two settings edits made one right after the other through the bridge (a box ticked, then
another, before the first apply finished) both land, live and on disk. Before, the bridge merged
each edit into the settings of the moment it was made, so the second apply put the first edit
back as it was (seen as a flaky Models-page test: the first tick of the fallback chain undone)."""

from __future__ import annotations

from collections.abc import Callable

from steward.config import Settings
from tests.gui.conftest import AppHarness, llama_settings, wait_until


def test_quick_successive_edits_through_the_bridge_all_land(
    harness_factory: Callable[[Settings], AppHarness],
) -> None:
    h = harness_factory(llama_settings())
    service = h.bridge.service
    assert service is not None
    assert h.bridge.apply_settings({"breaker.failure_threshold": 7}) == []
    assert h.bridge.apply_settings({"timeouts.connect_s": 2.5}) == []  # before the first has landed
    wait_until(h.loop, lambda: service.settings.timeouts.connect_s == 2.5)
    wait_until(h.loop, lambda: service.runtime.settings_file.load().settings.timeouts.connect_s == 2.5)
    assert service.settings.breaker.failure_threshold == 7, "the second edit undid the first"
    assert service.runtime.settings_file.load().settings.breaker.failure_threshold == 7
