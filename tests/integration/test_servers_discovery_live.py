"""Discovery against real listeners: a real llama-server, the Ollama fake, a plain web server, nothing."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from tests.support.llama import LlamaServer, free_port
from tests.support.ollama_fake import FakeModel, OllamaFake

from steward.engine.events import EngineEvent
from steward.servers.discovery import LLAMACPP, OLLAMA, discover
from steward.servers.discovery_service import DiscoveryService
from steward.servers.events import ServerAppeared, ServerDisappeared


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def plain_http() -> Iterator[int]:
    """A plain `http.server` (directory listing, 404 elsewhere) on a free port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def ollama() -> Iterator[OllamaFake]:
    with OllamaFake([FakeModel("llama3.2:1b"), FakeModel("qwen2.5:0.5b")], version="0.6.5") as fake:
        yield fake


async def test_finds_real_llama_server_and_identifies_it_as_llamacpp(llama_small: LlamaServer) -> None:
    found = await discover([llama_small.port])

    assert len(found) == 1
    server = found[0]
    assert server.kind == LLAMACPP
    assert server.port == llama_small.port
    assert server.base_url == llama_small.url
    assert "n_ctx 1024" in server.detail
    assert any(m.endswith(".gguf") for m in server.models)


async def test_finds_ollama_fake_as_ollama_with_version_and_models(ollama: OllamaFake) -> None:
    found = await discover([ollama.port])

    assert [(s.kind, s.port, s.version) for s in found] == [(OLLAMA, ollama.port, "0.6.5")]
    assert set(found[0].models) == {"llama3.2:1b", "qwen2.5:0.5b"}


async def test_ignores_a_plain_http_server_on_a_probed_port(
    plain_http: int, ollama: OllamaFake, llama_small: LlamaServer
) -> None:
    found = await discover([plain_http, ollama.port, llama_small.port])

    assert plain_http not in [s.port for s in found]
    assert sorted(s.kind for s in found) == [LLAMACPP, OLLAMA]


async def test_completes_in_under_a_second_when_nothing_listens() -> None:
    ports = [free_port() for _ in range(7)]
    started = time.perf_counter()

    found = await discover(ports, timeout_s=1.0)

    assert found == []
    assert time.perf_counter() - started < 1.0


async def test_service_reports_a_server_appearing_and_disappearing() -> None:
    events: list[EngineEvent] = []
    fake = OllamaFake([FakeModel("llama3.2:1b")]).start()
    port = fake.port
    service = DiscoveryService([port], on_event=events.append)
    try:
        first = await service.refresh()
        assert [s.kind for s in first] == [OLLAMA]
    finally:
        fake.stop()

    second = await service.refresh()

    assert second == []
    assert [type(e) for e in events] == [ServerAppeared, ServerDisappeared]
    assert all(getattr(e, "port", None) == port for e in events)
