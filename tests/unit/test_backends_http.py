"""The pooled per-server connection: timeouts from settings, bearer auth, and the key never leaking."""

from __future__ import annotations

import httpx
import pytest

from steward.backends.factory import make_backend
from steward.backends.http import HttpConnection, PoolSettings
from steward.engine.failures import BackendError, FailureKind
from steward.engine.types import ChatMessage, GenerationParams

SECRET = "sk-local-7f3a9c"


def test_client_timeouts_map_connect_and_stall_settings() -> None:
    conn = HttpConnection(
        "http://127.0.0.1:1/", connect_s=2.5, stall_s=9.0, pool=PoolSettings(write_s=4, pool_s=6)
    )
    timeout = conn.client.timeout
    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (2.5, 9.0, 4, 6)
    assert conn.base_url == "http://127.0.0.1:1"


async def test_bearer_header_is_sent_only_when_a_key_is_given() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={})

    for key in (SECRET, None):
        conn = HttpConnection(
            "http://127.0.0.1:1", api_key=key, connect_s=1, stall_s=1, transport=httpx.MockTransport(handler)
        )
        await conn.request_json("GET", "/v1/models")
        await conn.aclose()
    assert seen == [f"Bearer {SECRET}", None]


def test_key_is_absent_from_repr_and_str_of_connection_and_backend() -> None:
    conn = HttpConnection("http://127.0.0.1:1", api_key=SECRET, connect_s=1, stall_s=1)
    backend = make_backend("openai", "lms", "http://127.0.0.1:1", api_key=SECRET, connect_s=1, stall_s=1)
    for text in (repr(conn), str(conn), repr(backend), str(backend), repr(conn.client.headers)):
        assert SECRET not in text
    assert conn.has_auth and "auth=bearer" in repr(conn)


async def test_error_detail_is_scrubbed_when_a_server_echoes_the_key() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": f"bad key {request.headers['authorization']}"})

    backend = make_backend(
        "openai",
        "lms",
        "http://127.0.0.1:1",
        api_key=SECRET,
        connect_s=1,
        stall_s=1,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(BackendError) as info:
        async for _ in backend.stream_chat("m", [ChatMessage("user", "hi")], GenerationParams()):
            pass
    assert info.value.kind is FailureKind.AUTH
    assert SECRET not in info.value.detail and SECRET not in str(info.value)
    assert "[redacted]" in info.value.detail


async def test_request_json_tolerates_listed_statuses_and_classifies_others() -> None:
    conn = HttpConnection(
        "http://127.0.0.1:1",
        connect_s=1,
        stall_s=1,
        transport=httpx.MockTransport(lambda _r: httpx.Response(501, text="not supported")),
    )
    assert await conn.request_json("GET", "/slots", tolerate=(501,)) is None
    with pytest.raises(BackendError) as info:
        await conn.request_json("GET", "/slots")
    assert info.value.kind is FailureKind.SERVER_ERROR


async def test_request_json_200_with_error_body_raises() -> None:
    conn = HttpConnection(
        "http://127.0.0.1:1",
        connect_s=1,
        stall_s=1,
        transport=httpx.MockTransport(lambda _r: httpx.Response(200, json={"error": "busy"})),
    )
    with pytest.raises(BackendError) as info:
        await conn.request_json("GET", "/v1/models")
    assert info.value.kind is FailureKind.BAD_RESPONSE and info.value.status is None


async def test_real_refused_connection_is_connection_refused() -> None:
    import socket

    with socket.socket() as sock:  # bind then close: nothing listens on this port afterwards
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = HttpConnection(f"http://127.0.0.1:{port}", connect_s=1, stall_s=1)
    with pytest.raises(BackendError) as info:
        await conn.request_json("GET", "/health")
    await conn.aclose()
    assert info.value.kind is FailureKind.CONNECTION_REFUSED
