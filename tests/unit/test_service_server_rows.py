"""Server rows say a server's state in words: why it is unreachable, not a bare "down"."""

from __future__ import annotations

import pytest

from steward.service.server_rows import status_words


@pytest.mark.parametrize(
    ("state", "detail", "said"),
    [
        ("down", "connection_refused: All connection attempts failed", "unreachable: connection refused"),
        ("down", "connect_timeout: no connection in 1 s", "unreachable: connection timed out"),
        ("down", "auth: HTTP 401", "unreachable: API key refused"),
        ("down", "hung: no answer to the health probe in 5 s", "unreachable: no answer to the health probe"),
        ("down", "server_busy: HTTP 503", "unreachable: server busy"),
        ("down", "", "unreachable: no answer"),
        ("up", "HTTP 200", "up"),
        ("loading", "model_loading: HTTP 503", "loading"),
        ("unknown", "", "not checked yet"),
    ],
)
def test_status_words(state: str, detail: str, said: str) -> None:
    assert status_words(state, detail) == said


@pytest.mark.parametrize(
    ("source", "url", "where"),
    [
        ("configured", "http://192.168.1.20:11434", "local network"),
        ("configured", "https://api.example.com/v1", "remote"),
        ("discovered", "http://127.0.0.1:11434", "this computer"),
        ("managed", "—", "this computer"),  # a managed server that has no port yet
    ],
)
def test_a_row_says_where_its_server_is(source: str, url: str, where: str) -> None:
    from steward.service.server_rows import ServerRow

    row = ServerRow(name="s", kind="llamacpp", source=source, url=url, status="up")
    assert row.reach == where
