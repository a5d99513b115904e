"""A managed server whose health check answers while its completions hang (the REAL llama-server
behind a proxy, wedged on its first start: tests/support/wedged_llama.py), in the real window: the
canary restarts it, the Servers page row says why and counts it, the Events page shows the
failed checks and the restart."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from steward.config import Settings
from steward.gui.pages.events import EventsPage
from steward.servers import embedded
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.gui.test_servers_hardware_pages import cell, row, servers_page
from tests.support.llama import LlamaServer
from tests.support.wedged_llama import BINARY_ENV, MARKER_ENV, make_wedged_binary

NO_TOKEN = r"no first token after 2\.\d s \(first-token timeout 2 s\)"


def wedged_settings(backup: LlamaServer, folder: Path) -> Settings:
    """`backup` as an endpoint, plus a managed server "wedged" whose completions hang until restarted."""
    parts = embedded.require()
    data = llama_settings(("backup", backup.url)).model_dump(mode="json")
    data["servers"] = [
        {
            "name": "wedged",
            "binary_path": str(make_wedged_binary(folder)),
            "model_path": str(parts.model),
            "ctx_size": 1024,
            "threads": 2,
            "env": {MARKER_ENV: str(folder / "started"), BINARY_ENV: str(parts.llama_server)},
        }
    ]
    data["timeouts"] |= {"connect_s": 1.0, "first_token_s": 2.0}
    data["health"] |= {"canary_interval_s": 0.2, "canary_failures_to_restart": 2}
    return Settings.model_validate(data)


async def _never() -> str | None:
    return None


async def _done() -> str | None:
    return "the test has seen its restart"


def test_a_canary_restart_is_shown_on_the_servers_and_events_pages(
    harness_factory: Callable[[Settings], AppHarness], llama_small: LlamaServer, tmp_path: Path
) -> None:
    h = harness_factory(wedged_settings(llama_small, tmp_path))
    runtime = h.bridge.runtime
    assert runtime is not None and runtime.canary is not None
    runtime.canary.hold_off = _never  # this shared test box is often busy: the rule has its own tests
    page = servers_page(h)
    wait_until(h.loop, lambda: (r := row(page, "wedged")) is not None and r.restarts == 1, timeout=60)
    runtime.canary.hold_off = _done  # no further checks: on a busy box a slow restarted server could fail one
    wait_until(h.loop, lambda: cell(page, "wedged", "Status") == "ready")
    last_exit = cell(page, "wedged", "Last exit")
    assert re.fullmatch(f"restarted: canary failed 2× in a row: {NO_TOKEN}", last_exit)
    assert cell(page, "wedged", "Restarts") == "1"
    index = [r.name for r in page.rows].index("wedged")
    item = page.table.item(index, 2)
    assert item is not None and item.toolTip() == last_exit, "in full where the column elides it"

    events = h.window.pages["events"]
    assert isinstance(events, EventsPage)
    h.window.show_page("events")
    table = events.table

    def shown() -> list[tuple[str, str, str]]:
        rows = []
        for r in range(table.rowCount()):
            model, kind, detail = (table.item(r, c) for c in (1, 2, 3))
            rows.append(tuple(item.text() if item else "" for item in (model, kind, detail)))
        return rows  # type: ignore[return-value]

    wait_until(h.loop, lambda: any(kind == "CanaryFailed" for _, kind, _ in shown()))
    checks = [
        detail for model, kind, detail in shown() if kind == "CanaryFailed" and model.startswith("wedged/")
    ]
    assert len(checks) >= 2
    assert re.fullmatch(f"one-token check failed \\(1 in a row\\): {NO_TOKEN} — routed around", checks[0])
    assert re.fullmatch(
        f"one-token check failed \\(2 in a row\\): {NO_TOKEN} — restarting the server", checks[1]
    )
    assert any(
        kind == "ServerStateChanged" and f"→ restarting — {last_exit.removeprefix('restarted: ')}" in detail
        for _, kind, detail in shown()
    )
