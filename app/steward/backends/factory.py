"""Build the right adapter for a server kind (the only place that maps kind names to classes)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import httpx

from steward.backends.http import HttpConnection, PoolSettings
from steward.backends.llamacpp import LlamaCppBackend
from steward.backends.ollama import OllamaBackend
from steward.backends.openai_compat import OpenAICompatBackend
from steward.engine.backend import Backend
from steward.engine.clock import Clock

# Servers that speak plain OpenAI-compatible HTTP; their names are accepted as aliases of "openai".
OPENAI_ALIASES = frozenset({"openai", "lmstudio", "vllm", "localai", "jan", "textgen", "koboldcpp"})
KINDS = frozenset({"ollama", "llamacpp"}) | OPENAI_ALIASES


def make_backend(
    kind: str,
    server_id: str,
    base_url: str,
    *,
    api_key: str | None,
    connect_s: float,
    stall_s: float,
    aux_s: float | None = None,
    pool: PoolSettings | None = None,
    clock: Clock | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Backend:
    """A backend of `kind` with its own pooled connection to `base_url`.

    Raises ValueError for an unknown kind. `aux_s` bounds each auxiliary call (model list,
    window, token count, probe). `transport` lets tests substitute an `httpx.MockTransport`.
    """
    name = kind.strip().lower()
    if name not in KINDS:
        raise ValueError(f"unknown server kind {kind!r}; expected one of {sorted(KINDS)}")
    http = HttpConnection(
        base_url,
        api_key=api_key,
        connect_s=connect_s,
        stall_s=stall_s,
        aux_s=aux_s,
        pool=pool,
        transport=transport,
    )
    if name == "ollama":
        return OllamaBackend(server_id, http, clock=clock)
    if name == "llamacpp":
        return LlamaCppBackend(server_id, http, clock=clock)
    return OpenAICompatBackend(server_id, http, clock=clock)


@runtime_checkable
class Configurable(Protocol):
    """A backend whose connection timeouts can change while it runs (every backend built here)."""

    def configure(self, *, connect_s: float, stall_s: float, aux_s: float | None) -> None: ...


def configure_backend(backend: Backend, *, connect_s: float, stall_s: float, aux_s: float | None) -> bool:
    """Apply new timeouts to `backend`; False for a backend that cannot change them (test fakes)."""
    if isinstance(backend, Configurable):
        backend.configure(connect_s=connect_s, stall_s=stall_s, aux_s=aux_s)
        return True
    return False
