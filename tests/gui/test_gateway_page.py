"""The Gateway page shows what the service reports: running or not (and why), the token hidden
until asked, snippets that carry the real URL and token, and the latest gateway requests."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pytestqt.qtbot import QtBot

from steward.config import Settings
from steward.engine.events import Completed, RequestStarted
from steward.gui.pages.gateway import GatewayPage
from steward.service.hosting import GatewayStatus
from tests.gui.conftest import AppHarness, llama_settings, wait_until
from tests.support.llama import LlamaServer, free_port


def test_status_token_snippets_and_recent_requests(
    harness_factory: Callable[..., AppHarness], qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_GATEWAY_TOKEN", "stw-test-token-123")
    h = harness_factory(
        Settings.model_validate({"embedded": {"enabled": False}, "discovery": {"ports": [9]}})
    )
    page = h.window.pages["gateway"]
    assert isinstance(page, GatewayPage)
    h.window.show_page("gateway")
    h.bridge.gateway.refresh_gateway()
    wait_until(h.loop, lambda: page.status is not None)
    # No gateway is hosted by the test harness: enabled in settings, not running.
    assert page.enabled.isChecked() and "starting" in page.state.text()
    assert page.token_field.echoMode() == page.token_field.EchoMode.Password
    assert page.token_field.text() == "stw-test-token-123"
    assert "environment" in page.token_where.text()
    assert "«token»" in page.snippet.toPlainText() and "stw-test" not in page.snippet.toPlainText()
    page.show_token.click()
    assert "Authorization: Bearer stw-test-token-123" in page.snippet.toPlainText()
    assert "http://127.0.0.1:11480/v1/chat/completions" in page.snippet.toPlainText()

    page.show_status(GatewayStatus(True, False, "http://127.0.0.1:11480", "cannot listen: in use"), "t")
    assert "not running: cannot listen: in use" in page.state.text()

    service = h.bridge.service
    assert service is not None
    recent = service.recent_gateway
    recent(
        RequestStarted(
            1.0, "g1", "sequential", ("a/m",), "auto", source="gateway", client="curl/8", asked="auto"
        )
    )
    recent(Completed(2.0, "g1", "a/m", "hi", None, None, 0.1, 1.0, 1))
    page.refresh_requests()
    assert page.table.rowCount() == 1
    cells = [page.table.item(0, c).text() for c in range(page.table.columnCount())]
    assert cells[1:] == ["curl/8", "auto", "a/m", "1.00", "answered"]


def test_the_app_serves_the_gateway_and_lists_a_real_request_through_it(
    harness_factory: Callable[..., AppHarness], llama_small: LlamaServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STEWARD_GATEWAY_TOKEN", "stw-app-token-456")
    settings = llama_settings(("small", llama_small.url)).with_changes("gateway.port", free_port())
    h = harness_factory(settings, gateway=True)
    page = h.window.pages["gateway"]
    assert isinstance(page, GatewayPage)
    h.window.show_page("gateway")
    h.bridge.gateway.refresh_gateway()
    wait_until(h.loop, lambda: page.status is not None and page.status.running)
    url = page.status.url if page.status else ""
    assert "● running at" in page.state.text() and url in page.state.text()

    async def ask() -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(
                f"{url}/v1/chat/completions",
                headers={"Authorization": "Bearer stw-app-token-456", "User-Agent": "gui-test/1"},
                json={"model": "auto", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8},
            )

    task = h.loop.create_task(ask())
    wait_until(h.loop, task.done, timeout=60)
    response = task.result()
    assert response.status_code == 200, response.text
    page.refresh_requests()
    wait_until(h.loop, lambda: (page.refresh_requests(), page.table.rowCount())[1] >= 1)
    assert page.table.item(0, 1).text() == "gui-test/1" and page.table.item(0, 5).text() == "answered"

    page.enabled.click()  # off: the port closes
    wait_until(h.loop, lambda: page.status is not None and not page.status.running)
    assert "off" in page.state.text()
