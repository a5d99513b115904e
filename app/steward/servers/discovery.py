"""Find local model servers by probing loopback ports and recognising each by its endpoints.

A port number says nothing reliable (llama.cpp, LocalAI and others all like 8080), so every
listening port is asked what it is: Ollama's "Ollama is running" root, llama.cpp's `/health`
plus `/props` (a router-mode llama-server says `"role": "router"` there and lists every model
with its status in `/v1/models`), LM Studio's `/api/v0/models`, vLLM's `max_model_len` in `/v1/models`, or any
other OpenAI-compatible `/v1/models` list. Anything else (a plain web server) is ignored.
Probes run concurrently with short timeouts, so a scan where nothing listens is instant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from steward.backends.llamacpp_router import is_router_props, parse_models, status_words

DEFAULT_HOST = "127.0.0.1"
CONNECT_TIMEOUT_S = 0.3

OLLAMA = "ollama"
LLAMACPP = "llamacpp"
LMSTUDIO = "lmstudio"
VLLM = "vllm"
OPENAI = "openai"
"""Kind names; they are the kind names `steward.backends.factory.make_backend` accepts."""


@dataclass(frozen=True)
class DiscoveredServer:
    """A server found listening on a loopback port, identified by what it answers."""

    kind: str
    base_url: str
    port: int
    version: str | None = None
    detail: str = ""
    models: tuple[str, ...] = ()
    loading: bool = False
    router: bool = False
    """A llama-server in router mode: `models` are all it can serve, `statuses` says which run."""
    statuses: tuple[tuple[str, str], ...] = ()
    """(model, status in words) for each model of a router."""


@dataclass(frozen=True)
class _Answer:
    status: int
    text: str
    json: Any


async def _get(client: httpx.AsyncClient, url: str) -> _Answer | None:
    """GET `url`; None when it cannot be reached or does not answer in time."""
    try:
        response = await client.get(url)
    except (httpx.HTTPError, OSError):
        return None
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    return _Answer(response.status_code, response.text, body)


def _model_ids(body: Any) -> tuple[str, ...]:
    """Ids from an OpenAI-style `{"data": [{"id": ...}]}` list (empty when the shape differs)."""
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list):
        return ()
    return tuple(str(m["id"]) for m in data if isinstance(m, Mapping) and "id" in m)


def _is_model_list(answer: _Answer | None) -> bool:
    return (
        answer is not None
        and answer.status == 200
        and isinstance(answer.json, Mapping)
        and isinstance(answer.json.get("data"), list)
    )


def _llamacpp_health(answer: _Answer | None) -> str | None:
    """'ok' / 'loading' when `/health` has llama.cpp's shape, else None."""
    if answer is None or not isinstance(answer.json, Mapping):
        return None
    if answer.status == 200 and answer.json.get("status") == "ok":
        return "ok"
    error = answer.json.get("error")
    if answer.status == 503 and isinstance(error, Mapping) and "loading" in str(error.get("message")).lower():
        return "loading"
    return None


async def _ollama(client: httpx.AsyncClient, base: str, port: int) -> DiscoveredServer:
    version, tags = await asyncio.gather(
        _get(client, f"{base}/api/version"), _get(client, f"{base}/api/tags")
    )
    ver = version.json.get("version") if version and isinstance(version.json, Mapping) else None
    models: tuple[str, ...] = ()
    if tags and isinstance(tags.json, Mapping) and isinstance(tags.json.get("models"), list):
        models = tuple(str(m.get("name")) for m in tags.json["models"] if isinstance(m, Mapping))
    return DiscoveredServer(OLLAMA, base, port, str(ver) if ver else None, "Ollama", models)


async def _llamacpp(
    client: httpx.AsyncClient, base: str, port: int, health: str, models: _Answer | None
) -> DiscoveredServer | None:
    props = await _get(client, f"{base}/props")
    settings = props.json if props and isinstance(props.json, Mapping) else {}
    if health == "ok" and not isinstance(settings.get("default_generation_settings"), Mapping):
        return None  # a /health that says ok is common; /props proves llama.cpp
    if is_router_props(settings):
        listed = parse_models(models.json if models else None)
        count = f"{len(listed)} model" + ("" if len(listed) == 1 else "s")
        states = status_words([m.status for m in listed])
        return DiscoveredServer(
            LLAMACPP,
            base,
            port,
            str(settings["build_info"]) if settings.get("build_info") else None,
            f"llama.cpp router mode, {count}" + (f" ({states})" if states else ""),
            tuple(m.id for m in listed),
            router=True,
            statuses=tuple((m.id, m.status.words) for m in listed),
        )
    generation = settings.get("default_generation_settings") or {}
    n_ctx = generation.get("n_ctx") if isinstance(generation, Mapping) else None
    detail = (
        "llama.cpp"
        + (f", n_ctx {n_ctx}" if n_ctx else "")
        + (", loading model" if health == "loading" else "")
    )
    build = settings.get("build_info")
    return DiscoveredServer(
        LLAMACPP,
        base,
        port,
        str(build) if build else None,
        detail,
        _model_ids(models and models.json),
        loading=health == "loading",
    )


