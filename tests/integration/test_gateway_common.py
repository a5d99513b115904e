"""Shared by the gateway's integration tests (no tests here): a service on REAL llama-servers, the
gateway on the test's own loop (port 0), and its token from STEWARD_GATEWAY_TOKEN.

Each test module imports `token_env` (autouse) and uses `serving(...)`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.service import quiet_options

from steward.config import Settings
from steward.gateway import Gateway
from steward.service import StewardService

MODEL = "SmolLM2-135M-Instruct.Q4_1"
TOKEN = "stw-gateway-test-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def token_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("STEWARD_GATEWAY_TOKEN", TOKEN)
    yield


@dataclass
class Running:
    service: StewardService
    gateway: Gateway

    @property
    def url(self) -> str:
        return self.gateway.url

    def client(self, **kw: Any) -> httpx.AsyncClient:
        headers = {**AUTH, **kw.pop("headers", {})}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 60.0), **kw)


def settings_for(endpoints: dict[str, str], **groups: Any) -> Settings:
    """llama-server endpoints by id, plus settings groups (routing, context, gateway, ...)."""
    data: dict[str, Any] = {
        "endpoints": [{"id": sid, "kind": "llamacpp", "base_url": url} for sid, url in endpoints.items()],
        "context": {"max_reply_tokens": 16},
    }
    for group, values in groups.items():
        data[group] = {**data.get(group, {}), **values}
    return Settings.model_validate(data)


@asynccontextmanager
async def serving(tmp_path: Path, settings: Settings, http: str = "auto") -> AsyncIterator[Running]:
    """The service (no store, no discovery, no embedded servers) and its gateway on a free port."""
    options = quiet_options(settings, tmp_path)
    service = await StewardService.start(options)
    gateway = Gateway(service, port=0, http=http)  # type: ignore[arg-type]
    try:
        await gateway.start()
        yield Running(service, gateway)
    finally:
        await gateway.stop()
        await service.stop()


def sse_events(raw: str) -> tuple[list[dict[str, Any]], list[str], bool]:
    """(data objects, comment lines, saw [DONE]) of an SSE body."""
    data, comments, done = [], [], False
    for line in raw.split("\n"):
        if line.startswith("data: "):
            if line == "data: [DONE]":
                done = True
            else:
                data.append(json.loads(line[6:]))
        elif line.startswith(":"):
            comments.append(line[1:].strip())
    return data, comments, done


def delta_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
