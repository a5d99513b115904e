"""A real endpoint meets real attackers on localhost: the token, browser origins and DNS rebinding,
size and count limits, malformed input. Each case gets its status; nothing a client sends crashes
the gateway or changes a setting, and the token never reaches a log line or an event."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_gateway_common import (
    AUTH,
    MODEL,
    TOKEN,
    Running,
    serving,
    settings_for,
    token_env,  # noqa: F401  (autouse fixture)
)
from tests.support.llama import LlamaServer

from steward.engine.events import EngineEvent

HI = [{"role": "user", "content": "Say hi."}]
ALLOWED = "http://localhost:3000"


@pytest.fixture
async def gw(tmp_path: Path, llama_small: LlamaServer) -> AsyncIterator[Running]:
    settings = settings_for(
        {"small": llama_small.url},
        routing={"default_model": f"small/{MODEL}"},
        context={"max_reply_tokens": 4},
        gateway={"max_body_bytes": 4096, "max_messages": 3, "cors_origins": [ALLOWED]},
    )
    async with serving(tmp_path, settings) as running:
        yield running


async def test_listens_on_loopback_by_default(gw: Running) -> None:
    assert gw.gateway.host == "127.0.0.1" and gw.url.startswith("http://127.0.0.1:")


async def test_the_token_is_required_and_checked(gw: Running) -> None:
    async with gw.client(headers={"authorization": ""}) as client:
        none = await client.get("/v1/models")
        wrong = await client.get("/v1/models", headers={"authorization": "Bearer stw-guessed"})
        basic = await client.get("/v1/models", headers={"authorization": f"Basic {TOKEN}"})
        longer = await client.get("/v1/models", headers={"authorization": f"Bearer {TOKEN}x"})
        ollama = await client.post("/api/chat", json={"messages": HI})
        metrics = await client.get("/metrics")
        lower = await client.get("/v1/models", headers={"authorization": f"bearer {TOKEN}"})
    for response in (none, wrong, basic, longer, metrics):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["type"] == "authentication_error"
        assert response.headers["www-authenticate"] == "Bearer"
    assert "required" in none.json()["error"]["message"] and "wrong" in wrong.json()["error"]["message"]
    assert ollama.status_code == 401 and isinstance(ollama.json()["error"], str), "Ollama's error shape"
    assert lower.status_code == 200, "the scheme is case-insensitive"
    assert TOKEN not in none.text + wrong.text + longer.text


async def test_browser_origins_and_dns_rebinding(gw: Running) -> None:
    port = gw.gateway.port
    async with gw.client() as client:
        foreign = await client.get("/v1/models", headers={"origin": "http://evil.example"})
        null = await client.get("/v1/models", headers={"origin": "null"})
        allowed = await client.get("/v1/models", headers={"origin": ALLOWED})
        preflight = await client.options(
            "/v1/chat/completions",
            headers={
                "origin": ALLOWED,
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
                "authorization": "",
            },
        )
        foreign_preflight = await client.options(
            "/v1/chat/completions",
            headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
        )
        rebound = await client.get("/v1/models", headers={"host": f"evil.example:{port}"})
        localhost = await client.get("/v1/models", headers={"host": f"localhost:{port}"})
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "bad_origin"
    assert null.status_code == 403
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == ALLOWED
    assert "x-steward-model" in allowed.headers["access-control-expose-headers"]
    assert (
        preflight.status_code == 200 and "authorization" in preflight.headers["access-control-allow-headers"]
    )
    assert foreign_preflight.status_code == 403
    assert rebound.status_code == 403 and rebound.json()["error"]["code"] == "bad_host"
    assert localhost.status_code == 200


async def test_without_configured_origins_every_browser_request_is_refused(
    tmp_path: Path, llama_small: LlamaServer
) -> None:
    async with serving(tmp_path, settings_for({"small": llama_small.url})) as gw, gw.client() as client:
        response = await client.get("/v1/models", headers={"origin": "http://localhost:3000"})
        plain = await client.get("/v1/models")
    assert response.status_code == 403 and "access-control-allow-origin" not in response.headers
    assert plain.status_code == 200, "tools and scripts send no Origin"


async def chunked(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1000):
        yield data[start : start + 1000]


@pytest.mark.parametrize(
    ("path", "content", "status", "code"),
    [
        ("/v1/chat/completions", b"{", 400, "invalid_json"),
        ("/v1/chat/completions", b'{"messages": "hi"}', 400, None),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": "x"}',
            400,
            None,
        ),
        ("/v1/chat/completions", json.dumps({"messages": HI * 4}).encode(), 400, "too_many_messages"),
        (
            "/v1/chat/completions",
            json.dumps({"messages": HI, "model": "nope/nope"}).encode(),
            404,
            "model_not_found",
        ),
        (
            "/v1/chat/completions",
            json.dumps({"messages": [{"role": "user", "content": " "}]}).encode(),
            400,
            "bad_request",
        ),
        (
            "/v1/chat/completions",
            b'{"messages": [' + b'{"role": "user", "content": "x"},' * 200 + b"1]}",
            413,
            "body_too_large",
        ),
        ("/api/chat", b"[]", 400, None),
        ("/api/chat", json.dumps({"messages": HI, "model": "missing"}).encode(), 404, None),
    ],
)
async def test_bad_input_gets_its_status(
    gw: Running, path: str, content: bytes, status: int, code: str | None
) -> None:
    async with gw.client() as client:
        response = await client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    if path.startswith("/api/"):
        assert isinstance(error, str) and error
    else:
        assert set(error) == {"message", "type", "param", "code"} and error["code"] == code


async def test_body_limit_holds_without_a_content_length(gw: Running) -> None:
    async with gw.client() as client:
        response = await client.post("/v1/chat/completions", content=chunked(b" " * 10_000))
    assert response.status_code == 413


async def test_nothing_a_client_sends_crashes_the_gateway_changes_settings_or_leaks_the_token(
    gw: Running, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    events: list[EngineEvent] = []
    gw.service.subscribe(events.append)
    before = gw.service.settings.model_dump()
    hostile: list[Any] = [
        {"messages": HI, "gateway": {"require_token": False}},
        {"messages": HI, "routing.default_model": "x/y", "settings": {"breaker": {"failure_threshold": 0}}},
        {"messages": [{"role": "system", "content": "\x00\ud800" * 50}, *HI]},
        {"messages": HI, "stop": ["\n"] * 16, "seed": -(2**63) + 1, "temperature": 2, "top_p": 0},
        {"messages": HI, "model": "auto\r\nx-steward-model: forged"},
        {"messages": HI, "model": "../../etc/passwd"},
        {"messages": HI, "stream": True, "stream_options": None, "n": 1},
    ]
    async with gw.client() as client:
        for body in hostile:
            raw = json.dumps(body).encode()  # ASCII escapes: a lone surrogate arrives as JSON sends it
            response = await client.post("/v1/chat/completions", content=raw)
            assert response.status_code in (200, 400, 404), (body, response.text)
        forged = await client.post(
            "/v1/chat/completions",
            json={"messages": HI},
            headers={"x-steward-fallback": "maybe", "x-steward-strategy": "race"},
        )
        assert forged.status_code in (200, 400)
        for path in ("/v1/chat/completions", "/api/chat"):
            assert (await client.post(path, content=b"\xff" * 100)).status_code == 400
        await client.get("/v1/models", headers={"authorization": "Bearer stw-wrong-but-logged?"})
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.gateway.port)
    writer.write(b"NOT HTTP AT ALL\r\n\r\n")
    await writer.drain()
    answer = await reader.read(200)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"", "uvicorn refuses what is not HTTP"
    async with gw.client() as client:
        ok = await client.post("/v1/chat/completions", json={"messages": HI})
        health = await client.get("/health")
    assert ok.status_code == 200 and health.status_code == 200, "still serving"
    assert gw.service.settings.model_dump() == before and not (tmp_path / "settings.toml").exists()
    assert gw.service.settings.gateway.require_token is True
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert TOKEN not in logged and "stw-wrong-but-logged" not in logged
    assert all(TOKEN not in json.dumps(event.payload(), default=str) for event in events)
    assert AUTH["authorization"] not in logged


async def test_no_token_needed_when_the_settings_say_so(tmp_path: Path, llama_small: LlamaServer) -> None:
    settings = settings_for({"small": llama_small.url}, gateway={"require_token": False})
    async with serving(tmp_path, settings) as gw, gw.client(headers={"authorization": ""}) as client:
        assert (await client.get("/v1/models")).status_code == 200


async def test_a_taken_port_is_an_os_error_naming_it(tmp_path: Path, llama_small: LlamaServer) -> None:
    from steward.gateway import Gateway

    async with serving(tmp_path, settings_for({"small": llama_small.url})) as gw:
        second = Gateway(gw.service, port=gw.gateway.port)
        with pytest.raises(OSError) as taken:
            await second.start()
        assert taken.value.strerror and not second.running
