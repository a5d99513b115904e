"""Load and unload models of a llama-server router for the service (the Models page's actions).

Which action makes sense follows the router's status: Load for an unloaded or failed model
(the router refuses it for one that runs), Unload for a loaded, loading or sleeping one. A load
waits for the router to say "loaded" within `timeouts.model_loading_wait_s`; then the router's
models are read again so the engine (and the page) show the new status at once.
"""

from __future__ import annotations

from steward.backends.llamacpp import LlamaCppBackend
from steward.backends.llamacpp_router import RouterStatus
from steward.engine.core import Engine
from steward.servers.router import change_load


def router_backend(engine: Engine, key: str) -> tuple[LlamaCppBackend | None, str]:
    """The router serving `key` ("server/model") and the model's name; None when not a router."""
    server_id, _, model = key.partition("/")
    backend = next((b for b in engine.backends() if b.server_id == server_id), None)
    if isinstance(backend, LlamaCppBackend) and backend.known_router:
        return backend, model
    return None, model


def router_status(engine: Engine, key: str) -> RouterStatus | None:
    """`key`'s last known router status (from the engine's model info)."""
    state = engine.model(key)
    if state is None or state.info is None:
        return None
    value = state.info.extra.get("router_status")
    if value is None:
        return None
    code = state.info.extra.get("router_exit_code", "")
    return RouterStatus(value, int(code) if code.lstrip("-").isdigit() else None)


def load_actions(engine: Engine, key: str) -> tuple[str | None, str | None] | None:
    """Why Load and why Unload are unavailable for a router's model (None = available), or None
    when `key` is not on a router."""
    backend, _ = router_backend(engine, key)
    if backend is None:
        return None
    status = router_status(engine, key)
    if status is None:
        return "its status is not known yet", "its status is not known yet"
    return (
        None if status.can_load else f"it is {status.words}",
        None if status.can_unload else f"it is {status.words}",
    )


async def router_load(engine: Engine, key: str, load: bool, wait_s: float) -> None:
    """Load (unload) `key` on its router and wait for it; raises ModelOperationError."""
    backend, model = router_backend(engine, key)
    assert backend is not None
    try:
        await change_load(backend, model, load, wait_s=wait_s, on_event=engine.publish)
    finally:
        for info in await backend.list_models():
            engine.add_model(backend.server_id, info)