async def identify(client: httpx.AsyncClient, base_url: str, port: int) -> DiscoveredServer | None:
    """What kind of model server answers at `base_url`, or None if it is none we know."""
    base = base_url.rstrip("/")
    root = await _get(client, f"{base}/")
    if root is None:
        return None  # nothing listens (or it does not speak HTTP)
    if root.status == 200 and "ollama is running" in root.text.lower():
        return await _ollama(client, base, port)
    health, lmstudio, openai = await asyncio.gather(
        _get(client, f"{base}/health"),
        _get(client, f"{base}/api/v0/models"),
        _get(client, f"{base}/v1/models"),
    )
    llama_health = _llamacpp_health(health)
    if llama_health is not None:
        found = await _llamacpp(client, base, port, llama_health, openai)
        if found is not None:
            return found
    if _is_model_list(lmstudio):
        assert lmstudio is not None
        return DiscoveredServer(LMSTUDIO, base, port, None, "LM Studio", _model_ids(lmstudio.json))
    if _is_model_list(openai):
        assert openai is not None
        entries = openai.json["data"]
        if any(isinstance(m, Mapping) and "max_model_len" in m for m in entries):
            return DiscoveredServer(VLLM, base, port, None, "vLLM", _model_ids(openai.json))
        return DiscoveredServer(OPENAI, base, port, None, "OpenAI-compatible", _model_ids(openai.json))
    return None


def make_probe_client(
    timeout_s: float = 1.0, transport: httpx.AsyncBaseTransport | None = None, connect_s: float | None = None
) -> httpx.AsyncClient:
    """An httpx client for probing: short connect timeout (loopback answers or refuses at once;
    pass `connect_s` for a server elsewhere), no proxies from the environment."""
    timeout = httpx.Timeout(timeout_s, connect=connect_s or min(CONNECT_TIMEOUT_S, timeout_s))
    return httpx.AsyncClient(timeout=timeout, transport=transport, trust_env=False)


async def discover(
    ports: Iterable[int],
    *,
    host: str = DEFAULT_HOST,
    timeout_s: float = 1.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[DiscoveredServer]:
    """Probe every port of `host` at once; the servers found, in port order.

    Each port gets at most `timeout_s` overall, so one slow listener cannot stall the scan.
    """

    async def one(client: httpx.AsyncClient, port: int) -> DiscoveredServer | None:
        try:
            async with asyncio.timeout(timeout_s):
                return await identify(client, f"http://{host}:{port}", port)
        except TimeoutError:
            return None

    unique = sorted(set(ports))
    async with make_probe_client(timeout_s, transport) as client:
        found = await asyncio.gather(*(one(client, p) for p in unique))
    return [server for server in found if server is not None]


@dataclass(frozen=True)
class KnownServer:
    """A server the engine may use: discovered on loopback or configured by the user.

    `api_key` comes from the keyring for configured endpoints; it is kept out of `repr`.
    """

    id: str
    kind: str
    base_url: str
    source: str  # "managed" | "configured" | "discovered"
    enabled: bool = True
    discovered: DiscoveredServer | None = None
    api_key: str | None = None

    def __repr__(self) -> str:
        key = "set" if self.api_key else "none"
        return f"KnownServer(id={self.id!r}, kind={self.kind!r}, base_url={self.base_url!r}, key={key})"


def _same_endpoint(a: str, b: str) -> bool:
    def norm(url: str) -> str:
        return url.rstrip("/").replace("://localhost", "://127.0.0.1").removesuffix("/v1")

    return norm(a) == norm(b)


class EndpointLike(Protocol):
    """What `merge_servers` reads from a configured endpoint (`steward.config.EndpointConfig` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def api_key_ref(self) -> str | None: ...
    @property
    def enabled(self) -> bool: ...


def merge_servers(
    discovered: Sequence[DiscoveredServer],
    configured: Sequence[EndpointLike],
    key_lookup: Callable[[str], str | None] | None = None,
    managed: Sequence[KnownServer] = (),
) -> list[KnownServer]:
    """Managed servers first, then configured endpoints (their id and kind win over discovery),
    then discovered servers that are neither (a managed server on a probed port is found too).

    `configured` items need `id, kind, base_url, api_key_ref, enabled` (EndpointConfig);
    `key_lookup(ref) -> str | None` reads the API key (e.g. `SecretStore.get`). A discovered
    server gets the id `<kind>-<port>` (e.g. "ollama-11434").
    """
    merged: list[KnownServer] = list(managed)
    for endpoint in configured:
        match = next((d for d in discovered if _same_endpoint(d.base_url, endpoint.base_url)), None)
        ref = endpoint.api_key_ref
        key = key_lookup(ref) if (ref and key_lookup is not None) else None
        merged.append(
            KnownServer(
                endpoint.id, endpoint.kind, endpoint.base_url, "configured", endpoint.enabled, match, key
            )
        )
    for server in discovered:
        if any(_same_endpoint(server.base_url, k.base_url) for k in merged):
            continue
        merged.append(
            KnownServer(
                f"{server.kind}-{server.port}", server.kind, server.base_url, "discovered", True, server
            )
        )
    return merged
