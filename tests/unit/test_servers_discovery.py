"""Server identification by endpoint shape, endpoint merging and the discovery service's events.

Servers are FAKE handler functions behind `httpx.MockTransport`, one per port; the real
llama-server and the Ollama fake are covered in tests/integration/test_servers_discovery.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tests.support.fake_clock import FakeClock

from steward.config.app_groups import EndpointConfig
from steward.engine.events import EngineEvent
from steward.servers.discovery import (
    LLAMACPP,
    LMSTUDIO,
    OLLAMA,
    OPENAI,
    VLLM,
    DiscoveredServer,
    KnownServer,
    discover,
    merge_servers,
)
from steward.servers.discovery_service import DiscoveryService
from steward.servers.events import ServerAppeared, ServerDisappeared

Routes = dict[str, tuple[int, Any]]


def routes_handler(routes: Routes) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        status, body = routes.get(request.url.path, (404, "404 page not found"))
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return handle


def by_port(servers: dict[int, Routes]) -> httpx.MockTransport:
    """A fake network: ports in `servers` answer with their routes, all others refuse."""

    def handle(request: httpx.Request) -> httpx.Response:
        routes = servers.get(request.url.port or 80)
        if routes is None:
            raise httpx.ConnectError("connection refused", request=request)
        return routes_handler(routes)(request)

    return httpx.MockTransport(handle)


OLLAMA_ROUTES: Routes = {
    "/": (200, "Ollama is running"),
    "/api/version": (200, {"version": "0.6.5"}),
    "/api/tags": (200, {"models": [{"name": "llama3.2:1b"}]}),
}
LLAMA_ROUTES: Routes = {
    "/health": (200, {"status": "ok"}),
    "/props": (200, {"default_generation_settings": {"n_ctx": 4096}, "build_info": "b5000"}),
    "/v1/models": (200, {"object": "list", "data": [{"id": "smol.gguf"}]}),
}
LLAMA_LOADING: Routes = {
    "/health": (503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
    "/props": (503, {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
}
LMSTUDIO_ROUTES: Routes = {
    "/api/v0/models": (200, {"object": "list", "data": [{"id": "qwen2.5-7b", "max_context_length": 32768}]}),
    "/v1/models": (200, {"object": "list", "data": [{"id": "qwen2.5-7b"}]}),
}
VLLM_ROUTES: Routes = {
    "/health": (200, ""),
    "/v1/models": (200, {"object": "list", "data": [{"id": "mistral-7b", "max_model_len": 32768}]}),
}
OPENAI_ROUTES: Routes = {"/v1/models": (200, {"object": "list", "data": [{"id": "phi-3"}]})}
PLAIN_ROUTES: Routes = {"/": (200, "<html><body>Directory listing</body></html>")}


async def identify_one(routes: Routes) -> list[DiscoveredServer]:
    return await discover([9000], transport=by_port({9000: routes}))


async def test_ollama_is_recognised_by_its_root_text_with_version_and_models() -> None:
    (found,) = await identify_one(OLLAMA_ROUTES)
    assert (found.kind, found.version, found.models) == (OLLAMA, "0.6.5", ("llama3.2:1b",))


async def test_llamacpp_is_recognised_by_health_and_props() -> None:
    (found,) = await identify_one(LLAMA_ROUTES)
    assert (found.kind, found.version, found.models, found.loading) == (
        LLAMACPP,
        "b5000",
        ("smol.gguf",),
        False,
    )
    assert "n_ctx 4096" in found.detail


async def test_llamacpp_still_loading_is_found_and_marked_loading() -> None:
    (found,) = await identify_one(LLAMA_LOADING)
    assert found.kind == LLAMACPP and found.loading


async def test_health_ok_without_llamacpp_props_is_not_taken_for_llamacpp() -> None:
    routes = {"/health": (200, {"status": "ok"}), **OPENAI_ROUTES}
    (found,) = await identify_one(routes)
    assert found.kind == OPENAI


async def test_lmstudio_is_recognised_by_its_rest_api() -> None:
    (found,) = await identify_one(LMSTUDIO_ROUTES)
    assert (found.kind, found.models) == (LMSTUDIO, ("qwen2.5-7b",))


async def test_vllm_is_recognised_by_max_model_len() -> None:
    (found,) = await identify_one(VLLM_ROUTES)
    assert (found.kind, found.models) == (VLLM, ("mistral-7b",))


async def test_other_openai_compatible_servers_are_generic_openai() -> None:
    (found,) = await identify_one(OPENAI_ROUTES)
    assert (found.kind, found.models) == (OPENAI, ("phi-3",))


async def test_plain_web_server_is_ignored() -> None:
    assert await identify_one(PLAIN_ROUTES) == []


async def test_kind_comes_from_endpoints_not_the_port() -> None:
    found = await discover([11434, 8080], transport=by_port({11434: LLAMA_ROUTES, 8080: OLLAMA_ROUTES}))
    assert [(s.port, s.kind) for s in found] == [(8080, OLLAMA), (11434, LLAMACPP)]


def test_configured_endpoints_win_and_get_their_key_and_discovered_ones_follow() -> None:
    configured = [
        EndpointConfig(id="home", kind="ollama", base_url="http://localhost:11434", api_key_ref=None),
        EndpointConfig(
            id="cloud", kind="openai", base_url="https://api.example.com/v1", api_key_ref="cloud-key"
        ),
    ]
    discovered = [
        DiscoveredServer(OLLAMA, "http://127.0.0.1:11434", 11434),
        DiscoveredServer(LLAMACPP, "http://127.0.0.1:8080", 8080),
    ]
    keys = {"cloud-key": "test-key-value"}

    merged = merge_servers(discovered, configured, keys.get)

    assert [(k.id, k.kind, k.source) for k in merged] == [
        ("home", "ollama", "configured"),
        ("cloud", "openai", "configured"),
        ("llamacpp-8080", LLAMACPP, "discovered"),
    ]
    assert merged[0].discovered == discovered[0]
    assert merged[1].api_key == "test-key-value"
    assert "test-key-value" not in repr(merged[1])


async def test_service_emits_appeared_and_disappeared_as_servers_come_and_go(fake_clock: FakeClock) -> None:
    network: dict[int, Routes] = {11434: OLLAMA_ROUTES}
    events: list[EngineEvent] = []
    service = DiscoveryService(
        [11434, 8080], interval_s=30.0, clock=fake_clock, on_event=events.append, transport=by_port(network)
    )
    service.start()
    try:
        await fake_clock.settle()
        assert [type(e) for e in events] == [ServerAppeared]
        network[8080] = LLAMA_ROUTES
        del network[11434]
        await fake_clock.advance(29.0)
        assert service.scans == 1  # not yet time for the next scan
        await fake_clock.advance(1.0)
        await fake_clock.settle()
    finally:
        await service.stop()

    assert service.scans == 2
    assert [(type(e), getattr(e, "port", None)) for e in events] == [
        (ServerAppeared, 11434),
        (ServerDisappeared, 11434),
        (ServerAppeared, 8080),
    ]
    assert [s.kind for s in service.snapshot()] == [LLAMACPP]


async def test_refresh_on_demand_reports_nothing_when_nothing_changed() -> None:
    events: list[EngineEvent] = []
    service = DiscoveryService([1234], on_event=events.append, transport=by_port({1234: LMSTUDIO_ROUTES}))
    await service.refresh()
    await service.refresh()
    assert len(events) == 1 and isinstance(events[0], ServerAppeared) and events[0].kind == LMSTUDIO


def test_managed_servers_come_first_and_hide_their_discovered_twin() -> None:
    managed = [KnownServer("embedded-small", LLAMACPP, "http://127.0.0.1:8080", "managed")]
    discovered = [DiscoveredServer(LLAMACPP, "http://127.0.0.1:8080", 8080)]

    merged = merge_servers(discovered, [], managed=managed)

    assert [(k.id, k.source) for k in merged] == [("embedded-small", "managed")]


async def test_discovery_asks_only_this_computer() -> None:
    """Issue 15 item 6: nothing but loopback is probed unless the user added the address."""
    hosts: set[str] = set()

    def handle(request: httpx.Request) -> httpx.Response:
        hosts.add(request.url.host)
        raise httpx.ConnectError("connection refused", request=request)

    await discover([11434, 8080, 1234, 8000], transport=httpx.MockTransport(handle))
    assert hosts == {"127.0.0.1"}
